//! The metastore: the one place that knows which projects, models, datasets, jobs and results
//! exist. A trait, so that the embedded SQLite backend and a server database share every caller.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::Accounts;
use crate::bookkeeping::{ClaimedJob, JobExecution};
use crate::error::StoreResult;
use crate::segments::Segments;
use sextant_api::{
    Dataset, Job, JobKind, JobProgress, JobState, Member, Model, Project, ResultManifest,
    StoredResult,
};

/// What a deleted project leaves to clean up: the models and datasets it had (their contents
/// may now be unused) and the cache keys of results that were removed with it.
#[derive(Clone, Debug, Default)]
pub struct ProjectRemains {
    /// Its models.
    pub models: Vec<Model>,
    /// Its datasets.
    pub datasets: Vec<Dataset>,
    /// Cache keys of its results that no other project's job refers to.
    pub results: Vec<String>,
}

/// Storage of everything but file contents.
#[async_trait]
pub trait Metastore: Accounts + Segments + Send + Sync + 'static {
    /// Answers when the database can be reached.
    async fn check(&self) -> StoreResult<()>;

    /// Creates a project, and gives `owner` (when given) their role on it in the same
    /// transaction; a taken name is a conflict.
    async fn create_project(&self, project: &Project, owner: Option<&Member>) -> StoreResult<()>;
    /// Removes a project with its models, datasets, segments, jobs, roles and the results no other
    /// project's job refers to, unless a job of it has not finished (a conflict). Answers what
    /// was removed, so the caller can delete file contents nothing refers to any more.
    async fn delete_project(&self, name: &str) -> StoreResult<ProjectRemains>;
    /// A project by name.
    async fn project(&self, name: &str) -> StoreResult<Project>;
    /// Every project, by name.
    async fn projects(&self) -> StoreResult<Vec<Project>>;

    /// Registers a model; a taken name is a conflict.
    async fn add_model(&self, model: &Model) -> StoreResult<()>;
    /// A model by name.
    async fn model(&self, project: &str, name: &str) -> StoreResult<Model>;
    /// Every model of a project, by name.
    async fn models(&self, project: &str) -> StoreResult<Vec<Model>>;
    /// Removes a model, unless a job that has not finished reads it (a conflict).
    async fn delete_model(&self, project: &str, name: &str) -> StoreResult<Model>;

    /// Registers a dataset; a taken name is a conflict.
    async fn add_dataset(&self, dataset: &Dataset) -> StoreResult<()>;
    /// A dataset by name.
    async fn dataset(&self, project: &str, name: &str) -> StoreResult<Dataset>;
    /// Every dataset of a project, by name.
    async fn datasets(&self, project: &str) -> StoreResult<Vec<Dataset>>;
    /// Removes a dataset, unless a job that has not finished reads it (a conflict).
    async fn delete_dataset(&self, project: &str, name: &str) -> StoreResult<Dataset>;
    /// Whether any model or dataset still refers to this content.
    async fn content_in_use(&self, sha256: &str) -> StoreResult<bool>;

    /// Records a new job (in whatever state it is given) and returns it as stored: a queued job
    /// follows the oldest identical one (same cache key) that is queued or running, if any.
    async fn create_job(&self, job: &Job) -> StoreResult<Job>;
    /// A job by id.
    async fn job(&self, id: Uuid) -> StoreResult<Job>;
    /// The latest jobs, newest first, of one project or all.
    async fn jobs(&self, project: Option<&str>, limit: u32) -> StoreResult<Vec<Job>>;
    /// The latest jobs, newest first, of the projects named.
    async fn jobs_in(&self, projects: &[String], limit: u32) -> StoreResult<Vec<Job>>;
    /// Succeeded jobs of a kind over a model and dataset, newest first: one per result (the
    /// newest of the jobs sharing a cache key), every result.
    async fn succeeded_jobs(
        &self,
        project: &str,
        kind: JobKind,
        model: &str,
        dataset: &str,
    ) -> StoreResult<Vec<Job>>;
    /// Jobs per state.
    async fn job_counts(&self) -> StoreResult<Vec<(JobState, u64)>>;

    /// The bookkeeping of a job (token, process, lease, heartbeat).
    async fn execution(&self, id: Uuid) -> StoreResult<JobExecution>;
    /// The bookkeeping of every job in the given states.
    async fn executions(&self, states: &[JobState]) -> StoreResult<Vec<JobExecution>>;
    /// Atomically moves the oldest queued job to `starting` for `owner`, with a fresh token and
    /// one more attempt. No two callers ever get the same job.
    async fn claim_next(&self, owner: &str) -> StoreResult<Option<ClaimedJob>>;
    /// Records the analyzer process of a starting job.
    async fn set_pid(&self, id: Uuid, pid: i64) -> StoreResult<()>;
    /// Records progress reported with `token`; moves `starting` to `running`. False when the
    /// token is not the job's current one or the job has finished.
    async fn report_progress(
        &self,
        id: Uuid,
        token: &str,
        progress: &JobProgress,
    ) -> StoreResult<bool>;
    /// Moves a job that has not finished to a final state. False when it had already finished.
    /// Its followers end with it: succeeded (answered from its result) or failed alike; when it
    /// is cancelled, the oldest follower is queued to compute in its place and the rest follow
    /// that one.
    async fn finish(&self, id: Uuid, state: JobState, reason: Option<&str>) -> StoreResult<bool>;
    /// Puts attempt `attempt` of a starting or running job back in the queue after a failure
    /// that may pass, to start no sooner than `at`; `reason` says what failed. False when the job
    /// has moved on (finished, or another attempt).
    async fn retry(
        &self,
        id: Uuid,
        attempt: u32,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Puts a starting or running job back in the queue (its analyzer is gone). With
    /// `silent_since`, only if its last report is older than that (so a job that reported in the
    /// meantime keeps running). False when it was not requeued.
    async fn requeue(&self, id: Uuid, silent_since: Option<DateTime<Utc>>) -> StoreResult<bool>;
    /// Takes over the supervision of a starting or running job whose analyzer still runs (the
    /// same condition on silence as [`Metastore::requeue`]): the lease passes to `owner`, the
    /// attempt and its token stay. False when it was not taken over.
    async fn adopt(
        &self,
        id: Uuid,
        owner: &str,
        silent_since: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;

    /// Stores a result manifest (a second store of the same key keeps the first).
    async fn put_result(&self, manifest: &ResultManifest) -> StoreResult<()>;
    /// The stored result of a cache key.
    async fn result(&self, cache_key: &str) -> StoreResult<Option<StoredResult>>;
}
