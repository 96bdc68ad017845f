//! The container launchers' settings: where analyzers run, and how the Docker and Kubernetes
//! launchers run them.

use std::str::FromStr;

use serde::Deserialize;

use super::Env;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDockerConfig {
    image: Option<String>,
    network: Option<String>,
    cpus: Option<f64>,
    pids_limit: Option<i64>,
    user: Option<String>,
    artifacts_source: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileKubernetesConfig {
    namespace: Option<String>,
    image: Option<String>,
    priority_class: Option<String>,
    service_account: Option<String>,
    ttl_seconds_after_finished: Option<i32>,
    unschedulable_timeout_seconds: Option<u64>,
    env_from_secret: Option<String>,
    max_cpu: Option<f64>,
    max_memory_mib: Option<u64>,
    max_shards: Option<u32>,
    lease_namespace: Option<String>,
    lease_duration_seconds: Option<u32>,
}

/// Where analyzers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LauncherKind {
    /// Child processes of the scheduler (the embedded default).
    Process,
    /// Sibling containers on the Docker Engine.
    Docker,
    /// Jobs on a Kubernetes cluster.
    Kubernetes,
}

impl FromStr for LauncherKind {
    type Err = String;
    fn from_str(s: &str) -> Result<LauncherKind, String> {
        match s.trim() {
            "process" => Ok(LauncherKind::Process),
            "docker" => Ok(LauncherKind::Docker),
            "kubernetes" => Ok(LauncherKind::Kubernetes),
            other => Err(format!(
                "unknown launcher {other:?} (expected process, docker or kubernetes)"
            )),
        }
    }
}

/// How the Docker launcher runs analyzer containers.
#[derive(Clone, Debug, PartialEq)]
pub struct DockerConfig {
    /// The image analyzers run (this same program).
    pub image: String,
    /// The network mode of analyzer containers (`host`, `bridge`, or a network's name); it must
    /// let them reach `advertise_url`.
    pub network: String,
    /// CPUs per analyzer container (`--cpus`).
    pub cpus: f64,
    /// Processes and threads per analyzer container (`--pids-limit`).
    pub pids_limit: i64,
    /// The user analyzers run as (`uid:gid`).
    pub user: String,
    /// For a local artifact store: the host directory or volume mounted at the store's path in
    /// analyzer containers (default: the store's own path, for a server running on the host).
    pub artifacts_source: Option<String>,
}

/// How the Kubernetes launcher runs analyzer Jobs.
#[derive(Clone, Debug, PartialEq)]
pub struct KubernetesConfig {
    /// The namespace analyzer Jobs are created in.
    pub namespace: String,
    /// The image analyzers run.
    pub image: String,
    /// The PriorityClass of analyzer pods (low, preemptible).
    pub priority_class: String,
    /// The service account of analyzer pods (no API rights).
    pub service_account: String,
    /// How long a finished Job is kept before Kubernetes deletes it.
    pub ttl_seconds_after_finished: i32,
    /// How long a pod may stay unschedulable before its job fails.
    pub unschedulable_timeout_seconds: u64,
    /// A Secret whose keys become analyzer environment variables (S3 credentials).
    pub env_from_secret: Option<String>,
    /// The largest CPU request one analyzer pod gets.
    pub max_cpu: f64,
    /// The largest memory limit one analyzer pod gets.
    pub max_memory_mib: u64,
    /// The most pods one job is split across (an Indexed Job), when its cost calls for it.
    pub max_shards: u32,
    /// The namespace of the `sextant-scheduler` Lease that makes one scheduler the leader
    /// (default: the scheduler pod's own, from `POD_NAMESPACE`, else `sextant`).
    pub lease_namespace: String,
    /// How long a leader's Lease holds without renewal.
    pub lease_duration_seconds: u32,
}

/// Analyzers run this program's own image unless told otherwise.
fn default_image() -> String {
    format!("sextant:{}", env!("CARGO_PKG_VERSION"))
}

impl DockerConfig {
    /// The `[docker]` table, then its `SEXTANT_DOCKER_*` variables, then defaults.
    pub(super) fn load(d: FileDockerConfig, env: &Env) -> DockerConfig {
        DockerConfig {
            image: env
                .var("SEXTANT_DOCKER_IMAGE")
                .or(d.image)
                .unwrap_or_else(default_image),
            network: env
                .var("SEXTANT_DOCKER_NETWORK")
                .or(d.network)
                .unwrap_or_else(|| "host".into()),
            cpus: d.cpus.unwrap_or(1.0),
            pids_limit: d.pids_limit.unwrap_or(256),
            user: d.user.unwrap_or_else(|| "10001:10001".into()),
            artifacts_source: d.artifacts_source,
        }
    }
}

impl KubernetesConfig {
    /// The `[kubernetes]` table, then its `SEXTANT_K8S_*` variables, then defaults.
    pub(super) fn load(k: FileKubernetesConfig, env: &Env) -> Result<KubernetesConfig, String> {
        Ok(KubernetesConfig {
            namespace: env
                .var("SEXTANT_K8S_NAMESPACE")
                .or(k.namespace)
                .unwrap_or_else(|| "sextant-analyzers".into()),
            image: env
                .var("SEXTANT_K8S_IMAGE")
                .or(k.image)
                .unwrap_or_else(default_image),
            priority_class: k
                .priority_class
                .unwrap_or_else(|| "sextant-analyzer".into()),
            service_account: k
                .service_account
                .unwrap_or_else(|| "sextant-analyzer".into()),
            ttl_seconds_after_finished: k.ttl_seconds_after_finished.unwrap_or(600),
            unschedulable_timeout_seconds: k.unschedulable_timeout_seconds.unwrap_or(300),
            env_from_secret: env.var("SEXTANT_K8S_ENV_FROM_SECRET").or(k.env_from_secret),
            max_cpu: env.num("SEXTANT_K8S_MAX_CPU")?.or(k.max_cpu).unwrap_or(4.0),
            max_memory_mib: env
                .num("SEXTANT_K8S_MAX_MEMORY_MIB")?
                .or(k.max_memory_mib)
                .unwrap_or(16384),
            max_shards: env
                .num("SEXTANT_K8S_MAX_SHARDS")?
                .or(k.max_shards)
                .unwrap_or(8),
            lease_namespace: k
                .lease_namespace
                .or_else(|| env.var("POD_NAMESPACE"))
                .unwrap_or_else(|| "sextant".into()),
            lease_duration_seconds: k.lease_duration_seconds.unwrap_or(15),
        })
    }
}
