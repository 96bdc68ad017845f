//! Turning one text cell into a feature value: the rule every reader of data follows (CSV and
//! Parquet files, the Python client's local mode), so that one cell means the same everywhere.

use std::collections::HashMap;

use crate::forest::{Feature, FeatureKind};

/// How the cells of one feature's column are read.
pub struct CellParser {
    categories: Option<HashMap<String, f64>>,
}

impl CellParser {
    /// The parser of `feature`'s cells: numbers for every feature, and category names for a
    /// categorical feature whose model records them.
    pub fn new(feature: &Feature) -> CellParser {
        let categories = match &feature.kind {
            FeatureKind::Categorical {
                categories: Some(names),
            } => Some(
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), i as f64))
                    .collect(),
            ),
            FeatureKind::Categorical { categories: None } => Some(HashMap::new()),
            FeatureKind::Numeric => None,
        };
        CellParser { categories }
    }

    /// Reads a cell: empty or NaN-like text is missing; numbers are numbers; for a categorical
    /// feature, a category name becomes its code.
    pub fn parse(&self, cell: &str) -> Result<f64, String> {
        let cell = cell.trim();
        if is_missing(cell) {
            return Ok(f64::NAN);
        }
        if let Ok(v) = cell.parse::<f64>() {
            return Ok(v);
        }
        match &self.categories {
            None => Err(format!("cannot read {cell:?} as a number")),
            Some(map) if map.is_empty() => Err(format!(
                "{cell:?} is not a category code, and the model records no category names to look it up"
            )),
            Some(map) => map
                .get(cell)
                .copied()
                .ok_or_else(|| unknown_category(cell, map)),
        }
    }
}

/// Whether a cell's text stands for a missing value: empty, or `nan`, `na`, `null`, `none` in
/// any case.
pub fn is_missing(cell: &str) -> bool {
    cell.is_empty()
        || ["nan", "na", "null", "none"]
            .iter()
            .any(|m| cell.eq_ignore_ascii_case(m))
}

fn unknown_category(cell: &str, map: &HashMap<String, f64>) -> String {
    let mut known: Vec<(&String, &f64)> = map.iter().collect();
    known.sort_by(|a, b| a.1.total_cmp(b.1));
    let shown: Vec<String> = known
        .iter()
        .take(6)
        .map(|(n, _)| format!("{n:?}"))
        .collect();
    let more = if known.len() > 6 { ", …" } else { "" };
    format!(
        "{cell:?} is not one of the model's categories ({}{more})",
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_missing_and_categories() {
        let num = CellParser::new(&Feature {
            name: "a".into(),
            kind: FeatureKind::Numeric,
        });
        assert_eq!(num.parse(" 1.5 "), Ok(1.5));
        assert!(num.parse("").unwrap().is_nan() && num.parse("NaN").unwrap().is_nan());
        assert_eq!(
            num.parse("abc"),
            Err("cannot read \"abc\" as a number".into())
        );
        let cat = CellParser::new(&Feature {
            name: "c".into(),
            kind: FeatureKind::Categorical {
                categories: Some(vec!["red".into(), "blue".into()]),
            },
        });
        assert_eq!(cat.parse("blue"), Ok(1.0));
        assert_eq!(cat.parse("3"), Ok(3.0));
        assert!(
            cat.parse("green")
                .unwrap_err()
                .contains("not one of the model's categories (\"red\", \"blue\")")
        );
    }
}
