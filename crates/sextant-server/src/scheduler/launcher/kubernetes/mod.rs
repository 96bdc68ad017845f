//! The Kubernetes launcher: each analyzer a `batch/v1` Job, created through the Kubernetes API
//! with typed objects. The Job is sized from the job's cost estimate ([`super::sizing`]), runs at
//! a low PriorityClass under a service account with no API rights, as a non-root user with a
//! read-only root filesystem, no privilege escalation and no capabilities; Kubernetes deletes it
//! a while after it finishes. A sharded job is an Indexed Job. The scheduler follows the Job and
//! its pods with watches ([`follow`]): a pod that stays unschedulable fails the job with the
//! scheduler's message (the missing resource), an `OOMKilled` container fails it as out of
//! memory, and a Job deleted by someone else cancels it. The job's token is in a Secret of its
//! own that the Job owns, so it goes with the Job. After a restart the scheduler adopts
//! Jobs still running, found by label; one scheduler leads at a time ([`lease`]).

mod follow;
mod lease;

use follow::Follower;
use lease::Leadership;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, EnvVarSource, Pod,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, Secret,
    SecretEnvSource, SecretKeySelector, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use sextant_store::JobExecution;
use uuid::Uuid;

use super::{Analyzer, AnalyzerExit, LaunchRequest, Launcher, Outcome};
use crate::ServerConfig;
use crate::config::KubernetesConfig;

/// How long a cancel waits for the follower to see the analyzer's pod go.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// The label tying Jobs and pods to a Sextant job.
pub const JOB_LABEL: &str = "sextant.io/job";
/// The label naming the attempt.
pub const ATTEMPT_LABEL: &str = "sextant.io/attempt";
/// The key of the token in an analyzer's Secret.
pub const TOKEN_KEY: &str = "token";
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

    /// The labels of an attempt's Job, its pods and its Secret.
    fn labels(request: &LaunchRequest) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "sextant".to_string()),
            (
                "app.kubernetes.io/component".to_string(),
                "analyzer".to_string(),
            ),
            (JOB_LABEL.to_string(), request.job_id.to_string()),
            (ATTEMPT_LABEL.to_string(), request.attempt.to_string()),
        ])
    }

    /// The Job that runs one analyzer.
    pub fn job_object(&self, request: &LaunchRequest) -> Job {
        let c = &self.config;
        let sizing = request.sizing;
        let labels = Self::labels(request);
        let cpu = Quantity(format!("{}m", sizing.cpu_millis));
        let memory = Quantity(format!("{}Mi", sizing.memory_mib));
        // Requests equal limits: the analyzer gets what it was sized for, no more, and the node
        // keeps the services' share.
        let resources = BTreeMap::from([("cpu".to_string(), cpu), ("memory".to_string(), memory)]);
        let threads = (sizing.cpu_millis as usize).div_ceil(1000).max(1);
        let shards = sizing.shards.max(1) as i32;
        let mut env: Vec<EnvVar> = request
            .environment
            .iter()
            .filter(|(name, _)| !name.starts_with("AWS_"))
            .map(|(name, value)| EnvVar {
                name: name.clone(),
                value: Some(value.clone()),
                ..EnvVar::default()
            })
            .collect();
        env.extend([
            // The job's token is in its own Secret, never in the Job's spec.
            EnvVar {
                name: "SEXTANT_JOB_TOKEN".into(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: Self::job_name(request.job_id, request.attempt),
                        key: TOKEN_KEY.into(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
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

    /// The Secret that holds an attempt's token, owned by its Job: Kubernetes deletes it with the
    /// Job (after the Job's TTL, or when the scheduler deletes it).
    pub fn token_secret(request: &LaunchRequest, job: &Job) -> Secret {
        let name = Self::job_name(request.job_id, request.attempt);
        Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: job.metadata.namespace.clone(),
                labels: Some(Self::labels(request)),
                owner_references: Some(vec![OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name,
                    uid: job.metadata.uid.clone().unwrap_or_default(),
                    block_owner_deletion: Some(false),
                    controller: Some(false),
                }]),
                ..ObjectMeta::default()
            },
            string_data: Some(BTreeMap::from([(
                TOKEN_KEY.to_string(),
                request.token.clone(),
            )])),
            type_: Some("Opaque".into()),
            immutable: Some(true),
            ..Secret::default()
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
        let created = self
            .jobs()
            .create(&PostParams::default(), &job)
            .await
            .map_err(|e| format!("cannot create Job {name}: {e}"))?;
        // The Secret comes second so that it can name the Job as its owner; the pod waits for it
        // (the kubelet retries a missing Secret).
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.config.namespace);
        let secret = Self::token_secret(request, &created);
        if let Err(e) = secrets.create(&PostParams::default(), &secret).await {
            delete_job(&self.jobs(), &name).await;
            return Err(format!(
                "cannot create Secret {name} for the job's token: {e}"
            ));
        }
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
        let _ = tokio::time::timeout(KILL_WAIT, self.outcome.wait()).await;
    }

    fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
}
