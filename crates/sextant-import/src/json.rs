//! Reading typed values out of a parsed JSON document, with the path in every error.

use serde_json::Value;

use crate::error::ImportError;

/// A JSON value together with the path that led to it.
#[derive(Clone)]
pub(crate) struct At<'a> {
    pub value: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    pub fn root(value: &'a Value) -> At<'a> {
        At {
            value,
            path: String::new(),
        }
    }

    pub fn path(&self) -> &str {
        if self.path.is_empty() {
            "(document root)"
        } else {
            &self.path
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn err(&self, message: impl Into<String>) -> ImportError {
        ImportError::field(self.path(), message)
    }

    /// The member `key`, which must exist.
    pub fn get(&self, key: &str) -> Result<At<'a>, ImportError> {
        let obj = self
            .value
            .as_object()
            .ok_or_else(|| self.err(format!("expected an object, found {}", kind(self.value))))?;
        let value = obj
            .get(key)
            .ok_or_else(|| ImportError::field(self.child_path(key), "missing"))?;
        Ok(At {
            value,
            path: self.child_path(key),
        })
    }

    /// The member `key` if present and not null.
    pub fn opt(&self, key: &str) -> Option<At<'a>> {
        let value = self.value.as_object()?.get(key)?;
        if value.is_null() {
            return None;
        }
        Some(At {
            value,
            path: self.child_path(key),
        })
    }

    pub fn str(&self) -> Result<&'a str, ImportError> {
        self.value
            .as_str()
            .ok_or_else(|| self.err(format!("expected a string, found {}", kind(self.value))))
    }

    pub fn array(&self) -> Result<&'a [Value], ImportError> {
        self.value
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.err(format!("expected an array, found {}", kind(self.value))))
    }

    /// A whole number stored either as a JSON number or as a string of digits (XGBoost writes
    /// parameters as strings).
    pub fn uint(&self) -> Result<u64, ImportError> {
        match self.value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            self.err(format!(
                "expected a non-negative whole number, found {}",
                short(self.value)
            ))
        })
    }

    /// An array of integers; `len` (if given) must match.
    pub fn ints(&self, len: Option<usize>) -> Result<Vec<i64>, ImportError> {
        let items = self.sized_array(len)?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_i64().ok_or_else(|| {
                    self.err(format!("item {i}: expected an integer, found {}", short(v)))
                })
            })
            .collect()
    }

    /// An array of numbers; `len` (if given) must match.
    pub fn floats(&self, len: Option<usize>) -> Result<Vec<f64>, ImportError> {
        let items = self.sized_array(len)?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_f64().ok_or_else(|| {
                    self.err(format!("item {i}: expected a number, found {}", short(v)))
                })
            })
            .collect()
    }

    /// An array of booleans, written either as `true`/`false` or as 0/1.
    pub fn bools(&self, len: Option<usize>) -> Result<Vec<bool>, ImportError> {
        let items = self.sized_array(len)?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Bool(b) => Ok(*b),
                Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
                Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
                _ => Err(self.err(format!(
                    "item {i}: expected true/false or 0/1, found {}",
                    short(v)
                ))),
            })
            .collect()
    }

    /// An array of strings.
    pub fn strings(&self) -> Result<Vec<String>, ImportError> {
        self.array()?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    self.err(format!("item {i}: expected a string, found {}", short(v)))
                })
            })
            .collect()
    }

    fn sized_array(&self, len: Option<usize>) -> Result<&'a [Value], ImportError> {
        let items = self.array()?;
        if let Some(len) = len
            && items.len() != len
        {
            return Err(self.err(format!("has {} items, expected {len}", items.len())));
        }
        Ok(items)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value itself when it is short, else its kind.
fn short(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => kind(v).to_string(),
        other => {
            let s = other.to_string();
            if s.chars().count() <= 40 {
                s
            } else {
                format!("{}…", s.chars().take(40).collect::<String>())
            }
        }
    }
}
