//! What the metastore keeps: projects, models, datasets, jobs and results.
//!
//! Persisted JSON documents (`JobSpec`, `ResultManifest`, `AnalyzerTask`) carry a `version` field
//! so that a later release can still read what an earlier one wrote.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a project's model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// A real-valued target.
    Regression,
    /// Two classes, labelled 0 and 1.
    Binary,
    /// `k` classes, labelled 0 … k−1.
    Multiclass,
}

/// Which scale a model's scores are reported on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScoreType {
    /// After the link function (class probabilities, expected values).
    Probability,
    /// The raw margin (log-odds for classifiers).
    Logit,
    /// The model's untransformed output (regression).
    Raw,
}

/// Whether a feature is a number or a category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeatureType {
    /// Numbers.
    Numeric,
    /// Category names or codes.
    Categorical,
}

/// One feature of a project's schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Column name.
    pub name: String,
    /// Numeric or categorical.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// For a categorical feature: the allowed category names, when the schema restricts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

/// The columns a project's data has and what its models predict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSchema {
    /// Model inputs, by column name.
    pub features: Vec<FeatureSpec>,
    /// The label (target) column, when datasets carry one.
    #[serde(default)]
    pub label: Option<String>,
    /// A numeric column identifying each row, copied into results.
    #[serde(default)]
    pub id: Option<String>,
    /// Regression, binary or multiclass.
    pub task: Task,
    /// The scale predictions are reported on.
    pub score_type: ScoreType,
    /// Number of classes of a multiclass task.
    #[serde(default)]
    pub classes: Option<u32>,
}

/// A project: a namespace with a schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// Unique name.
    pub name: String,
    /// Features, label, id, task, score type.
    pub schema: ProjectSchema,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What was learnt about a model file when it was uploaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelSummary {
    /// `xgboost-json` or `lightgbm-text`.
    pub format: String,
    /// The training objective recorded in the file.
    pub objective: String,
    /// The producing library's version.
    pub library_version: String,
    /// Trees in the ensemble.
    pub trees: usize,
    /// Leaves in all trees.
    pub leaves: usize,
    /// Deepest tree.
    pub max_depth: usize,
    /// Model outputs (1, or one per class).
    pub outputs: usize,
    /// The features the model reads, in its order.
    pub features: Vec<String>,
    /// File size in bytes.
    pub size_bytes: u64,
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

/// What a job computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Predictions, and quality metrics when the dataset has labels.
    Predict,
    /// Feature influences (exact Shapley values).
    Influences,
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

/// A job the scheduler has claimed, with what it needs to run and watch it.
#[derive(Clone, Debug)]
pub struct ClaimedJob {
    /// The job.
    pub job: Job,
    /// The job-scoped secret the analyzer presents.
    pub token: String,
}

/// Running bookkeeping of a job that is not part of the API view.
#[derive(Clone, Debug, PartialEq)]
pub struct JobExecution {
    /// Job id.
    pub id: Uuid,
    /// State.
    pub state: JobState,
    /// The current attempt's token.
    pub token: Option<String>,
    /// The analyzer's process id, for the process launcher.
    pub pid: Option<i64>,
    /// The scheduler instance holding it.
    pub lease_owner: Option<String>,
    /// The last progress report.
    pub heartbeat_at: Option<DateTime<Utc>>,
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
