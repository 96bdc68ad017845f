//! The process launcher: each analyzer a child process of the scheduler, isolated from the
//! services by a lower CPU priority (nice), an address-space limit from the job's memory
//! request, and death with its parent.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use sextant_store::JobExecution;

use super::{Analyzer, AnalyzerExit, LaunchRequest, Launcher, last_line};

/// How often, and how many times, a killed leftover analyzer is checked for having stopped
/// (5 s in all).
const LEFTOVER_STOP_POLL: Duration = Duration::from_millis(50);
const LEFTOVER_STOP_POLLS: usize = 100;

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

/// One analyzer process (one shard of a sharded job).
struct Child {
    child: tokio::process::Child,
    log: PathBuf,
}

/// The processes running one job: one, or one per shard.
struct ProcessAnalyzer {
    children: Vec<Child>,
    memory_mib: u64,
    /// The scratch folders its processes use (removed, when left, once it is done with).
    scratch: Vec<std::path::PathBuf>,
}

impl Drop for ProcessAnalyzer {
    /// An analyzer removes its scratch folder when it ends; one that was killed, crashed or ran
    /// out of memory leaves it, with whatever it had downloaded.
    fn drop(&mut self) {
        for dir in &self.scratch {
            if std::fs::remove_dir_all(dir).is_ok() {
                tracing::info!(dir = %dir.display(), "removed an analyzer's scratch folder");
            }
        }
    }
}

impl ProcessLauncher {
    fn spawn(&self, request: &LaunchRequest, shard: u32) -> Result<Child, String> {
        let shards = request.sizing.shards.max(1);
        let name = if shards > 1 {
            format!(
                "job-{}-{}-shard-{shard}.log",
                request.job_id, request.attempt
            )
        } else {
            format!("job-{}-{}.log", request.job_id, request.attempt)
        };
        let log = self.log_dir.join(name);
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args(request.analyzer_args(request.threads.div_ceil(shards as usize).max(1)))
            // The token is a secret: the environment, unlike the arguments, is not world-readable.
            .env("SEXTANT_JOB_TOKEN", &request.token)
            // Each malloc arena reserves 64 MiB of address space; a few suffice for an analyzer
            // and keep the address-space limit close to the memory really used.
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        if shards > 1 {
            command
                .arg("--shards")
                .arg(shards.to_string())
                .env("JOB_COMPLETION_INDEX", shard.to_string());
        } else {
            command.env_remove("JOB_COMPLETION_INDEX");
        }
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
        Ok(Child { child, log })
    }
}

#[async_trait]
impl Launcher for ProcessLauncher {
    fn name(&self) -> &'static str {
        "process"
    }

    /// Shards run side by side on this machine, each with its share of the threads and the
    /// job's memory limit; they only shard when the job asks.
    fn max_shards(&self) -> u32 {
        16
    }

    async fn launch(&self, request: &LaunchRequest) -> Result<Box<dyn Analyzer>, String> {
        std::fs::create_dir_all(&self.log_dir)
            .map_err(|e| format!("{}: {e}", self.log_dir.display()))?;
        let mut children = Vec::new();
        for shard in 0..request.sizing.shards.max(1) {
            // Children started so far are killed when dropped (kill_on_drop) if one fails.
            children.push(self.spawn(request, shard)?);
        }
        let shards = request.sizing.shards.max(1);
        Ok(Box::new(ProcessAnalyzer {
            children,
            memory_mib: request.memory_mib,
            scratch: (0..shards)
                .map(|shard| sextant_analyzer::scratch_dir(request.job_id, shard))
                .collect(),
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
        for _ in 0..LEFTOVER_STOP_POLLS {
            if !is_ours() || is_zombie(pid) {
                return;
            }
            tokio::time::sleep(LEFTOVER_STOP_POLL).await;
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

impl ProcessAnalyzer {
    /// How one process ended, as a failure reason (None: success).
    fn reason(&self, index: usize, status: std::process::ExitStatus) -> Option<String> {
        use std::os::unix::process::ExitStatusExt;
        if status.success() {
            return None;
        }
        let log_path = &self.children[index].log;
        let shard = if self.children.len() > 1 {
            format!(" (shard {index})")
        } else {
            String::new()
        };
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        // Rust reports an allocation the address-space limit refused, then aborts.
        if log.contains("memory allocation of") {
            return Some(format!(
                "analyzer{shard} exceeded its {} MiB memory limit",
                self.memory_mib
            ));
        }
        let tail = last_line(log_path);
        let tail = if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        };
        Some(match (status.code(), status.signal()) {
            (Some(code), _) => format!("analyzer{shard} exited with code {code}{tail}"),
            (None, Some(libc::SIGKILL)) => format!("analyzer{shard} was killed (SIGKILL){tail}"),
            (None, Some(signal)) => format!(
                "analyzer{shard} crashed ({}, signal {signal}){tail}",
                signal_name(signal)
            ),
            (None, None) => format!("analyzer{shard} ended abnormally{tail}"),
        })
    }
}

#[async_trait]
impl Analyzer for ProcessAnalyzer {
    fn pid(&self) -> Option<i64> {
        self.children
            .first()
            .and_then(|c| c.child.id())
            .map(i64::from)
    }

    /// Waits for every process; the first to fail fails the job and stops the others.
    async fn wait(&mut self) -> AnalyzerExit {
        use futures_util::StreamExt;
        use futures_util::stream::FuturesUnordered;
        let mut failure = None;
        {
            let mut waits: FuturesUnordered<_> = self
                .children
                .iter_mut()
                .enumerate()
                .map(|(index, c)| async move { (index, c.child.wait().await) })
                .collect();
            while let Some((index, status)) = waits.next().await {
                match status {
                    Ok(status) if status.success() => {}
                    Ok(status) => {
                        failure = Some((index, status));
                        break;
                    }
                    Err(e) => {
                        return AnalyzerExit::Failed(format!("cannot wait for the analyzer: {e}"));
                    }
                }
            }
        }
        let Some((index, status)) = failure else {
            return AnalyzerExit::Success;
        };
        let reason = self.reason(index, status);
        self.kill().await;
        AnalyzerExit::Failed(reason.unwrap_or_default())
    }

    async fn kill(&mut self) {
        for c in &mut self.children {
            let _ = c.child.start_kill();
        }
        for c in &mut self.children {
            let _ = c.child.wait().await;
        }
    }
}
