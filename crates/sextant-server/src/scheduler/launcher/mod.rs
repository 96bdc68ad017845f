//! Where analyzers run. The [`Launcher`] trait starts one analyzer for one job attempt:
//!
//! - [`ProcessLauncher`]: a child process of the scheduler (one machine, the embedded default);
//! - [`DockerLauncher`]: a sibling container on the Docker Engine, with CPU, memory and process
//!   limits of its own;
//! - [`KubernetesLauncher`]: a `batch/v1` Job on a Kubernetes cluster.
//!
//! Every analyzer runs the same program (`sextant analyzer run`), reaches its inputs and writes
//! its results through the artifact store, and reports to the scheduler over HTTP with a
//! job-scoped token.

mod docker;
mod kubernetes;
mod process;
pub mod sizing;

use async_trait::async_trait;
use sextant_analyzer::Fault;
use sextant_store::JobExecution;
use uuid::Uuid;

pub use docker::DockerLauncher;
pub use kubernetes::KubernetesLauncher;
pub use process::ProcessLauncher;
pub use sizing::Sizing;

/// What a launcher needs to start one analyzer.
#[derive(Clone, Debug)]
pub struct LaunchRequest {
    /// The job.
    pub job_id: Uuid,
    /// The attempt (1 for the first launch).
    pub attempt: u32,
    /// The job-scoped secret the analyzer presents when it reports.
    pub token: String,
    /// Where the analyzer reaches the scheduler.
    pub server_url: String,
    /// Memory limit.
    pub memory_mib: u64,
    /// Compute threads.
    pub threads: usize,
    /// CPU and memory estimated from the job's cost (used where they are requested from a
    /// cluster).
    pub sizing: Sizing,
    /// A fault the analyzer injects (tests of the scheduler).
    pub fault: Option<Fault>,
    /// Variables given to analyzers that do not inherit the scheduler's environment.
    pub environment: Vec<(String, String)>,
}

impl LaunchRequest {
    /// The analyzer's command line after the program's name (`analyzer run --job … --server …
    /// --threads N`), for a container or a pod.
    pub fn analyzer_args(&self, threads: usize) -> Vec<String> {
        let mut args = vec![
            "analyzer".into(),
            "run".into(),
            "--job".into(),
            self.job_id.to_string(),
            "--server".into(),
            self.server_url.clone(),
            "--threads".into(),
            threads.to_string(),
        ];
        if let Some(fault) = self.fault {
            args.extend(["--fault".into(), fault.as_str().into()]);
        }
        args
    }
}

/// How an analyzer ended.
#[derive(Clone, Debug, PartialEq)]
pub enum AnalyzerExit {
    /// Exit code 0.
    Success,
    /// Anything else, with a reason a person can act on.
    Failed(String),
    /// Stopped from outside (its Job deleted), with how.
    Cancelled(String),
}

/// A running analyzer.
#[async_trait]
pub trait Analyzer: Send {
    /// Its process id, when it is a local process.
    fn pid(&self) -> Option<i64> {
        None
    }
    /// Waits for it to end.
    async fn wait(&mut self) -> AnalyzerExit;
    /// Stops it at once.
    async fn kill(&mut self);
    /// Whether it has started running. An analyzer that waits for a place to run (a pod not yet
    /// scheduled) cannot report yet, so the heartbeat timeout only counts once this holds.
    fn running(&self) -> bool {
        true
    }
}

/// Starts analyzers.
#[async_trait]
pub trait Launcher: Send + Sync + 'static {
    /// The launcher's name (`process`, …).
    fn name(&self) -> &'static str;
    /// Starts an analyzer for one job attempt.
    async fn launch(&self, request: &LaunchRequest) -> Result<Box<dyn Analyzer>, String>;
    /// After a restart: makes sure an analyzer left from before is gone, so a job never runs
    /// twice at once.
    async fn stop_leftover(&self, execution: &JobExecution);
    /// Returns once this scheduler may launch analyzers: at once, unless the platform elects
    /// one scheduler among several (Kubernetes: a Lease), in which case it waits to be elected,
    /// then keeps the lease, and stops the process if it ever loses it.
    async fn lead(&self, _identity: &str) -> Result<(), String> {
        Ok(())
    }
    /// The most analyzers this launcher runs for one job (1: it does not shard).
    fn max_shards(&self) -> u32 {
        1
    }
    /// Whether it shards jobs by their cost when the job does not say.
    fn shards_by_cost(&self) -> bool {
        false
    }
    /// After a restart: takes over an analyzer left from before that still runs, when the
    /// launcher can follow it from here (a Kubernetes Job); `None` means stop and requeue.
    async fn adopt(&self, _execution: &JobExecution) -> Option<Box<dyn Analyzer>> {
        None
    }
}

/// How an analyzer ended, as a task of its own finds out (waiting for a container, watching a
/// Job's pods); waiting for it can be interrupted and resumed, as the scheduler's loop does.
pub(crate) struct Outcome {
    exit: tokio::sync::watch::Receiver<Option<AnalyzerExit>>,
    what: &'static str,
}

impl Outcome {
    /// Runs `ending` to its end on a task of its own; `what` names the analyzer in errors.
    pub(crate) fn spawn(
        what: &'static str,
        ending: impl std::future::Future<Output = AnalyzerExit> + Send + 'static,
    ) -> Outcome {
        let (tx, exit) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            let _ = tx.send(Some(ending.await));
        });
        Outcome { exit, what }
    }

    /// Waits for the end.
    pub(crate) async fn wait(&mut self) -> AnalyzerExit {
        match self.exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().expect("waited for Some"),
            Err(_) => AnalyzerExit::Failed(format!("lost track of the analyzer {}", self.what)),
        }
    }
}

/// The last non-empty line of a log file, shortened.
fn last_line(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    last_line_of(&text)
}

/// The last non-empty line of a text, shortened.
fn last_line_of(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    line.chars().take(300).collect()
}
