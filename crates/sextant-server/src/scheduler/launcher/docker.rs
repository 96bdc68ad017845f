//! The Docker launcher: each analyzer a sibling container of the same image, through the Docker
//! Engine API. The container gets the job's memory limit (no swap), a CPU quota, a process
//! limit, a read-only root filesystem with a private `/tmp`, an unprivileged user, no
//! capabilities and no privilege escalation. Inputs and results go through the artifact store;
//! progress goes to the scheduler over HTTP, as from a child process. When the container ends,
//! its log is saved beside the process launcher's logs, its exit code and `OOMKilled` flag
//! become the job's failure reason, and the container is removed.

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use sextant_store::JobExecution;

use super::{Analyzer, AnalyzerExit, LaunchRequest, Launcher, Outcome, last_line_of};
use crate::ServerConfig;
use crate::config::DockerConfig;

/// The label every analyzer container carries, with its job id as value.
pub const JOB_LABEL: &str = "io.sextant.job";

/// Starts analyzers as containers on the Docker Engine.
pub struct DockerLauncher {
    docker: Docker,
    config: DockerConfig,
    /// For a local artifact store: `source:path` to mount, so containers see the same files.
    artifacts_bind: Option<String>,
    log_dir: PathBuf,
}

impl DockerLauncher {
    /// Connects to the engine (`DOCKER_HOST`, or the local socket), agrees on an API version,
    /// and checks the analyzer image is there.
    pub async fn connect(config: &ServerConfig) -> Result<DockerLauncher, String> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| format!("cannot reach the Docker Engine: {e}"))?
            .negotiate_version()
            .await
            .map_err(|e| format!("cannot reach the Docker Engine: {e}"))?;
        docker
            .inspect_image(&config.docker.image)
            .await
            .map_err(|e| {
                format!(
                    "the analyzer image {} is not on this Docker Engine ({e}); build it with `make image` or set docker.image",
                    config.docker.image
                )
            })?;
        let artifacts_bind = match config.artifacts_uri.strip_prefix("file://") {
            Some(path) => {
                let source = config
                    .docker
                    .artifacts_source
                    .clone()
                    .unwrap_or_else(|| path.to_string());
                Some(format!("{source}:{path}"))
            }
            None => None,
        };
        Ok(DockerLauncher {
            docker,
            config: config.docker.clone(),
            artifacts_bind,
            log_dir: config.log_dir(),
        })
    }

    fn container_name(request: &LaunchRequest) -> String {
        format!("sextant-analyzer-{}-{}", request.job_id, request.attempt)
    }

    fn body(&self, request: &LaunchRequest) -> ContainerCreateBody {
        let memory = (request.memory_mib as i64) << 20;
        let mut env: Vec<String> = request
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("SEXTANT_JOB_TOKEN={}", request.token));
        env.push("MALLOC_ARENA_MAX=2".into());
        env.push("TMPDIR=/tmp".into());
        let labels = HashMap::from([
            (JOB_LABEL.to_string(), request.job_id.to_string()),
            (
                "io.sextant.attempt".to_string(),
                request.attempt.to_string(),
            ),
            ("io.sextant.role".to_string(), "analyzer".to_string()),
        ]);
        // Scratch space for downloaded inputs and result files, inside the memory limit's
        // neighbourhood: as large as the memory limit, at most 8 GiB.
        let tmp_bytes = memory.clamp(256 << 20, 8 << 30);
        ContainerCreateBody {
            image: Some(self.config.image.clone()),
            cmd: Some(request.analyzer_args(request.threads)),
            env: Some(env),
            user: Some(self.config.user.clone()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                memory: Some(memory),
                // Equal to the memory limit: no swap, so a breach ends in the OOM killer.
                memory_swap: Some(memory),
                nano_cpus: Some((self.config.cpus * 1e9) as i64),
                pids_limit: Some(self.config.pids_limit),
                readonly_rootfs: Some(true),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_string(),
                    format!("rw,nosuid,nodev,size={tmp_bytes}"),
                )])),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                network_mode: Some(self.config.network.clone()),
                binds: self.artifacts_bind.clone().map(|bind| vec![bind]),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        }
    }

    async fn remove(docker: &Docker, name: &str) {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = docker.remove_container(name, Some(options)).await
            && !is_not_found(&e)
        {
            tracing::warn!(container = name, error = %e, "cannot remove an analyzer container");
        }
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

#[async_trait]
impl Launcher for DockerLauncher {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn launch(&self, request: &LaunchRequest) -> Result<Box<dyn Analyzer>, String> {
        let name = Self::container_name(request);
        // A container of this name can only be left from an earlier run of this same attempt.
        Self::remove(&self.docker, &name).await;
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(options), self.body(request))
            .await
            .map_err(|e| format!("cannot create container {name}: {e}"))?;
        if let Err(e) = self.docker.start_container(&name, None).await {
            Self::remove(&self.docker, &name).await;
            return Err(format!("cannot start container {name}: {e}"));
        }
        let ending = Ending {
            docker: self.docker.clone(),
            name: name.clone(),
            memory_mib: request.memory_mib,
            log: self
                .log_dir
                .join(format!("job-{}-{}.log", request.job_id, request.attempt)),
        };
        Ok(Box::new(DockerAnalyzer {
            docker: self.docker.clone(),
            name,
            outcome: Outcome::spawn("container", ending.watch()),
        }))
    }

    async fn stop_leftover(&self, execution: &JobExecution) {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{JOB_LABEL}={}", execution.id)],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let containers = match self.docker.list_containers(Some(options)).await {
            Ok(containers) => containers,
            Err(e) => {
                tracing::error!(job = %execution.id, error = %e, "cannot list analyzer containers");
                return;
            }
        };
        for container in containers {
            if let Some(id) = container.id {
                tracing::warn!(job = %execution.id, container = %id, "removing an analyzer container left from before a restart");
                Self::remove(&self.docker, &id).await;
            }
        }
    }
}

/// A running analyzer container. A task of its own waits for the container to stop, saves its
/// log, reads how it ended and removes it, so waiting here can be interrupted and resumed.
struct DockerAnalyzer {
    docker: Docker,
    name: String,
    outcome: Outcome,
}

/// What the waiting task needs.
struct Ending {
    docker: Docker,
    name: String,
    memory_mib: u64,
    log: PathBuf,
}

impl Ending {
    /// Waits for the container to stop; returns how it ended, after removing it.
    async fn watch(self) -> AnalyzerExit {
        let options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut waiting = self.docker.wait_container(&self.name, Some(options));
        // The stream ends (or reports a non-zero exit as an error) once the container stops;
        // either way the container's state says how it ended.
        let _ = waiting.next().await;
        let exit = self.outcome().await;
        DockerLauncher::remove(&self.docker, &self.name).await;
        exit
    }

    /// The container's output, saved to the job's log file; returns it.
    async fn save_log(&self) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("1000")
            .build();
        let mut text = String::new();
        let mut logs = self.docker.logs(&self.name, Some(options));
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&self.log, &text) {
            tracing::warn!(path = %self.log.display(), error = %e, "cannot save an analyzer log");
        }
        text
    }

    async fn outcome(&self) -> AnalyzerExit {
        let state = match self.docker.inspect_container(&self.name, None).await {
            Ok(inspect) => inspect.state.unwrap_or_default(),
            Err(e) => {
                return AnalyzerExit::Failed(format!(
                    "analyzer container {} vanished: {e}",
                    self.name
                ));
            }
        };
        let log = self.save_log().await;
        let code = state.exit_code.unwrap_or(-1);
        if state.oom_killed == Some(true) {
            return AnalyzerExit::Failed(format!(
                "analyzer exceeded its {} MiB memory limit (out of memory: the container was killed)",
                self.memory_mib
            ));
        }
        if code == 0 {
            return AnalyzerExit::Success;
        }
        let tail = last_line_of(&log);
        let tail = if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        };
        // A code above 128 is a signal.
        match code {
            137 => AnalyzerExit::Failed(format!("analyzer container was killed (SIGKILL){tail}")),
            134 => AnalyzerExit::Failed(format!("analyzer crashed (SIGABRT, signal 6){tail}")),
            139 => AnalyzerExit::Failed(format!("analyzer crashed (SIGSEGV, signal 11){tail}")),
            _ => AnalyzerExit::Failed(format!("analyzer exited with code {code}{tail}")),
        }
    }
}

#[async_trait]
impl Analyzer for DockerAnalyzer {
    async fn wait(&mut self) -> AnalyzerExit {
        self.outcome.wait().await
    }

    async fn kill(&mut self) {
        // The waiting task sees the container stop, saves its log and removes it.
        let _ = self.docker.kill_container(&self.name, None).await;
        self.outcome.wait().await;
    }
}
