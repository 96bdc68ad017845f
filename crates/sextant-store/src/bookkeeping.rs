//! The scheduler's bookkeeping of a job: what is kept beside the API view of it and never shown.

use chrono::{DateTime, Utc};
use sextant_api::{Job, JobState};
use uuid::Uuid;

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
