//! Segments: named filter expressions over a project's datasets, and where a report says which
//! segment it was computed on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A named segment of a project: the rows of any of its datasets where the expression holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Segment {
    /// The project.
    pub project: String,
    /// The segment's name in the project.
    pub name: String,
    /// The filter, e.g. `age >= 30 and region in ("EU", "UK")` (see the API guide's grammar).
    pub expression: String,
    /// The segment group it belongs to, if any.
    #[serde(default)]
    pub group: Option<String>,
    /// Marked as a protected group (for fairness).
    #[serde(default)]
    pub protected: bool,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// Who added it.
    #[serde(default)]
    pub created_by: Option<String>,
}

/// The body of `POST /api/v1/projects/{project}/segments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSegment {
    /// The segment's name (letters, digits, `-`, `_`, `.`; at most 64).
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    pub name: String,
    /// The filter expression (at most 4,096 characters).
    #[schema(max_length = 4096)]
    pub expression: String,
    /// A segment group to file it under (a name like the segment's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    pub group: Option<String>,
    /// Mark it as a protected group.
    #[serde(default)]
    pub protected: bool,
}

/// The segment a report was computed on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SegmentScope {
    /// The stored segment's name; none for an expression given in the query.
    #[serde(default)]
    pub name: Option<String>,
    /// The expression.
    pub expression: String,
    /// Rows of the result in the segment.
    pub rows: u64,
    /// Rows of the result in all.
    pub of_rows: u64,
}
