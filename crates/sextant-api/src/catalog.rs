//! Models and datasets as registered in a project, and where their files live in the artifact
//! store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::InputRef;

/// What was learnt about a model file when it was uploaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelSummary {
    /// `xgboost-json`, `lightgbm-text` or `onnx`.
    pub format: String,
    /// The training objective recorded in the file.
    pub objective: String,
    /// The producing library's version.
    pub library_version: String,
    /// For a tree ensemble: its trees, leaves and depth (the fields stand in this object).
    #[serde(flatten)]
    pub trees: Option<TreeSummary>,
    /// Model outputs (1, or one per class).
    pub outputs: usize,
    /// The features the model reads, in its order.
    pub features: Vec<String>,
    /// File size in bytes.
    pub size_bytes: u64,
    /// For a model without trees (an ONNX graph): about the multiply-adds one row costs, for
    /// cost estimates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_row: Option<f64>,
    /// For a tree ensemble whose file records no node covers (ONNX): path-dependent TreeSHAP
    /// cannot run on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub without_covers: bool,
}

impl ModelSummary {
    /// About the tree-node visits (or their equivalent) one prediction of one row costs: a walk
    /// of every tree to a leaf, or a graph's multiply-adds (ten to a visit).
    pub fn prediction_cost(&self) -> f64 {
        match (self.trees, self.cost_per_row) {
            (Some(t), _) => t.trees.max(1) as f64 * t.max_depth.max(1) as f64,
            (None, Some(c)) => (c / 10.0).max(1.0),
            (None, None) => self.features.len().max(1) as f64,
        }
    }
}

/// The shape of a tree ensemble.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TreeSummary {
    /// Trees in the ensemble.
    pub trees: usize,
    /// Leaves in all trees.
    pub leaves: usize,
    /// Deepest tree.
    pub max_depth: usize,
}

/// A registered model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Model {
    /// The project it belongs to.
    pub project: String,
    /// Its name in the project.
    pub name: String,
    /// sha256 of the file, hex.
    pub sha256: String,
    /// Format, objective, size.
    pub summary: ModelSummary,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
}

/// The part a dataset plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasetRole {
    /// Training data.
    Train,
    /// Held-out evaluation data.
    Test,
    /// Data the model scores in production.
    Production,
    /// Reference rows for interventional influences.
    Background,
    /// Anything else.
    Custom,
}

impl DatasetRole {
    /// The name used in the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetRole::Train => "train",
            DatasetRole::Test => "test",
            DatasetRole::Production => "production",
            DatasetRole::Background => "background",
            DatasetRole::Custom => "custom",
        }
    }
}

/// What was learnt about a dataset when it was uploaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DatasetSummary {
    /// `csv` or `parquet`.
    pub format: String,
    /// Its role.
    pub role: DatasetRole,
    /// Number of rows.
    pub rows: u64,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Whether it carries the project's label column.
    pub has_label: bool,
    /// Every column of the file.
    pub columns: Vec<String>,
}

/// A registered dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Dataset {
    /// The project it belongs to.
    pub project: String,
    /// Its name in the project.
    pub name: String,
    /// sha256 of the stored file, hex.
    pub sha256: String,
    /// Format, role, rows.
    pub summary: DatasetSummary,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
}

impl Dataset {
    /// Where its file lives in the artifact store.
    pub fn artifact_key(&self) -> String {
        dataset_key(&self.sha256, &self.summary.format)
    }

    /// The dataset as a job's input, pinned by content.
    pub fn input_ref(&self) -> InputRef {
        InputRef {
            name: self.name.clone(),
            sha256: self.sha256.clone(),
            key: self.artifact_key(),
            format: None,
        }
    }
}

impl Model {
    /// The model as a job's input, pinned by content, with its file's format.
    pub fn input_ref(&self) -> InputRef {
        InputRef {
            name: self.name.clone(),
            sha256: self.sha256.clone(),
            key: model_key(&self.sha256),
            format: Some(self.summary.format.clone()),
        }
    }
}

/// The artifact key of a model file.
pub fn model_key(sha256: &str) -> String {
    format!("models/{sha256}")
}

/// The artifact key of a dataset file.
pub fn dataset_key(sha256: &str, format: &str) -> String {
    format!("datasets/{sha256}.{format}")
}

/// The artifact prefix of a result.
pub fn result_prefix(cache_key: &str) -> String {
    format!("results/{cache_key}")
}
