//! The process launcher: each analyzer a child process of the scheduler, isolated from the
//! services by a lower CPU priority (nice), an address-space limit from the job's memory
//! request, and death with its parent.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use sextant_store::JobExecution;

use super::{Analyzer, AnalyzerExit, LaunchRequest, Launcher, last_line};

/// Runs analyzers as child processes of the server.
pub struct ProcessLauncher {
    binary: PathBuf,
    log_dir: PathBuf,
    nice: i32,
}

impl ProcessLauncher {
    /// Analyzers run `binary analyzer run …` at `nice`, logging to `log_dir`.
    pub fn new(binary: PathBuf, log_dir: PathBuf, nice: i32) -> ProcessLauncher {
        ProcessLauncher {
            binary,
            log_dir,
            nice,
        }
    }
}

struct ProcessAnalyzer {
    child: tokio::process::Child,
    memory_mib: u64,
    log: PathBuf,
}

#[async_trait]
impl Launcher for ProcessLauncher {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn launch(&self, request: &LaunchRequest) -> Result<Box<dyn Analyzer>, String> {
        std::fs::create_dir_all(&self.log_dir)
            .map_err(|e| format!("{}: {e}", self.log_dir.display()))?;
        let log = self
            .log_dir
            .join(format!("job-{}-{}.log", request.job_id, request.attempt));
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .arg("analyzer")
            .arg("run")
            .arg("--job")
            .arg(request.job_id.to_string())
            .arg("--server")
            .arg(&request.server_url)
            .arg("--threads")
            .arg(request.threads.to_string())
            // The token is a secret: the environment, unlike the arguments, is not world-readable.
            .env("SEXTANT_JOB_TOKEN", &request.token)
            // Each malloc arena reserves 64 MiB of address space; a few suffice for an analyzer
            // and keep the address-space limit close to the memory really used.
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let limit = request.memory_mib.saturating_mul(1 << 20);
        let nice = self.nice;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the child between fork and exec and calls only
        // async-signal-safe system calls (setpriority, setrlimit, prctl, getppid, _exit); it
        // allocates nothing and touches no locks.
        unsafe {
            command.pre_exec(move || {
                // Nice, not SCHED_IDLE: an idle-class analyzer could be starved outright by a
                // busy machine, and then its heartbeat would stop too.
                libc::setpriority(libc::PRIO_PROCESS, 0, nice);
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // An analyzer must not outlive the server that supervises it.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        Ok(Box::new(ProcessAnalyzer {
            child,
            memory_mib: request.memory_mib,
            log,
        }))
    }

    async fn stop_leftover(&self, execution: &JobExecution) {
        let Some(pid) = execution.pid else { return };
        let pid = pid as libc::pid_t;
        let id = execution.id.to_string();
        let is_ours = || {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmd| String::from_utf8_lossy(&cmd).contains(&id))
                .unwrap_or(false)
        };
        if !is_ours() {
            return;
        }
        tracing::warn!(job = %id, pid, "stopping an analyzer left from before a restart");
        // SAFETY: kill(2) on a pid we checked runs this job's analyzer.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        for _ in 0..100 {
            if !is_ours() || is_zombie(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::error!(job = %id, pid, "an old analyzer did not stop");
    }
}

fn is_zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => "SIGKILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGTERM => "SIGTERM",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        _ => "signal",
    }
}

#[async_trait]
impl Analyzer for ProcessAnalyzer {
    fn pid(&self) -> Option<i64> {
        self.child.id().map(i64::from)
    }

    async fn wait(&mut self) -> AnalyzerExit {
        use std::os::unix::process::ExitStatusExt;
        let status = match self.child.wait().await {
            Ok(status) => status,
            Err(e) => return AnalyzerExit::Failed(format!("cannot wait for the analyzer: {e}")),
        };
        if status.success() {
            return AnalyzerExit::Success;
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Rust reports an allocation the address-space limit refused, then aborts.
        if log.contains("memory allocation of") {
            return AnalyzerExit::Failed(format!(
                "analyzer exceeded its {} MiB memory limit",
                self.memory_mib
            ));
        }
        let tail = last_line(&self.log);
        let tail = if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        };
        match (status.code(), status.signal()) {
            (Some(code), _) => {
                AnalyzerExit::Failed(format!("analyzer exited with code {code}{tail}"))
            }
            (None, Some(libc::SIGKILL)) => {
                AnalyzerExit::Failed(format!("analyzer was killed (SIGKILL){tail}"))
            }
            (None, Some(signal)) => AnalyzerExit::Failed(format!(
                "analyzer crashed ({}, signal {signal}){tail}",
                signal_name(signal)
            )),
            (None, None) => AnalyzerExit::Failed(format!("analyzer ended abnormally{tail}")),
        }
    }

    async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
