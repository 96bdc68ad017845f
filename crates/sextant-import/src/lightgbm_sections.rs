//! The layout of a LightGBM text model: header and tree blocks of `key=value` lines, the
//! `end of trees` marker, and the parameters and `pandas_categorical` that follow it.

use std::collections::HashMap;

use crate::error::ImportError;

/// `key=value` lines of one block, with their line numbers.
pub(crate) struct Block<'a> {
    pub(crate) entries: HashMap<&'a str, (usize, &'a str)>,
    pub(crate) flags: Vec<&'a str>,
    pub(crate) first_line: usize,
    pub(crate) name: String,
}

impl<'a> Block<'a> {
    pub(crate) fn new(first_line: usize, name: String) -> Block<'a> {
        Block {
            entries: HashMap::new(),
            flags: Vec::new(),
            first_line,
            name,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<(usize, &'a str)> {
        self.entries.get(key).copied()
    }

    pub(crate) fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    pub(crate) fn missing(&self, key: &str) -> ImportError {
        ImportError::Line {
            line: self.first_line,
            message: format!("{}: {key}= is missing", self.name),
        }
    }

    pub(crate) fn err(&self, key: &str, message: String) -> ImportError {
        let line = self.get(key).map_or(self.first_line, |(l, _)| l);
        ImportError::Line {
            line,
            message: format!("{}: {key}: {message}", self.name),
        }
    }

    pub(crate) fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ImportError> {
        let Some((line, v)) = self.get(key) else {
            return Ok(None);
        };
        v.trim().parse().map(Some).map_err(|_| ImportError::Line {
            line,
            message: format!("{}: {key}={v:?} is not a valid number", self.name),
        })
    }

    /// A whitespace-separated list that must have exactly `len` items.
    pub(crate) fn list<T: std::str::FromStr>(
        &self,
        key: &str,
        len: usize,
    ) -> Result<Vec<T>, ImportError> {
        let (line, v) = self.get(key).ok_or_else(|| self.missing(key))?;
        let mut out = Vec::with_capacity(len.min(v.len() / 2 + 1));
        for (i, item) in v.split_whitespace().enumerate() {
            if i >= len {
                return Err(ImportError::Line {
                    line,
                    message: format!("{}: {key} has more than {len} items", self.name),
                });
            }
            out.push(item.parse().map_err(|_| ImportError::Line {
                line,
                message: format!(
                    "{}: {key} item {i} ({item:?}) is not a valid number",
                    self.name
                ),
            })?);
        }
        if out.len() != len {
            return Err(ImportError::Line {
                line,
                message: format!(
                    "{}: {key} has {} items, expected {len}",
                    self.name,
                    out.len()
                ),
            });
        }
        Ok(out)
    }
}

/// The parts of a LightGBM text model.
pub(crate) struct Sections<'a> {
    pub(crate) header: Block<'a>,
    pub(crate) trees: Vec<Block<'a>>,
    pub(crate) categorical_parameter: Option<(usize, &'a str)>,
    pub(crate) pandas_categorical: Option<Vec<Vec<String>>>,
}

impl<'a> Sections<'a> {
    pub(crate) fn split(text: &'a str) -> Result<Sections<'a>, ImportError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        match lines.next() {
            Some((_, "tree")) => {}
            _ => {
                return Err(ImportError::Line {
                    line: 1,
                    message: "a LightGBM text model starts with the line \"tree\"".into(),
                });
            }
        }
        let mut header = Block::new(1, "header".into());
        let mut trees: Vec<Block<'a>> = Vec::new();
        let mut categorical_parameter = None;
        let mut pandas_categorical = None;
        let mut in_trees = true;
        let mut ended = false;
        for (n, line) in lines {
            if line.is_empty() {
                continue;
            }
            if line == "end of trees" {
                in_trees = false;
                ended = true;
                continue;
            }
            if !in_trees {
                if let Some(rest) = line.strip_prefix("[categorical_feature:") {
                    categorical_parameter = Some((n, rest.trim_end_matches(']').trim()));
                } else if let Some(rest) = line.strip_prefix("pandas_categorical:") {
                    pandas_categorical = parse_pandas_categorical(rest, n)?;
                }
                continue;
            }
            if let Some(index) = line.strip_prefix("Tree=") {
                let expected = trees.len();
                if index.trim().parse::<usize>().ok() != Some(expected) {
                    return Err(ImportError::Line {
                        line: n,
                        message: format!("expected Tree={expected}, found {line:?}"),
                    });
                }
                trees.push(Block::new(n, format!("tree {expected}")));
                continue;
            }
            let block = trees.last_mut().unwrap_or(&mut header);
            match line.split_once('=') {
                Some((key, value)) => {
                    if block.entries.insert(key, (n, value)).is_some() {
                        return Err(ImportError::Line {
                            line: n,
                            message: format!("{}: {key}= appears twice", block.name),
                        });
                    }
                }
                None => block.flags.push(line),
            }
        }
        if !ended {
            return Err(ImportError::Line {
                line: text.lines().count(),
                message: "the file ends before \"end of trees\" (truncated?)".into(),
            });
        }
        Ok(Sections {
            header,
            trees,
            categorical_parameter,
            pandas_categorical,
        })
    }
}

/// `pandas_categorical:[["a", "b"], [0.0, 1.0]]` (or `null`): one list of category names per
/// categorical column.
fn parse_pandas_categorical(
    json: &str,
    line: usize,
) -> Result<Option<Vec<Vec<String>>>, ImportError> {
    let value: serde_json::Value =
        serde_json::from_str(json.trim()).map_err(|e| ImportError::Line {
            line,
            message: format!("pandas_categorical is not valid JSON: {e}"),
        })?;
    let Some(lists) = value.as_array() else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(lists.len());
    for list in lists {
        let items = list.as_array().ok_or_else(|| ImportError::Line {
            line,
            message: "pandas_categorical must be a list of lists".into(),
        })?;
        out.push(
            items
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        );
    }
    Ok(Some(out))
}
