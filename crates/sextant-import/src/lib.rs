//! Sextant's model importers: XGBoost JSON and LightGBM text into a [`sextant_model::Forest`].
//!
//! Every importer returns a typed [`ImportError`] that says what is wrong and where (a JSON path,
//! a line number, a tree and node) and never panics on any input. Sizes declared inside a file are
//! checked against the data actually present before anything is allocated from them.

mod error;
mod json;
mod lightgbm;
mod lightgbm_sections;
mod xgboost;
mod xgboost_tree;

use std::path::Path;

pub use error::ImportError;
pub use lightgbm::parse_lightgbm;
pub use xgboost::parse_xgboost_json;

use sextant_model::Forest;

/// The model formats Sextant reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// XGBoost `Booster.save_model("m.json")`.
    XgboostJson,
    /// LightGBM `Booster.save_model("m.txt")`.
    LightgbmText,
}

/// Recognises a model format from the first bytes of a file.
pub fn detect_format(bytes: &[u8]) -> Option<ModelFormat> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &bytes[i..])?;
    if start.starts_with(b"{") {
        Some(ModelFormat::XgboostJson)
    } else if start.starts_with(b"tree\n") || start.starts_with(b"tree\r\n") {
        Some(ModelFormat::LightgbmText)
    } else {
        None
    }
}

/// Parses a model held in memory, recognising its format from its content.
pub fn parse_model(bytes: &[u8]) -> Result<Forest, ImportError> {
    match detect_format(bytes) {
        Some(ModelFormat::XgboostJson) => parse_xgboost_json(bytes),
        Some(ModelFormat::LightgbmText) => parse_lightgbm(bytes),
        None => Err(ImportError::UnknownFormat),
    }
}

/// Reads and parses a model file; errors name the file.
pub fn load_model(path: &Path) -> Result<Forest, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_model(&bytes).map_err(|e| e.in_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(
            detect_format(b"  {\"learner\": {}}"),
            Some(ModelFormat::XgboostJson)
        );
        assert_eq!(
            detect_format(b"tree\nversion=v4\n"),
            Some(ModelFormat::LightgbmText)
        );
        assert_eq!(detect_format(b"PAR1...."), None);
        assert_eq!(detect_format(b""), None);
        let err = parse_model(b"f0,f1\n1,2\n").unwrap_err();
        assert!(err.to_string().contains("not a model"), "{err}");
    }
}
