//! Stored results: the manifest that lists a result's files (persisted), and the parts of a
//! sharded job's table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{InfluenceMethod, JobKind};

/// Which slice of a sharded job a part result holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartInfo {
    /// The shard's index, from 0.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
    /// The first row (0-based, in the dataset's order) the part holds.
    pub first_row: u64,
}

/// One part of a result table: rows `first_row .. first_row + rows`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TablePart {
    /// Its artifact key (Parquet).
    pub table: String,
    /// Its first row.
    pub first_row: u64,
    /// Its rows.
    pub rows: u64,
}

/// Figures that check a result's influences add up to the model's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AdditivitySummary {
    /// Rows (times outputs) checked.
    pub checked: u64,
    /// Rows over the tolerance.
    pub failing: u64,
    /// Largest absolute error.
    pub worst_abs: f64,
}

/// The files of a stored result and what they hold (persisted; `version` 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultManifest {
    /// Format version of this document.
    pub version: u32,
    /// Predict or influences.
    pub kind: JobKind,
    /// The cache key it answers.
    pub cache_key: String,
    /// Rows computed.
    pub rows: u64,
    /// The main table (Parquet): `row`, the id column if any, then value columns.
    pub table: String,
    /// Value columns of the table, in order.
    pub columns: Vec<String>,
    /// Metrics (JSON), for a predict job on labelled data.
    #[serde(default)]
    pub metrics: Option<String>,
    /// Global importance (JSON), for an influences job.
    #[serde(default)]
    pub importance: Option<String>,
    /// Drift report (JSON), for a drift job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    /// Influence method, for an influences job.
    #[serde(default)]
    pub method: Option<InfluenceMethod>,
    /// Additivity figures, for an influences job.
    #[serde(default)]
    pub additivity: Option<AdditivitySummary>,
    /// Version of the algorithms that made it.
    pub algorithm_version: String,
    /// Seconds the computation took (the slowest shard's, for a sharded job).
    pub seconds: f64,
    /// For one shard's part of a sharded job: which part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartInfo>,
    /// For a sharded job's merged result: the table's parts in row order (`table` is the
    /// first); empty when the table is one file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<TablePart>,
}

impl ResultManifest {
    /// The table's parts in row order (one part for a table in one file).
    pub fn table_parts(&self) -> Vec<TablePart> {
        if self.parts.is_empty() {
            vec![TablePart {
                table: self.table.clone(),
                first_row: 0,
                rows: self.rows,
            }]
        } else {
            self.parts.clone()
        }
    }
}

/// A stored result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredResult {
    /// What it holds.
    pub manifest: ResultManifest,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}
