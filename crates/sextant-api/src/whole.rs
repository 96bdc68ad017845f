//! Whole numbers in request bodies. JSON Schema counts `3.0` as an integer, so a client that
//! follows the OpenAPI document may send one; these read such a number as the integer it is and
//! refuse a fraction or a number out of range, naming the value.

use serde::{Deserialize, Deserializer};

fn whole<'de, D: Deserializer<'de>>(d: D, max: u64) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let value = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
            .map(|f| f as u64)
    });
    match value {
        Some(v) if v <= max => Ok(Some(v)),
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole number from 0 to {max}, found {number}"
        ))),
    }
}

/// An optional `u32`, given as an integer or as a float with no fraction.
pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d, u64::from(u32::MAX)).map(|v| v.map(|v| v as u32))
}

/// An optional `u64`, given as an integer or as a float with no fraction.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    whole(d, u64::MAX)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::opt_u32")]
        n: Option<u32>,
    }

    fn read(json: &str) -> Result<Option<u32>, String> {
        serde_json::from_str::<Body>(json)
            .map(|b| b.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_floats_read_and_fractions_are_refused() {
        assert_eq!(read(r#"{"n": 3}"#), Ok(Some(3)));
        assert_eq!(read(r#"{"n": 3.0}"#), Ok(Some(3)));
        assert_eq!(read(r#"{}"#), Ok(None));
        assert_eq!(read(r#"{"n": null}"#), Ok(None));
        assert!(read(r#"{"n": 3.5}"#).unwrap_err().contains("found 3.5"));
        assert!(read(r#"{"n": -1}"#).is_err());
        assert!(
            read(r#"{"n": 4294967296}"#)
                .unwrap_err()
                .contains("4294967295")
        );
    }

    #[derive(Deserialize)]
    struct Seed {
        #[serde(default, deserialize_with = "super::opt_u64")]
        seed: Option<u64>,
    }

    #[test]
    fn large_whole_floats_read_exactly() {
        // Below 2^53 every whole number is a float; its ".0" form must read as itself.
        let seed: Seed = serde_json::from_str(r#"{"seed": 1988184330062077.0}"#).unwrap();
        assert_eq!(seed.seed, Some(1_988_184_330_062_077));
    }
}
