//! A node's attributes by name, with the checks every reader needs: the right kind of value,
//! tensors decoded from whichever field holds their values, and errors that name the node and
//! the attribute.

use super::proto::{AttributeProto, NodeProto, TensorProto};
use crate::ImportError;

/// The attributes of one node.
pub struct Attributes<'a> {
    node: &'a NodeProto,
}

impl<'a> Attributes<'a> {
    /// The attributes of `node`.
    pub fn of(node: &'a NodeProto) -> Attributes<'a> {
        Attributes { node }
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    /// An error about attribute `name` of this node.
    pub fn error(&self, name: &str, message: impl Into<String>) -> ImportError {
        ImportError::field(
            format!("{} attribute {name}", describe(self.node)),
            message.into(),
        )
    }

    /// A list of integers (empty when absent).
    pub fn ints(&self, name: &str) -> &'a [i64] {
        self.get(name).map(|a| a.ints.as_slice()).unwrap_or(&[])
    }

    /// One integer, or `default` when absent.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map(|a| a.i).unwrap_or(default)
    }

    /// A list of strings (empty when absent).
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ImportError> {
        let Some(a) = self.get(name) else {
            return Ok(Vec::new());
        };
        a.strings
            .iter()
            .map(|s| {
                String::from_utf8(s.clone()).map_err(|_| self.error(name, "a value is not UTF-8"))
            })
            .collect()
    }

    /// One string, or `default` when absent.
    pub fn string(&self, name: &str, default: &str) -> Result<String, ImportError> {
        match self.get(name) {
            None => Ok(default.to_string()),
            Some(a) => String::from_utf8(a.s.clone())
                .map_err(|_| self.error(name, "the value is not UTF-8")),
        }
    }

    /// Numbers from `name` (a float list) or, failing that, from `name_as_tensor` (a double
    /// tensor, as the spec allows for every float list); empty when neither is present.
    pub fn numbers(&self, name: &str) -> Result<Vec<f64>, ImportError> {
        if let Some(a) = self.get(name) {
            if let Some(t) = &a.t {
                return tensor_numbers(t).map_err(|m| self.error(name, m));
            }
            return Ok(a.floats.iter().map(|&v| v as f64).collect());
        }
        let tensor_name = format!("{name}_as_tensor");
        match self.get(&tensor_name).and_then(|a| a.t.as_ref()) {
            Some(t) => tensor_numbers(t).map_err(|m| self.error(&tensor_name, m)),
            None => Ok(Vec::new()),
        }
    }
}

/// `TreeEnsembleClassifier 'name'` for messages.
pub fn describe(node: &NodeProto) -> String {
    if node.name.is_empty() {
        format!("node {}", node.op_type)
    } else {
        format!("node {} {:?}", node.op_type, node.name)
    }
}

/// A tensor's values as numbers, from whichever field holds them.
pub fn tensor_numbers(t: &TensorProto) -> Result<Vec<f64>, String> {
    use super::proto::elem;
    if t.data_location == 1 {
        return Err("the values are stored in an external file, which Sextant does not read; save the model with its weights inside (onnx.save_model(..., save_as_external_data=False))".into());
    }
    let declared: i64 = t
        .dims
        .iter()
        .try_fold(
            1i64,
            |acc, &d| {
                if d < 0 { None } else { acc.checked_mul(d) }
            },
        )
        .ok_or("the tensor's dimensions are negative or too large")?;
    let values: Vec<f64> = match t.data_type {
        elem::FLOAT if !t.raw_data.is_empty() => le_chunks::<4>(&t.raw_data)?
            .map(|b| f32::from_le_bytes(b) as f64)
            .collect(),
        elem::FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
        elem::DOUBLE if !t.raw_data.is_empty() => le_chunks::<8>(&t.raw_data)?
            .map(f64::from_le_bytes)
            .collect(),
        elem::DOUBLE => t.double_data.clone(),
        elem::INT64 if !t.raw_data.is_empty() => le_chunks::<8>(&t.raw_data)?
            .map(|b| i64::from_le_bytes(b) as f64)
            .collect(),
        elem::INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
        // uint8, int8, uint16, int16, int32: raw bytes of their width, or widened into int32_data.
        2 if !t.raw_data.is_empty() => t.raw_data.iter().map(|&b| b as f64).collect(),
        6 if !t.raw_data.is_empty() => le_chunks::<4>(&t.raw_data)?
            .map(|b| i32::from_le_bytes(b) as f64)
            .collect(),
        2..=6 => t.int32_data.iter().map(|&v| v as f64).collect(),
        other => {
            return Err(format!(
                "a tensor of {} where numbers are expected",
                elem::name(other)
            ));
        }
    };
    if values.len() as i64 != declared {
        return Err(format!(
            "the tensor declares {declared} values and holds {}",
            values.len()
        ));
    }
    Ok(values)
}

fn le_chunks<const N: usize>(raw: &[u8]) -> Result<impl Iterator<Item = [u8; N]> + '_, String> {
    if !raw.len().is_multiple_of(N) {
        return Err(format!(
            "raw_data holds {} bytes, not a whole number of {N}-byte values",
            raw.len()
        ));
    }
    Ok(raw
        .chunks_exact(N)
        .map(|c| <[u8; N]>::try_from(c).expect("chunks_exact gives N bytes")))
}
