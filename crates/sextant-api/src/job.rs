//! Jobs: what a job computes (its persisted spec), its life and progress, and the request that
//! submits one.

use std::collections::BTreeMap;

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
    /// Error influences: sampled Shapley values of each row's loss against its label (which
    /// features drive the errors), interventional against a background dataset.
    #[serde(rename = "error-influences")]
    ErrorInfluences,
    /// Drift of the data and the score between a reference dataset and this one, and the
    /// features that contribute to the change of the mean score.
    Drift,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 4] = [
        JobKind::Predict,
        JobKind::Influences,
        JobKind::ErrorInfluences,
        JobKind::Drift,
    ];

    /// The name used in the API, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Predict => "predict",
            JobKind::Influences => "influences",
            JobKind::ErrorInfluences => "error-influences",
            JobKind::Drift => "drift",
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
    /// Sampled Shapley values of the interventional game, for any model (antithetic permutation
    /// sampling against the background, or exact enumeration for few features), with a standard
    /// error per value.
    Sampled,
}

impl InfluenceMethod {
    /// The name used in the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            InfluenceMethod::PathDependent => "path-dependent",
            InfluenceMethod::Interventional => "interventional",
            InfluenceMethod::Sampled => "sampled",
        }
    }

    /// The method of a name (`path-dependent`, `interventional`, `sampled`).
    pub fn parse(name: &str) -> Option<InfluenceMethod> {
        [
            InfluenceMethod::PathDependent,
            InfluenceMethod::Interventional,
            InfluenceMethod::Sampled,
        ]
        .into_iter()
        .find(|m| m.as_str() == name)
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::opt_u64"
    )]
    #[schema(minimum = 1)]
    pub rows: Option<u64>,
    /// Classification threshold for metrics (binary; default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub threshold: Option<f64>,
    /// Sampled influences: a row is done once every value's standard error is at most this, in
    /// the units of the model's output (default 0.001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0)]
    pub target_stderr: Option<f64>,
    /// Sampled influences: the most model evaluations spent on one row (default 100000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::opt_u64"
    )]
    #[schema(minimum = 1)]
    pub max_evals: Option<u64>,
    /// Error influences: the loss explained (`log_loss`, the default, or `brier` for
    /// classifiers; `squared_error`, the default, or `absolute_error` for regressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<crate::RowLoss>,
    /// Drift: rows of each dataset (a uniform sample, all when fewer) whose influences give the
    /// contributors to the change of the mean score (default 1000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::opt_u64"
    )]
    #[schema(minimum = 1, maximum = 100000)]
    pub contributor_rows: Option<u64>,
    /// Sampled influences: the seed; the same seed gives the same values however the job is
    /// sharded (default 0).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::opt_u64"
    )]
    pub seed: Option<u64>,
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
    /// For a model: its file's format (`xgboost-json`, `lightgbm-text`), so that the analyzer
    /// reads it as it was uploaded. Jobs of release 0.1.0 lack it; their models' formats are
    /// recognised from their content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// The resources an analyzer may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resources {
    /// Memory limit in MiB.
    pub memory_mib: u64,
    /// Compute threads.
    pub threads: usize,
    /// Analyzers that share the job (the rows of influences and error-influences jobs, the
    /// features of a drift job; default: one, or as the launcher sizes it). Not part of the
    /// cache key: any split gives the same result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
}

/// The part a dataset plays in a job.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum InputRole {
    /// The rows the job computes on (every job has them).
    Data,
    /// Rows that stand in for absent features (interventional influences).
    Background,
    /// Rows the data is compared with (drift, stability).
    Reference,
    /// Rows whose paths through the trees give their node covers: path-dependent influences on
    /// a tree ensemble whose file records none (ONNX), from the project's training data.
    Covers,
}

impl InputRole {
    /// The name used in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            InputRole::Data => "data",
            InputRole::Background => "background",
            InputRole::Reference => "reference",
            InputRole::Covers => "covers",
        }
    }
}

/// A job's inputs by role: one or more models, and datasets by the part they play.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobInputs {
    /// The models (the first is the job's model; comparisons name more).
    pub models: Vec<InputRef>,
    /// The datasets, by role; `data` is always there.
    pub datasets: BTreeMap<InputRole, InputRef>,
}

impl JobInputs {
    /// One model on one dataset.
    pub fn new(model: InputRef, data: InputRef) -> JobInputs {
        JobInputs {
            models: vec![model],
            datasets: BTreeMap::from([(InputRole::Data, data)]),
        }
    }

    /// These inputs and a dataset in another role.
    pub fn with(mut self, role: InputRole, dataset: InputRef) -> JobInputs {
        self.datasets.insert(role, dataset);
        self
    }
}

/// The version of [`JobSpec`] documents this release writes. It reads version 1 too (one
/// `model`, one `dataset` and an optional `background`), as the first release wrote them.
pub const JOB_SPEC_VERSION: u32 = 2;

/// Everything that defines a job's work (persisted; `version` 2, and version 1 is read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "StoredJobSpec")]
pub struct JobSpec {
    /// Format version of this document.
    pub version: u32,
    /// What the job computes.
    pub kind: JobKind,
    /// The models and datasets it reads, by role.
    pub inputs: JobInputs,
    /// Method, row limit, threshold.
    pub options: JobOptions,
    /// Memory and threads.
    pub resources: Resources,
}

impl JobSpec {
    /// The job's model (its first).
    pub fn model(&self) -> &InputRef {
        &self.inputs.models[0]
    }

    /// The rows the job computes on.
    pub fn data(&self) -> &InputRef {
        &self.inputs.datasets[&InputRole::Data]
    }

    /// The dataset in a role, if the job has one.
    pub fn dataset(&self, role: InputRole) -> Option<&InputRef> {
        self.inputs.datasets.get(&role)
    }

    /// The background rows of interventional influences.
    pub fn background(&self) -> Option<&InputRef> {
        self.dataset(InputRole::Background)
    }
}

/// A stored job spec of any version, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredJobSpec {
    version: u32,
    kind: JobKind,
    /// Version 2.
    #[serde(default)]
    inputs: Option<JobInputs>,
    /// Version 1.
    #[serde(default)]
    model: Option<InputRef>,
    /// Version 1.
    #[serde(default)]
    dataset: Option<InputRef>,
    /// Version 1.
    #[serde(default)]
    background: Option<InputRef>,
    options: JobOptions,
    resources: Resources,
}

impl TryFrom<StoredJobSpec> for JobSpec {
    type Error = String;

    fn try_from(stored: StoredJobSpec) -> Result<JobSpec, String> {
        let inputs = match (stored.version, stored.inputs) {
            (1, None) => {
                let (Some(model), Some(dataset)) = (stored.model, stored.dataset) else {
                    return Err("a version 1 job spec needs a model and a dataset".into());
                };
                let inputs = JobInputs::new(model, dataset);
                match stored.background {
                    Some(b) => inputs.with(InputRole::Background, b),
                    None => inputs,
                }
            }
            (JOB_SPEC_VERSION, Some(inputs)) => {
                if stored.model.is_some() || stored.dataset.is_some() || stored.background.is_some()
                {
                    return Err("a version 2 job spec names its inputs in \"inputs\" only".into());
                }
                inputs
            }
            (1 | JOB_SPEC_VERSION, _) => {
                return Err(format!(
                    "a version {} job spec has the other version's inputs",
                    stored.version
                ));
            }
            (v, _) => {
                return Err(format!(
                    "job spec version {v} is newer than this release reads ({JOB_SPEC_VERSION})"
                ));
            }
        };
        if inputs.models.is_empty() || !inputs.datasets.contains_key(&InputRole::Data) {
            return Err("a job spec needs at least one model and its data".into());
        }
        Ok(JobSpec {
            version: JOB_SPEC_VERSION,
            kind: stored.kind,
            inputs,
            options: stored.options,
            resources: stored.resources,
        })
    }
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
    /// Whether it was answered from a stored result without computing (or by following an
    /// identical job that computed it).
    pub cached: bool,
    /// The identical job (same cache key) this one follows: submitted while that one was queued
    /// or running, it computes nothing itself and ends with that job's result. Its state and
    /// progress are that job's until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<Uuid>,
    /// When a job queued again after a transient failure may next start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
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
    /// `predict`, `influences`, `error-influences` or `drift`.
    pub kind: JobKind,
    /// The model's name.
    pub model: String,
    /// The dataset's name (for drift, the current dataset).
    pub dataset: String,
    /// Background dataset (interventional influences; for drift, what the contributors'
    /// influences are against, by default rows of the reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// Reference dataset the data is compared with (drift jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Method, row limit, threshold.
    #[serde(default)]
    pub options: JobOptions,
    /// Memory limit of the analyzer in MiB (default from the server's config).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::opt_u64"
    )]
    #[schema(minimum = 64)]
    pub memory_mib: Option<u64>,
    /// Analyzers that share an influences or error-influences job's rows, or a drift job's
    /// features (1–64; default: the launcher decides, from the job's cost on Kubernetes, one
    /// elsewhere).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::opt_u32"
    )]
    #[schema(minimum = 1, maximum = 64)]
    pub shards: Option<u32>,
}

/// The most jobs a listing holds.
pub const MAX_LISTED_JOBS: u32 = 1000;

/// Jobs a listing holds when no limit is given.
pub const DEFAULT_LISTED_JOBS: u32 = 50;

/// Listing filters of the jobs listings.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListJobs {
    /// At most this many, newest first (default 50, at most 1000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str) -> InputRef {
        InputRef {
            name: name.into(),
            sha256: format!("{name}-sha"),
            key: format!("k/{name}"),
            format: None,
        }
    }

    #[test]
    fn version_1_specs_read_as_version_2() {
        let v1 = r#"{"version":1,"kind":"influences","model":{"name":"m","sha256":"m-sha","key":"k/m"},
            "dataset":{"name":"d","sha256":"d-sha","key":"k/d"},"background":{"name":"b","sha256":"b-sha","key":"k/b"},
            "options":{"method":"interventional"},"resources":{"memory_mib":512,"threads":2}}"#;
        let spec: JobSpec = serde_json::from_str(v1).unwrap();
        assert_eq!(spec.version, JOB_SPEC_VERSION);
        assert_eq!(spec.model(), &input("m"));
        assert_eq!(spec.data(), &input("d"));
        assert_eq!(spec.background(), Some(&input("b")));
        let again: JobSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
        let written = serde_json::to_value(&spec).unwrap();
        assert_eq!(written["inputs"]["datasets"]["background"]["name"], "b");
        assert!(written.get("model").is_none());
    }

    #[test]
    fn malformed_specs_are_refused_with_a_reason() {
        let no_data = r#"{"version":2,"kind":"predict","inputs":{"models":[{"name":"m","sha256":"s","key":"k"}],"datasets":{}},
            "options":{},"resources":{"memory_mib":512,"threads":2}}"#;
        let e = serde_json::from_str::<JobSpec>(no_data).unwrap_err();
        assert!(
            e.to_string().contains("at least one model and its data"),
            "{e}"
        );
        let future = r#"{"version":9,"kind":"predict","options":{},"resources":{"memory_mib":512,"threads":2}}"#;
        let e = serde_json::from_str::<JobSpec>(future).unwrap_err();
        assert!(e.to_string().contains("newer than this release"), "{e}");
    }
}
