//! The scheduler service: jobs (submit, inspect, follow, cancel), the analyzer-facing endpoints
//! (task, progress, result, failure; each needs the job-scoped token), and the loop that launches
//! analyzers.

pub mod analyzers;
pub mod jobs;
pub mod launcher;
pub mod parts;
mod reference;
mod runner;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::{Notify, broadcast, watch};
use uuid::Uuid;

use crate::Deps;
pub use launcher::{
    Analyzer, AnalyzerExit, DockerLauncher, KubernetesLauncher, LaunchRequest, Launcher,
    ProcessLauncher,
};

/// What the scheduler's parts share: change notices for event streams, cancellation switches of
/// running analyzers, and a wake-up for the loop.
pub struct JobHub {
    /// This scheduler instance's id (its lease name).
    pub owner: String,
    changes: broadcast::Sender<Uuid>,
    cancels: Mutex<HashMap<Uuid, watch::Sender<bool>>>,
    wake: Notify,
    /// The last report of each shard of a sharded job.
    shards: Mutex<HashMap<Uuid, Vec<Option<sextant_api::JobProgress>>>>,
}

impl JobHub {
    fn new() -> JobHub {
        JobHub {
            owner: format!("scheduler-{}", Uuid::new_v4().simple()),
            changes: broadcast::channel(1024).0,
            cancels: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            shards: Mutex::new(HashMap::new()),
        }
    }

    /// Tells event streams that a job changed.
    pub fn changed(&self, id: Uuid) {
        let _ = self.changes.send(id);
    }

    /// Change notices.
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.changes.subscribe()
    }

    /// Wakes the loop: a job was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Records a shard's progress; returns the job's (summed over its shards).
    pub fn shard_progress(
        &self,
        id: Uuid,
        part: sextant_api::PartInfo,
        progress: sextant_api::JobProgress,
    ) -> sextant_api::JobProgress {
        let mut shards = self.shards.lock().expect("shard lock");
        let slots = shards.entry(id).or_default();
        if slots.len() != part.count as usize {
            *slots = vec![None; part.count as usize];
        }
        slots[part.index as usize] = Some(progress);
        parts::sum_progress(slots)
    }

    /// Forgets a finished job's shard reports.
    pub fn forget_shards(&self, id: Uuid) {
        self.shards.lock().expect("shard lock").remove(&id);
    }

    /// Stops a job's analyzer if one runs here.
    pub fn cancel(&self, id: Uuid) {
        if let Some(switch) = self.cancels.lock().expect("cancel lock").get(&id) {
            let _ = switch.send(true);
        }
    }
}

/// The scheduler's state for its handlers.
#[derive(Clone)]
pub struct SchedulerState {
    /// Stores and config.
    pub deps: Deps,
    /// Notices and switches.
    pub hub: Arc<JobHub>,
}

/// Starts the scheduler: its routes, and its loop on the current tokio runtime. `server_url` is
/// where analyzers reach this process.
pub fn start_scheduler(deps: Deps, launcher: Arc<dyn Launcher>, server_url: String) -> Router {
    let hub = Arc::new(JobHub::new());
    tokio::spawn(runner::run(deps.clone(), hub.clone(), launcher, server_url));
    let state = SchedulerState { deps, hub };
    Router::new()
        .route(
            "/api/v1/projects/{project}/jobs",
            post(jobs::create_job).get(jobs::list_project_jobs),
        )
        .route("/api/v1/jobs", get(jobs::list_jobs))
        .route(
            "/api/v1/jobs/{id}",
            get(jobs::get_job).delete(jobs::cancel_job),
        )
        .route("/api/v1/jobs/{id}/events", get(jobs::job_events))
        .route("/internal/v1/jobs/{id}/task", get(analyzers::analyzer_task))
        .route(
            "/internal/v1/jobs/{id}/progress",
            post(analyzers::analyzer_progress),
        )
        .route(
            "/internal/v1/jobs/{id}/result",
            post(analyzers::analyzer_result),
        )
        .route(
            "/internal/v1/jobs/{id}/failure",
            post(analyzers::analyzer_failure),
        )
        .with_state(state)
}
