//! The Kubernetes launcher: each analyzer a `batch/v1` Job, created through the Kubernetes API
//! with typed objects. The Job is sized from the job's cost estimate ([`super::sizing`]), runs at
//! a low PriorityClass under a service account with no API rights, as a non-root user with a
//! read-only root filesystem, no privilege escalation and no capabilities; Kubernetes deletes it
//! a while after it finishes. The scheduler follows the Job's pod with a watch: a pod that stays
//! unschedulable fails the job with the scheduler's message (the missing resource), an
//! `OOMKilled` container fails it as out of memory, and a Job deleted by someone else cancels it.
//! After a restart the scheduler adopts Jobs still running, found by label.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, Pod, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretEnvSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use sextant_store::JobExecution;
use uuid::Uuid;

use super::{Analyzer, AnalyzerExit, LaunchRequest, Launcher, Outcome, passed_environment};
use crate::ServerConfig;
use crate::config::KubernetesConfig;

/// The label tying Jobs and pods to a Sextant job.
pub const JOB_LABEL: &str = "sextant.io/job";
/// The label naming the attempt.
pub const ATTEMPT_LABEL: &str = "sextant.io/attempt";
/// The user analyzers run as (the image's `sextant` user).
const ANALYZER_UID: i64 = 10001;

/// Starts analyzers as Kubernetes Jobs.
pub struct KubernetesLauncher {
    client: kube::Client,
    config: KubernetesConfig,
}

impl KubernetesLauncher {
    /// Connects with the in-cluster service account, or the local kubeconfig.
    pub async fn connect(config: &ServerConfig) -> Result<KubernetesLauncher, String> {
        sextant_store::install_crypto();
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("cannot reach the Kubernetes API: {e}"))?;
        Ok(KubernetesLauncher::with_client(
            client,
            config.kubernetes.clone(),
        ))
    }

    /// A launcher over a given client (tests pass one over a mock API server).
    pub fn with_client(client: kube::Client, config: KubernetesConfig) -> KubernetesLauncher {
        KubernetesLauncher { client, config }
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.config.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.config.namespace)
    }

    /// The Job's name: fixed by the job and attempt, so a retried create cannot start twice.
    pub fn job_name(job_id: Uuid, attempt: u32) -> String {
        format!("sextant-analyzer-{job_id}-{attempt}")
    }

    /// The Job that runs one analyzer.
    pub fn job_object(&self, request: &LaunchRequest) -> Job {
        let c = &self.config;
        let sizing = request.sizing;
        let labels = BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "sextant".to_string()),
            (
                "app.kubernetes.io/component".to_string(),
                "analyzer".to_string(),
            ),
            (JOB_LABEL.to_string(), request.job_id.to_string()),
            (ATTEMPT_LABEL.to_string(), request.attempt.to_string()),
        ]);
        let cpu = Quantity(format!("{}m", sizing.cpu_millis));
        let memory = Quantity(format!("{}Mi", sizing.memory_mib));
        // Requests equal limits: the analyzer gets what it was sized for, no more, and the node
        // keeps the services' share.
        let resources = BTreeMap::from([("cpu".to_string(), cpu), ("memory".to_string(), memory)]);
        let threads = (sizing.cpu_millis as usize).div_ceil(1000).max(1);
        let shards = sizing.shards.max(1) as i32;
        let mut env: Vec<EnvVar> = passed_environment()
            .into_iter()
            .filter(|(name, _)| !name.starts_with("AWS_"))
            .map(|(name, value)| EnvVar {
                name,
                value: Some(value),
                ..EnvVar::default()
            })
            .collect();
        env.extend([
            EnvVar {
                name: "SEXTANT_JOB_TOKEN".into(),
                value: Some(request.token.clone()),
                ..EnvVar::default()
            },
            EnvVar {
                name: "MALLOC_ARENA_MAX".into(),
                value: Some("2".into()),
                ..EnvVar::default()
            },
            EnvVar {
                name: "TMPDIR".into(),
                value: Some("/tmp".into()),
                ..EnvVar::default()
            },
        ]);
        let mut args = request.analyzer_args(threads);
        if shards > 1 {
            // Each pod of an Indexed Job learns its shard from JOB_COMPLETION_INDEX.
            args.extend(["--shards".into(), shards.to_string()]);
        }
        let container = Container {
            name: "analyzer".into(),
            image: Some(c.image.clone()),
            args: Some(args),
            env: Some(env),
            env_from: c.env_from_secret.as_ref().map(|secret| {
                vec![EnvFromSource {
                    secret_ref: Some(SecretEnvSource {
                        name: secret.clone(),
                        optional: Some(false),
                    }),
                    ..EnvFromSource::default()
                }]
            }),
            resources: Some(ResourceRequirements {
                requests: Some(resources.clone()),
                limits: Some(resources),
                ..ResourceRequirements::default()
            }),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                run_as_user: Some(ANALYZER_UID),
                run_as_group: Some(ANALYZER_UID),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    ..Capabilities::default()
                }),
                ..SecurityContext::default()
            }),
            volume_mounts: Some(vec![VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..VolumeMount::default()
            }]),
            ..Container::default()
        };
        Job {
            metadata: ObjectMeta {
                name: Some(Self::job_name(request.job_id, request.attempt)),
                namespace: Some(c.namespace.clone()),
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(JobSpec {
                // The scheduler decides about retries; a failed pod is a failed attempt.
                backoff_limit: Some(0),
                // A sharded job is an Indexed Job: one pod per shard, all at once.
                completion_mode: Some(if shards > 1 { "Indexed" } else { "NonIndexed" }.into()),
                completions: Some(shards),
                parallelism: Some(shards),
                ttl_seconds_after_finished: Some(c.ttl_seconds_after_finished),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![container],
                        restart_policy: Some("Never".into()),
                        priority_class_name: Some(c.priority_class.clone()),
                        service_account_name: Some(c.service_account.clone()),
                        automount_service_account_token: Some(false),
                        enable_service_links: Some(false),
                        security_context: Some(PodSecurityContext {
                            run_as_non_root: Some(true),
                            run_as_user: Some(ANALYZER_UID),
                            run_as_group: Some(ANALYZER_UID),
                            fs_group: Some(ANALYZER_UID),
                            seccomp_profile: Some(SeccompProfile {
                                type_: "RuntimeDefault".into(),
                                ..SeccompProfile::default()
                            }),
                            ..PodSecurityContext::default()
                        }),
                        volumes: Some(vec![Volume {
                            name: "tmp".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                // Downloaded inputs and result files: as much as the memory.
                                size_limit: Some(Quantity(format!(
                                    "{}Mi",
                                    sizing.memory_mib.max(1024)
                                ))),
                                ..EmptyDirVolumeSource::default()
                            }),
                            ..Volume::default()
                        }]),
                        ..PodSpec::default()
                    }),
                },
                ..JobSpec::default()
            }),
            ..Job::default()
        }
    }

    /// Starts following the pods of a Job; the analyzer ends when they do.
    fn follow(
        &self,
        name: String,
        job_id: Uuid,
        attempt: u32,
        memory_mib: u64,
        shards: u32,
    ) -> KubeAnalyzer {
        let running = Arc::new(AtomicBool::new(false));
        let follower = Follower {
            jobs: self.jobs(),
            pods: self.pods(),
            name: name.clone(),
            selector: format!("{JOB_LABEL}={job_id},{ATTEMPT_LABEL}={attempt}"),
            memory_mib,
            shards: shards.max(1),
            unschedulable_timeout: Duration::from_secs(self.config.unschedulable_timeout_seconds),
            running: running.clone(),
        };
        KubeAnalyzer {
            jobs: self.jobs(),
            name,
            running,
            outcome: Outcome::spawn("Job", follower.run()),
        }
    }

    /// This job's Jobs, found by label.
    async fn jobs_of(&self, id: Uuid) -> Result<Vec<Job>, kube::Error> {
        let params = ListParams::default().labels(&format!("{JOB_LABEL}={id}"));
        Ok(self.jobs().list(&params).await?.items)
    }
}

#[async_trait]
impl Launcher for KubernetesLauncher {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn max_shards(&self) -> u32 {
        self.config.max_shards
    }

    async fn lead(&self, identity: &str) -> Result<(), String> {
        let lease = Leadership {
            leases: Api::namespaced(self.client.clone(), &self.config.lease_namespace),
            identity: identity.to_string(),
            duration: Duration::from_secs(u64::from(self.config.lease_duration_seconds)),
        };
        lease.acquire().await;
        tokio::spawn(lease.keep());
        Ok(())
    }

    fn shards_by_cost(&self) -> bool {
        true
    }

    async fn launch(&self, request: &LaunchRequest) -> Result<Box<dyn Analyzer>, String> {
        let job = self.job_object(request);
        let name = job.metadata.name.clone().unwrap_or_default();
        self.jobs()
            .create(&PostParams::default(), &job)
            .await
            .map_err(|e| format!("cannot create Job {name}: {e}"))?;
        Ok(Box::new(self.follow(
            name,
            request.job_id,
            request.attempt,
            request.sizing.memory_mib,
            request.sizing.shards,
        )))
    }

    async fn stop_leftover(&self, execution: &JobExecution) {
        let jobs = match self.jobs_of(execution.id).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(job = %execution.id, error = %e, "cannot list analyzer Jobs");
                return;
            }
        };
        for job in jobs {
            if let Some(name) = job.metadata.name {
                tracing::warn!(job = %execution.id, k8s_job = %name, "deleting an analyzer Job left from before a restart");
                delete_job(&self.jobs(), &name).await;
            }
        }
    }

    async fn adopt(&self, execution: &JobExecution) -> Option<Box<dyn Analyzer>> {
        let jobs = self.jobs_of(execution.id).await.ok()?;
        let job = jobs.into_iter().find(|job| {
            let status = job.status.clone().unwrap_or_default();
            status.succeeded.unwrap_or(0) == 0
                && status.failed.unwrap_or(0) == 0
                && job.metadata.deletion_timestamp.is_none()
        })?;
        let name = job.metadata.name.clone()?;
        let labels = job.metadata.labels.clone().unwrap_or_default();
        let attempt: u32 = labels.get(ATTEMPT_LABEL)?.parse().ok()?;
        let memory_mib = job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.resources.as_ref())
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory"))
            .and_then(|q| q.0.strip_suffix("Mi"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let shards = job
            .spec
            .as_ref()
            .and_then(|s| s.completions)
            .unwrap_or(1)
            .max(1) as u32;
        tracing::info!(job = %execution.id, k8s_job = %name, attempt, shards, "adopting a running analyzer Job");
        Some(Box::new(self.follow(
            name,
            execution.id,
            attempt,
            memory_mib,
            shards,
        )))
    }
}

/// The name of the Lease that elects the scheduler.
pub const LEASE_NAME: &str = "sextant-scheduler";

/// One scheduler launches analyzers at a time: the holder of the `sextant-scheduler` Lease
/// (coordination.k8s.io/v1), as Kubernetes controllers elect their leader. The holder renews it
/// every third of its duration; another takes it over once it has gone unrenewed for a whole
/// duration. Updates carry the resource version they read, so two candidates never both win.
struct Leadership {
    leases: Api<Lease>,
    identity: String,
    duration: Duration,
}

impl Leadership {
    /// Waits until this scheduler holds the Lease.
    async fn acquire(&self) {
        let mut waiting_logged = false;
        loop {
            match self.try_acquire().await {
                Ok(true) => {
                    tracing::info!(lease = LEASE_NAME, identity = %self.identity, "this scheduler leads");
                    return;
                }
                Ok(false) => {
                    if !waiting_logged {
                        tracing::info!(lease = LEASE_NAME, "another scheduler leads; waiting");
                        waiting_logged = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = LEASE_NAME, error = %e, "cannot read the scheduler Lease")
                }
            }
            tokio::time::sleep(self.duration / 5).await;
        }
    }

    /// One attempt: creates the Lease, renews our own, or takes over an expired one.
    async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = k8s_openapi::jiff::Timestamp::now();
        let current = match self.leases.get_opt(LEASE_NAME).await? {
            None => {
                let lease = self.lease(None, now, now, 0);
                return match self.leases.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                    Err(e) => Err(e),
                };
            }
            Some(lease) => lease,
        };
        let spec = current.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        let duration = spec
            .lease_duration_seconds
            .map_or(self.duration, |s| Duration::from_secs(s.max(0) as u64));
        let expired = match &spec.renew_time {
            Some(renewed) => {
                let since = now.duration_since(renewed.0);
                since.as_secs_f64() > duration.as_secs_f64()
            }
            None => true,
        };
        if !ours && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquired = if ours {
            spec.acquire_time.map_or(now, |t| t.0)
        } else {
            now
        };
        let lease = self.lease(
            current.metadata.resource_version.clone(),
            acquired,
            now,
            transitions,
        );
        match self
            .leases
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            // Someone else wrote it since we read it.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn lease(
        &self,
        resource_version: Option<String>,
        acquired: k8s_openapi::jiff::Timestamp,
        renewed: k8s_openapi::jiff::Timestamp,
        transitions: i32,
    ) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(LEASE_NAME.into()),
                resource_version,
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/name".to_string(),
                    "sextant".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.identity.clone()),
                lease_duration_seconds: Some(self.duration.as_secs() as i32),
                acquire_time: Some(MicroTime(acquired)),
                renew_time: Some(MicroTime(renewed)),
                lease_transitions: Some(transitions),
                ..LeaseSpec::default()
            }),
        }
    }

    /// Renews the Lease for as long as the process lives. A scheduler that cannot renew it for
    /// a whole duration may have been replaced: it stops the process (its pod restarts and
    /// stands again), as Kubernetes controllers do, so two never launch at once.
    async fn keep(self) {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.duration / 3).await;
            match self.try_acquire().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => {
                    tracing::error!(
                        lease = LEASE_NAME,
                        "another scheduler took the Lease; stopping"
                    );
                    std::process::exit(1);
                }
                Err(e) => {
                    tracing::warn!(lease = LEASE_NAME, error = %e, "cannot renew the scheduler Lease");
                    if renewed.elapsed() >= self.duration {
                        tracing::error!(
                            lease = LEASE_NAME,
                            "the scheduler Lease expired; stopping"
                        );
                        std::process::exit(1);
                    }
                }
            }
        }
    }
}

async fn delete_job(jobs: &Api<Job>, name: &str) {
    // Background propagation: the Job goes at once, its pods right after.
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(e) => tracing::warn!(k8s_job = name, error = %e, "cannot delete an analyzer Job"),
    }
}

/// A running analyzer Job.
struct KubeAnalyzer {
    jobs: Api<Job>,
    name: String,
    running: Arc<AtomicBool>,
    outcome: Outcome,
}

#[async_trait]
impl Analyzer for KubeAnalyzer {
    async fn wait(&mut self) -> AnalyzerExit {
        self.outcome.wait().await
    }

    async fn kill(&mut self) {
        delete_job(&self.jobs, &self.name).await;
        // The follower sees the pod go; do not wait long for it.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.outcome.wait()).await;
    }

    fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
}

/// Follows one Job and its pods to their end.
struct Follower {
    jobs: Api<Job>,
    pods: Api<Pod>,
    name: String,
    selector: String,
    memory_mib: u64,
    /// Pods that must succeed (an Indexed Job's completions).
    shards: u32,
    unschedulable_timeout: Duration,
    running: Arc<AtomicBool>,
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
                    if failures > 30 {
                        let _ = tx.send(Change::Lost(format!("lost the watch on {what}: {e}")));
                        return;
                    }
                    tracing::warn!(%what, error = %e, "cannot watch; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
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
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    }))
}

impl Follower {
    async fn run(self) -> AnalyzerExit {
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
