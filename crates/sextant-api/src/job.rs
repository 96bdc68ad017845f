//! Jobs: what a job computes (its persisted spec), its life and progress, and the request that
//! submits one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// What a job computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Predictions, and quality metrics when the dataset has labels.
    Predict,
    /// Feature influences (exact Shapley values).
    Influences,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 2] = [JobKind::Predict, JobKind::Influences];

    /// The name used in the API, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Predict => "predict",
            JobKind::Influences => "influences",
        }
    }

    /// The kind of a name from [`JobKind::as_str`].
    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The Shapley game an influences job explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InfluenceMethod {
    /// Absent features follow the training cover (TreeSHAP as XGBoost and LightGBM compute it).
    PathDependent,
    /// Absent features take the values of background rows.
    Interventional,
}

impl InfluenceMethod {
    /// The name used in the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            InfluenceMethod::PathDependent => "path-dependent",
            InfluenceMethod::Interventional => "interventional",
        }
    }
}

/// Options of a job; they are part of its cache key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    /// Influence method (influences jobs; default path-dependent, or interventional when a
    /// background dataset is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<InfluenceMethod>,
    /// Only the first N rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Classification threshold for metrics (binary; default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// A model or dataset a job reads, pinned by content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InputRef {
    /// Its name in the project.
    pub name: String,
    /// sha256 of its file.
    pub sha256: String,
    /// Its artifact key.
    pub key: String,
}

/// The resources an analyzer may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resources {
    /// Memory limit in MiB.
    pub memory_mib: u64,
    /// Compute threads.
    pub threads: usize,
    /// Analyzers that share the rows (influences jobs; default: one, or as the launcher sizes
    /// it). Not part of the cache key: any split gives the same result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
}

/// Everything that defines a job's work (persisted; `version` 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobSpec {
    /// Format version of this document.
    pub version: u32,
    /// Predict or influences.
    pub kind: JobKind,
    /// The model.
    pub model: InputRef,
    /// The rows.
    pub dataset: InputRef,
    /// Background rows (interventional influences).
    #[serde(default)]
    pub background: Option<InputRef>,
    /// Method, row limit, threshold.
    pub options: JobOptions,
    /// Memory and threads.
    pub resources: Resources,
}

/// A job's place in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for an analyzer slot.
    Queued,
    /// An analyzer is being launched.
    Starting,
    /// An analyzer is computing.
    Running,
    /// Done; its result is stored.
    Succeeded,
    /// Stopped by an error (see `reason`).
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Starting,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Starting => "starting",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state of a name from [`JobState::as_str`].
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// How far a job has got.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    /// What the analyzer is doing (`loading`, `computing`, `writing`).
    #[serde(default)]
    pub phase: String,
    /// Rows finished.
    pub rows_done: u64,
    /// Rows in all, when known.
    #[serde(default)]
    pub rows_total: Option<u64>,
    /// Percent done, 0–100.
    pub percent: f64,
    /// Estimated seconds left.
    #[serde(default)]
    pub eta_seconds: Option<f64>,
}

/// A job as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    /// Job id.
    pub id: Uuid,
    /// The project.
    pub project: String,
    /// Kind, inputs, options, resources.
    pub spec: JobSpec,
    /// Hash of kind, inputs, options and algorithm version: equal keys share one result.
    pub cache_key: String,
    /// Where it is in its life.
    pub state: JobState,
    /// Why it failed or was cancelled.
    #[serde(default)]
    pub reason: Option<String>,
    /// Rows done, percent, ETA.
    pub progress: JobProgress,
    /// Analyzer launches so far.
    pub attempt: u32,
    /// Whether it was answered from a stored result without computing.
    pub cached: bool,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When an analyzer was first launched for it.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When the current attempt's analyzer first reported (it was running our code).
    #[serde(default)]
    pub running_at: Option<DateTime<Utc>>,
    /// When it reached a final state.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job to run (the body of `POST /api/v1/projects/{project}/jobs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// `predict` or `influences`.
    pub kind: JobKind,
    /// The model's name.
    pub model: String,
    /// The dataset's name.
    pub dataset: String,
    /// Background dataset (interventional influences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// Method, row limit, threshold.
    #[serde(default)]
    pub options: JobOptions,
    /// Memory limit of the analyzer in MiB (default from the server's config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Analyzers that share the rows of an influences job (1–64; default: the launcher decides,
    /// from the job's cost on Kubernetes, one elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
}

/// Listing filters of the jobs listings.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListJobs {
    /// At most this many, newest first (default 50, at most 1000).
    #[serde(default)]
    #[param(minimum = 0)]
    pub limit: Option<u32>,
}
