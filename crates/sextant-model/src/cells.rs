//! Turning one text cell into a feature value: the rule every reader of data follows (CSV and
//! Parquet files, the Python client's local mode), so that one cell means the same everywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::forest::{Feature, FeatureKind};

/// How the cells of one feature's column are read.
pub struct CellParser {
    categories: Option<HashMap<String, f64>>,
    /// Where names the model does not record get codes (drift), instead of being refused.
    new: Option<(Arc<NewCategories>, String)>,
}

/// The first code given to a category name of a feature whose model records no names.
const UNNAMED_FIRST_CODE: f64 = 1_099_511_627_776.0;

/// Category names a model does not record, met while reading data: each gets the next code
/// after the model's own, the same one in every file read with the same book.
#[derive(Debug, Default)]
pub struct NewCategories {
    names: Mutex<HashMap<String, Vec<String>>>,
}

impl NewCategories {
    /// An empty book, to share between readers.
    pub fn new() -> Arc<NewCategories> {
        Arc::new(NewCategories::default())
    }

    /// The code of `name`, a category of `feature` past the model's `known` ones.
    fn code(&self, feature: &str, known: Option<usize>, name: &str) -> f64 {
        let mut names = self.names.lock().expect("category book");
        let list = names.entry(feature.to_string()).or_default();
        let index = match list.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                list.push(name.to_string());
                list.len() - 1
            }
        };
        match known {
            Some(k) => (k + index) as f64,
            None => UNNAMED_FIRST_CODE + index as f64,
        }
    }

    /// The name of a code given to a category of `feature` that the model does not record.
    pub fn name(&self, feature: &str, known: Option<usize>, code: f64) -> Option<String> {
        let first = known.map_or(UNNAMED_FIRST_CODE, |k| k as f64);
        let index = code - first;
        if index < 0.0 || index.fract() != 0.0 {
            return None;
        }
        let names = self.names.lock().expect("category book");
        names.get(feature)?.get(index as usize).cloned()
    }
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
        CellParser {
            categories,
            new: None,
        }
    }

    /// The parser of `feature`'s cells that gives a category name the model does not record
    /// the next code in `book`, rather than refusing it.
    pub fn recording(feature: &Feature, book: &Arc<NewCategories>) -> CellParser {
        let mut parser = CellParser::new(feature);
        if parser.categories.is_some() {
            parser.new = Some((Arc::clone(book), feature.name.clone()));
        }
        parser
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
        if let (Some((book, feature)), Some(map)) = (&self.new, &self.categories) {
            if let Some(code) = map.get(cell) {
                return Ok(*code);
            }
            let known = (!map.is_empty()).then_some(map.len());
            return Ok(book.code(feature, known, cell));
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
