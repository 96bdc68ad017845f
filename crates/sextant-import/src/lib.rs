//! Sextant's model importers: XGBoost JSON and LightGBM text into a [`sextant_model::Model`] (a
//! tree ensemble). A file's format is named ([`ModelFormat::from_name`]) or recognised from its
//! first bytes where that is unambiguous ([`detect_format`]).
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

use sextant_model::Model;

/// The model formats Sextant reads: the one list of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// XGBoost `Booster.save_model("m.json")`.
    XgboostJson,
    /// LightGBM `Booster.save_model("m.txt")`.
    LightgbmText,
}

impl ModelFormat {
    /// Every format.
    pub const ALL: [ModelFormat; 2] = [ModelFormat::XgboostJson, ModelFormat::LightgbmText];

    /// Its name (`xgboost-json`, `lightgbm-text`), as uploads and the CLI give it.
    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::XgboostJson => "xgboost-json",
            ModelFormat::LightgbmText => "lightgbm-text",
        }
    }

    /// The format of a name from [`ModelFormat::name`].
    pub fn from_name(name: &str) -> Result<ModelFormat, ImportError> {
        ModelFormat::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| ImportError::UnknownFormatName(name.to_string()))
    }

    /// Parses a model held in memory in this format.
    pub fn parse(self, bytes: &[u8]) -> Result<Model, ImportError> {
        match self {
            ModelFormat::XgboostJson => parse_xgboost_json(bytes).map(Model::from),
            ModelFormat::LightgbmText => parse_lightgbm(bytes).map(Model::from),
        }
    }
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

/// Parses a model held in memory in `format`, or — when none is given — in the format its
/// content shows.
pub fn parse_model(bytes: &[u8], format: Option<ModelFormat>) -> Result<Model, ImportError> {
    match format.or_else(|| detect_format(bytes)) {
        Some(format) => format.parse(bytes),
        None => Err(ImportError::UnknownFormat),
    }
}

/// Reads and parses a model file in `format`, or in the format its content shows; errors name
/// the file.
pub fn load_model(path: &Path, format: Option<ModelFormat>) -> Result<Model, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_model(&bytes, format).map_err(|e| e.in_file(path))
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
        for format in ModelFormat::ALL {
            assert_eq!(ModelFormat::from_name(format.name()).unwrap(), format);
        }
        let named = ModelFormat::from_name("onnx").unwrap_err();
        assert!(named.to_string().contains("\"onnx\""), "{named}");
        // A named format is used as named: LightGBM text read as XGBoost JSON is refused.
        assert!(parse_model(b"tree\nversion=v4\n", Some(ModelFormat::XgboostJson)).is_err());
        assert_eq!(detect_format(b""), None);
        let err = parse_model(b"f0,f1\n1,2\n", None).unwrap_err();
        assert!(err.to_string().contains("not a model"), "{err}");
    }
}
