//! Following an analyzer Job and its pods to their end, through two watches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, WatchEvent, WatchParams};

use super::delete_job;
use crate::scheduler::launcher::AnalyzerExit;

/// How long a broken watch waits before it starts again, and how many times in a row it may
/// fail to start before the analyzer counts as lost.
const WATCH_RETRY_PAUSE: Duration = Duration::from_secs(1);
const WATCH_RETRIES: u32 = 30;

/// Follows one Job and its pods to their end.
pub(super) struct Follower {
    pub(super) jobs: Api<Job>,
    pub(super) pods: Api<Pod>,
    /// The Job's name.
    pub(super) name: String,
    /// The label selector of its pods.
    pub(super) selector: String,
    pub(super) memory_mib: u64,
    /// Pods that must succeed (an Indexed Job's completions).
    pub(super) shards: u32,
    pub(super) unschedulable_timeout: Duration,
    /// Set once a pod runs.
    pub(super) running: Arc<AtomicBool>,
}

/// What a pod's status says.
#[derive(Debug, PartialEq)]
enum PodView {
    /// Waiting for a node; with the scheduler's message when it found none.
    Pending(Option<String>),
    Running,
    Succeeded,
    Failed(String),
}

/// A change to the Job or to one of its pods.
enum Change {
    Pod(Box<WatchEvent<Pod>>),
    Job(Box<WatchEvent<Job>>),
    /// A watch could not be (re)established for too long.
    Lost(String),
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches `api` with `params` for as long as the receiver lives, resuming each watch from the
/// last version seen (from the current state after a 410 Gone), and sends every event on.
fn watch_into<K>(
    api: Api<K>,
    params: WatchParams,
    what: String,
    wrap: fn(WatchEvent<K>) -> Change,
    tx: tokio::sync::mpsc::UnboundedSender<Change>,
) -> AbortOnDrop
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    AbortOnDrop(tokio::spawn(async move {
        let mut version = "0".to_string();
        let mut failures = 0;
        loop {
            let mut stream = match api.watch(&params, &version).await {
                Ok(stream) => stream.boxed(),
                Err(e) => {
                    failures += 1;
                    if failures > WATCH_RETRIES {
                        let _ = tx.send(Change::Lost(format!("lost the watch on {what}: {e}")));
                        return;
                    }
                    tracing::warn!(%what, error = %e, "cannot watch; retrying");
                    tokio::time::sleep(WATCH_RETRY_PAUSE).await;
                    continue;
                }
            };
            loop {
                match stream.try_next().await {
                    Ok(Some(WatchEvent::Error(e))) => {
                        // 410 Gone: the version is too old; start over from the current state.
                        if e.code == 410 {
                            version = "0".into();
                        }
                        break;
                    }
                    Ok(Some(event)) => {
                        failures = 0;
                        let seen = match &event {
                            WatchEvent::Added(o)
                            | WatchEvent::Modified(o)
                            | WatchEvent::Deleted(o) => o.meta().resource_version.clone(),
                            WatchEvent::Bookmark(mark) => {
                                Some(mark.metadata.resource_version.clone())
                            }
                            WatchEvent::Error(_) => None,
                        };
                        if let Some(v) = seen {
                            version = v;
                        }
                        if tx.send(wrap(event)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(%what, error = %e, "watch broke; watching again");
                        tokio::time::sleep(WATCH_RETRY_PAUSE).await;
                        break;
                    }
                }
            }
        }
    }))
}

impl Follower {
    pub(super) async fn run(self) -> AnalyzerExit {
        let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
        let _pods = watch_into(
            self.pods.clone(),
            WatchParams::default().labels(&self.selector).timeout(290),
            format!("the pods of Job {}", self.name),
            |event| Change::Pod(Box::new(event)),
            tx.clone(),
        );
        let _job = watch_into(
            self.jobs.clone(),
            WatchParams::default()
                .fields(&format!("metadata.name={}", self.name))
                .timeout(290),
            format!("Job {}", self.name),
            |event| Change::Job(Box::new(event)),
            tx,
        );
        // Per pod: when it was first seen unschedulable, with the scheduler's message.
        let mut unschedulable: BTreeMap<String, (Instant, String)> = BTreeMap::new();
        let mut succeeded: BTreeSet<String> = BTreeSet::new();
        loop {
            let oldest = unschedulable
                .values()
                .min_by_key(|(since, _)| *since)
                .cloned();
            let deadline = oldest
                .as_ref()
                .map(|(since, _)| *since + self.unschedulable_timeout);
            let change = tokio::select! {
                change = changes.recv() => change,
                _ = sleep_until(deadline) => {
                    let message = oldest.map(|(_, m)| m).unwrap_or_default();
                    delete_job(&self.jobs, &self.name).await;
                    return AnalyzerExit::Failed(format!(
                        "analyzer pod could not be scheduled for {} s: {message}",
                        self.unschedulable_timeout.as_secs()
                    ));
                }
            };
            let event = match change {
                None => return AnalyzerExit::Failed(format!("lost track of Job {}", self.name)),
                Some(Change::Lost(why)) => return AnalyzerExit::Failed(why),
                Some(Change::Job(event)) => match self.job_event(*event) {
                    Some(exit) => return exit,
                    None => continue,
                },
                Some(Change::Pod(event)) => *event,
            };
            let pod = match event {
                WatchEvent::Added(pod) | WatchEvent::Modified(pod) => pod,
                WatchEvent::Deleted(pod) => match self.view(&pod) {
                    PodView::Succeeded => {
                        succeeded.insert(shard_of(&pod));
                        if succeeded.len() >= self.shards as usize {
                            return AnalyzerExit::Success;
                        }
                        continue;
                    }
                    PodView::Failed(why) => return self.failed(&pod, why).await,
                    _ => {
                        return AnalyzerExit::Cancelled(format!(
                            "the analyzer Job {} was deleted",
                            self.name
                        ));
                    }
                },
                _ => continue,
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            match self.view(&pod) {
                PodView::Pending(None) => {
                    unschedulable.remove(&name);
                }
                PodView::Pending(Some(message)) => {
                    unschedulable.entry(name).or_insert_with(|| {
                        tracing::warn!(k8s_job = %self.name, %message, "analyzer pod is unschedulable");
                        (Instant::now(), message)
                    });
                }
                PodView::Running => {
                    unschedulable.remove(&name);
                    self.running.store(true, Ordering::SeqCst);
                }
                PodView::Succeeded => {
                    unschedulable.remove(&name);
                    succeeded.insert(shard_of(&pod));
                    if succeeded.len() >= self.shards as usize {
                        return AnalyzerExit::Success;
                    }
                }
                PodView::Failed(why) => return self.failed(&pod, why).await,
            }
        }
    }

    /// What a change to the Job itself means: deleted (whatever became of its pods) cancels
    /// the job; complete ends it; failed for a reason of the Job's own (a deadline, say) fails
    /// it. A failed pod is reported by the pod watch with more detail.
    fn job_event(&self, event: WatchEvent<Job>) -> Option<AnalyzerExit> {
        let job = match event {
            WatchEvent::Deleted(_) => {
                return Some(AnalyzerExit::Cancelled(format!(
                    "the analyzer Job {} was deleted",
                    self.name
                )));
            }
            WatchEvent::Added(job) | WatchEvent::Modified(job) => job,
            _ => return None,
        };
        let conditions = job.status.and_then(|s| s.conditions).unwrap_or_default();
        let holds = |kind: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == kind && c.status == "True")
        };
        if holds("Complete").is_some() {
            return Some(AnalyzerExit::Success);
        }
        let failed = holds("Failed")?;
        if failed.reason.as_deref() == Some("BackoffLimitExceeded") {
            // A pod failed: the pod watch says how.
            return None;
        }
        Some(AnalyzerExit::Failed(format!(
            "analyzer Job {} failed: {} {}",
            self.name,
            failed.reason.clone().unwrap_or_default(),
            failed.message.clone().unwrap_or_default()
        )))
    }

    /// A pod failed: for a sharded job, the other shards are stopped (the Job deleted).
    async fn failed(&self, pod: &Pod, why: String) -> AnalyzerExit {
        if self.shards > 1 {
            delete_job(&self.jobs, &self.name).await;
            let why = why.replacen(
                "analyzer",
                &format!("analyzer (shard {})", shard_of(pod)),
                1,
            );
            return AnalyzerExit::Failed(why);
        }
        AnalyzerExit::Failed(why)
    }

    fn view(&self, pod: &Pod) -> PodView {
        let status = pod.status.clone().unwrap_or_default();
        let terminated = status
            .container_statuses
            .as_ref()
            .and_then(|s| s.first())
            .and_then(|s| s.state.as_ref())
            .and_then(|s| s.terminated.clone());
        match status.phase.as_deref() {
            Some("Running") => PodView::Running,
            Some("Succeeded") => PodView::Succeeded,
            Some("Failed") => {
                if let Some(t) = terminated {
                    if t.reason.as_deref() == Some("OOMKilled") {
                        return PodView::Failed(format!(
                            "analyzer exceeded its {} MiB memory limit (out of memory: OOMKilled)",
                            self.memory_mib
                        ));
                    }
                    let message = t
                        .message
                        .map(|m| format!(": {}", m.trim()))
                        .unwrap_or_default();
                    return PodView::Failed(format!(
                        "analyzer exited with code {}{message}",
                        t.exit_code
                    ));
                }
                // Evicted, preempted, deadline: the pod's own reason.
                PodView::Failed(format!(
                    "analyzer pod failed: {} {}",
                    status.reason.unwrap_or_default(),
                    status.message.unwrap_or_default()
                ))
            }
            _ => {
                let unschedulable = status.conditions.unwrap_or_default().into_iter().find(|c| {
                    c.type_ == "PodScheduled"
                        && c.status == "False"
                        && c.reason.as_deref() == Some("Unschedulable")
                });
                PodView::Pending(unschedulable.map(|c| c.message.unwrap_or_default()))
            }
        }
    }
}

/// A pod's shard: its completion index in an Indexed Job, else its name (one pod per job).
fn shard_of(pod: &Pod) -> String {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("batch.kubernetes.io/job-completion-index"))
        .cloned()
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
