use sextant_model::ModelError;
use thiserror::Error;

/// Why a model file could not be imported.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The content is neither XGBoost JSON nor LightGBM text.
    #[error(
        "not a model file Sextant can read: expected XGBoost JSON (starts with '{{'), LightGBM text (starts with 'tree') or ONNX (a protobuf ModelProto)"
    )]
    UnknownFormat,
    /// A format name that is not one of Sextant's.
    #[error("unknown model format {0:?} (expected xgboost-json, lightgbm-text or onnx)")]
    UnknownFormatName(String),
    /// The file is not a well-formed ONNX model.
    #[error("{0}")]
    Onnx(String),
    /// The JSON itself is malformed.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser found.
        message: String,
    },
    /// A field is missing or holds the wrong kind of value.
    #[error("{path}: {message}")]
    Field {
        /// Where in the document (a JSON path like `learner.objective.name`, or a LightGBM key).
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A line of a text model is malformed.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The file uses a model feature that Sextant does not support.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The parts parse but do not form a valid ensemble.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An error inside a named file.
    #[error("{path}")]
    InFile {
        /// The file.
        path: String,
        /// The error.
        source: Box<ImportError>,
    },
}

impl ImportError {
    /// Wraps the error with the file it came from.
    pub fn in_file(self, path: &std::path::Path) -> ImportError {
        ImportError::InFile {
            path: path.display().to_string(),
            source: Box::new(self),
        }
    }

    pub(crate) fn field(path: impl Into<String>, message: impl Into<String>) -> ImportError {
        ImportError::Field {
            path: path.into(),
            message: message.into(),
        }
    }
}
