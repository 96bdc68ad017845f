//! The analyzer protocol: what the scheduler tells an analyzer, and what the analyzer reports.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{JobSpec, ProjectSchema};

/// What an analyzer is told to do (sent by the scheduler; `version` 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalyzerTask {
    /// Format version of this document.
    pub version: u32,
    /// Job id.
    pub job_id: Uuid,
    /// The job's spec.
    pub spec: JobSpec,
    /// The project's schema.
    pub schema: ProjectSchema,
    /// The cache key, which names the result's place in the artifact store.
    pub cache_key: String,
    /// The artifact store's URI.
    pub artifacts: String,
    /// How often to report, at the least.
    pub heartbeat_seconds: f64,
    /// Rows in the dataset, so that shards can split them.
    #[serde(default)]
    pub dataset_rows: Option<u64>,
}

/// The scheduler's answer to a progress report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProgressAck {
    /// False when the job was cancelled: the analyzer should stop.
    pub proceed: bool,
}

/// Why an analyzer gave up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailureReport {
    /// The reason, for a person.
    pub reason: String,
    /// Whether the failure may pass (the artifact store or the network failed for a moment), so
    /// that the job is worth another attempt; a failure of the inputs or the computation is not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
}
