//! The one shape of every error answer: `{"error": {"code", "message", "details"}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The JSON body of every error: `{"error": {"code", "message", "details"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code (`not_found`, `invalid_input`, …).
    pub code: String,
    /// What went wrong and what to fix, for a person.
    pub message: String,
    /// Structured specifics (the features that do not match, the limit, …).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}
