//! Sextant's model importers: XGBoost JSON, LightGBM text and ONNX into a [`sextant_model::Model`]. A file's format is named ([`ModelFormat::from_name`]) or recognised from its
//! first bytes where that is unambiguous ([`detect_format`]).
//!
//! Every importer returns a typed [`ImportError`] that says what is wrong and where (a JSON path,
//! a line number, a tree and node) and never panics on any input. Sizes declared inside a file are
//! checked against the data actually present before anything is allocated from them.

mod error;
mod json;
mod lightgbm;
mod lightgbm_sections;
mod onnx;
mod xgboost;
mod xgboost_tree;

use std::path::Path;

pub use error::ImportError;
pub use lightgbm::parse_lightgbm;
pub use onnx::{has_positional_names, name_positional_features, parse_onnx};
pub use xgboost::parse_xgboost_json;

use sextant_model::Model;

/// The model formats Sextant reads: the one list of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// XGBoost `Booster.save_model("m.json")`.
    XgboostJson,
    /// LightGBM `Booster.save_model("m.txt")`.
    LightgbmText,
    /// ONNX (`.onnx`): tree ensembles of the ai.onnx.ml operators, and other graphs.
    Onnx,
}

impl ModelFormat {
    /// Every format.
    pub const ALL: [ModelFormat; 3] = [
        ModelFormat::XgboostJson,
        ModelFormat::LightgbmText,
        ModelFormat::Onnx,
    ];

    /// Its name (`xgboost-json`, `lightgbm-text`), as uploads and the CLI give it.
    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::XgboostJson => "xgboost-json",
            ModelFormat::LightgbmText => "lightgbm-text",
            ModelFormat::Onnx => "onnx",
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
            ModelFormat::Onnx => parse_onnx(bytes),
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
    } else if looks_like_onnx(bytes) {
        Some(ModelFormat::Onnx)
    } else {
        None
    }
}

/// Whether the bytes start as an ONNX `ModelProto` does: field 1 (`ir_version`, a small varint)
/// first, as every exporter writes it.
fn looks_like_onnx(bytes: &[u8]) -> bool {
    matches!(bytes, [0x08, v, ..] if (1..=0x40).contains(v))
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
        let named = ModelFormat::from_name("pmml").unwrap_err();
        assert!(named.to_string().contains("\"pmml\""), "{named}");
        assert_eq!(
            detect_format(b"\x08\x08\x12\x07skl2onnx"),
            Some(ModelFormat::Onnx)
        );
        // A named format is used as named: LightGBM text read as XGBoost JSON is refused.
        assert!(parse_model(b"tree\nversion=v4\n", Some(ModelFormat::XgboostJson)).is_err());
        assert_eq!(detect_format(b""), None);
        let err = parse_model(b"f0,f1\n1,2\n", None).unwrap_err();
        assert!(err.to_string().contains("not a model"), "{err}");
    }
}
