//! Feature groups: a project's named sets of features (the one-hot columns of one variable, or a
//! business grouping) whose influences are reported together.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A named group of a project's features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeatureGroup {
    /// The project.
    pub project: String,
    /// The group's name in the project.
    pub name: String,
    /// Its features, in the order given.
    pub features: Vec<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// Who added it.
    #[serde(default)]
    pub created_by: Option<String>,
}

/// The body of `POST /api/v1/projects/{project}/feature-groups`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFeatureGroup {
    /// The group's name (letters, digits, `-`, `_`, `.`; at most 64).
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    pub name: String,
    /// Its features: at least one, each a feature of the project, none twice.
    #[schema(min_items = 1, max_items = 10000)]
    pub features: Vec<String>,
}

/// One group's importance: its members' influences summed on each row, then averaged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupImportance {
    /// The group's name.
    pub group: String,
    /// Its features.
    pub features: Vec<String>,
    /// Mean of the summed influence (signed), averaged over the outputs.
    pub mean: f64,
    /// Mean |summed influence|, averaged over the outputs.
    pub mean_abs: f64,
    /// Mean |summed influence| per output (multiclass models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_abs_by_class: Option<Vec<f64>>,
}
