//! What can go wrong talking to a server. Messages say what the server said, or why it could
//! not be asked.

use std::path::PathBuf;

use sextant_api::ErrorBody;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection (no server there, or the network failed).
    #[error(
        "cannot reach the Sextant server at {url}: {message} (start one with `sextant serve`, or pass --server URL)"
    )]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server answered with an error in the API's shape.
    #[error("{} (HTTP {status}, {})", body.error.message, body.error.code)]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error body.
        body: ErrorBody,
    },
    /// The server answered with an error not in the API's shape (a proxy, say).
    #[error("the server answered HTTP {status}: {text}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The body, trimmed.
        text: String,
    },
    /// The answer could not be read.
    #[error("cannot read the server's answer: {0}")]
    Read(String),
    /// The answer is not the document expected.
    #[error("the server's answer is not the JSON expected: {0}")]
    Decode(String),
    /// A job's event stream failed.
    #[error("{0}")]
    Stream(String),
    /// A file to upload cannot be read.
    #[error("cannot open {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The client was called wrongly.
    #[error("{0}")]
    Usage(String),
}

/// A request's outcome.
pub type ClientResult<T> = Result<T, ClientError>;

impl ClientError {
    /// Whether the failure may pass on another try: no answer, or the server failed on its
    /// side (HTTP 502, 503, 504).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } | ClientError::Read(_) => true,
            ClientError::Api { status, .. } | ClientError::Http { status, .. } => {
                matches!(status, 502..=504)
            }
            _ => false,
        }
    }

    /// The error of a request that got no answer from `url`.
    pub(crate) fn unreachable(url: &str, e: ureq::Error) -> ClientError {
        ClientError::Unreachable {
            url: url.to_string(),
            message: e.to_string(),
        }
    }

    /// The error of a non-success answer.
    pub fn from_answer(status: u16, body: &str) -> ClientError {
        match serde_json::from_str::<ErrorBody>(body) {
            Ok(body) => ClientError::Api { status, body },
            Err(_) => ClientError::Http {
                status,
                text: body.trim().to_string(),
            },
        }
    }

    /// The HTTP status, for an answer from the server.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's error code (`not_found`, `invalid_input`, …), for an error in the API's shape.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error.code),
            _ => None,
        }
    }
}
