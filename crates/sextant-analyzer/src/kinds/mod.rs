//! Job kinds behind one abstraction. Each kind is a module here that implements [`Analysis`]:
//! how its requests are checked, what it costs (for sizing its analyzer), whether it can be
//! sharded, and — with the `compute` feature — how one analyzer computes its part. [`analysis`]
//! is the one place that maps a [`JobKind`] to its implementation: adding a kind is a variant of
//! `JobKind` in `sextant-api`, a module here, and a line there.

mod drift;
mod error_influences;
mod influences;
mod predict;

use sextant_api::{
    CreateJob, DriftReport, Importance, JobKind, JobOptions, JobSpec, Metrics, ModelSummary,
    ProjectSchema,
};

#[cfg(feature = "compute")]
use crate::AnalyzerResult;
#[cfg(feature = "compute")]
use crate::part::{PartInput, PartOutput};

/// What a job costs: the basis of its analyzer's size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    /// Tree-node visits, or their equivalent for other models (a core does about 10⁸ a second).
    pub work: f64,
    /// Bytes of the result table's column buffers.
    pub table_bytes: f64,
}

/// The JSON documents of a result, or of one part of a sharded result, as its manifest lists
/// them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Documents {
    /// Quality metrics (`metrics.json`).
    pub metrics: Option<Metrics>,
    /// Global importance (`importance.json`).
    pub importance: Option<Importance>,
    /// Drift statistics (`drift.json`).
    pub drift: Option<DriftReport>,
}

/// What a cost is estimated from.
#[derive(Clone, Copy, Debug)]
pub struct CostInputs<'a> {
    /// The job.
    pub spec: &'a JobSpec,
    /// Its model.
    pub model: &'a ModelSummary,
    /// Rows it computes.
    pub rows: f64,
    /// Rows of its background dataset, if it has one.
    pub background_rows: Option<u64>,
}

/// One kind of job.
pub trait Analysis: Sync {
    /// Which kind this is.
    fn kind(&self) -> JobKind;

    /// What its results are called, for messages (`predictions`, `influences`).
    fn results_name(&self) -> &'static str;

    /// Checks a request's options against the project and its model, and fills in their
    /// defaults; the error says what is wrong, for a person.
    fn check(
        &self,
        request: &CreateJob,
        schema: &ProjectSchema,
        model: &ModelSummary,
    ) -> Result<JobOptions, String>;

    /// Whether its data must carry the project's labels.
    fn needs_labels(&self) -> bool {
        false
    }

    /// Whether it compares its data with a `reference` dataset (and explains `contributor_rows`
    /// rows of each); the scheduler refuses both on the kinds that do not.
    fn compares_with_reference(&self) -> bool {
        false
    }

    /// Why several analyzers may not share its rows; `None` when they may (each storing a
    /// part).
    fn unsharded_because(&self) -> Option<&'static str>;

    /// Whether several analyzers may share its rows.
    fn shardable(&self) -> bool {
        self.unsharded_because().is_none()
    }

    /// Whether each shard takes a slice of the rows (`true`), or every row of a share of the
    /// columns (`false`: its `compute` reads [`PartInput::shard`] to know which).
    fn shards_rows(&self) -> bool {
        true
    }

    /// The most shards a job of this kind on `model` can use.
    fn most_shards(&self, model: &ModelSummary) -> u32 {
        let _ = model;
        u32::MAX
    }

    /// The options a job of this kind on `model` gets when it names none (`background`:
    /// whether it has a background dataset); a result query that names none means these too.
    fn default_options(&self, background: bool, model: &ModelSummary) -> JobOptions {
        let _ = (background, model);
        JobOptions::default()
    }

    /// What a job of this kind costs.
    fn cost(&self, inputs: &CostInputs) -> Cost;

    /// The documents of a sharded result from its parts' (in row order). Only kinds that shard
    /// are asked.
    fn merge(&self, parts: &[Documents]) -> Result<Documents, String> {
        let _ = parts;
        Err(format!("{} jobs are not sharded", self.kind().as_str()))
    }

    /// Computes one analyzer's part: reads its rows, writes the result table, and returns what
    /// the manifest records.
    #[cfg(feature = "compute")]
    fn compute(&self, part: &PartInput) -> AnalyzerResult<PartOutput>;
}

/// The kinds that shard, by name (`influences`), for messages.
pub fn shardable_kinds() -> Vec<&'static str> {
    JobKind::ALL
        .into_iter()
        .filter(|k| analysis(*k).shardable())
        .map(JobKind::as_str)
        .collect()
}

/// The implementation of a kind: the one registration site.
pub fn analysis(kind: JobKind) -> &'static dyn Analysis {
    match kind {
        JobKind::Predict => &predict::Predict,
        JobKind::Influences => &influences::Influences,
        JobKind::ErrorInfluences => &error_influences::ErrorInfluences,
        JobKind::Drift => &drift::Drift,
    }
}
