//! `sextant analyzer run`: one job's work, in its own process. It fetches its task from the
//! scheduler (with the job-scoped token from `SEXTANT_JOB_TOKEN`), reads its inputs from the
//! artifact store, computes batch by batch while a reporter thread sends progress (its
//! heartbeat), stores its result files and then the manifest, reports, and exits.
//!
//! Test hook: `SEXTANT_ANALYZER_FAULT` = `crash` (abort after starting), `oom` (allocate until
//! the memory limit stops it), `hang` (stop reporting and stall), `slow` (100-row batches with a
//! pause after each), so the scheduler's fault handling is tested against real processes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use sextant_api::{AnalyzerTask, JobProgress};
use uuid::Uuid;

use crate::Failure;

mod compute;

use compute::compute;

#[derive(Subcommand)]
pub enum AnalyzerCommand {
    /// Run one job (started by the scheduler, not by hand).
    Run(RunArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The job id.
    #[arg(long)]
    job: Uuid,
    /// The scheduler's base URL.
    #[arg(long)]
    server: String,
    /// Analyzers that share the job's rows (a sharded job).
    #[arg(long, default_value_t = 1)]
    shards: u32,
    /// This analyzer's shard, from 0 (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX).
    #[arg(long, env = "JOB_COMPLETION_INDEX")]
    shard: Option<u32>,
}

/// Which slice of a job's rows this analyzer computes.
#[derive(Clone, Copy, Debug)]
struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Rows `start .. end` of `total`: equal slices, the last one shorter.
    fn rows(self, total: u64) -> (u64, u64) {
        let per = total.div_ceil(u64::from(self.count.max(1)));
        let start = (u64::from(self.index) * per).min(total);
        (start, (start + per).min(total))
    }
}

/// Talks to the scheduler's analyzer endpoints.
struct Reporter {
    agent: ureq::Agent,
    base: String,
    token: String,
    /// `?shard=I&shards=N` for a shard of a sharded job.
    query: String,
}

impl Reporter {
    fn url(&self, what: &str) -> String {
        match what {
            "progress" | "result" => format!("{}/{what}{}", self.base, self.query),
            _ => format!("{}/{what}", self.base),
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    fn task(&self) -> anyhow::Result<AnalyzerTask> {
        let mut response = self
            .agent
            .get(self.url("task"))
            .header("Authorization", self.auth())
            .call()
            .context("cannot reach the scheduler")?;
        if !response.status().is_success() {
            bail!(
                "the scheduler refused the task request ({}): {}",
                response.status(),
                response.body_mut().read_to_string().unwrap_or_default()
            );
        }
        Ok(response.body_mut().read_json()?)
    }

    /// Sends progress; false when the job no longer wants us (cancelled).
    fn progress(&self, progress: &JobProgress) -> anyhow::Result<bool> {
        let mut response = self
            .agent
            .post(self.url("progress"))
            .header("Authorization", self.auth())
            .send_json(progress)?;
        if response.status() == 401 {
            return Ok(false);
        }
        let ack: serde_json::Value = response.body_mut().read_json()?;
        Ok(ack["proceed"].as_bool().unwrap_or(false))
    }

    fn post(&self, what: &str, body: &impl serde::Serialize) -> anyhow::Result<()> {
        let mut response = self
            .agent
            .post(self.url(what))
            .header("Authorization", self.auth())
            .send_json(body)?;
        if !response.status().is_success() {
            bail!(
                "the scheduler refused the {what} ({}): {}",
                response.status(),
                response.body_mut().read_to_string().unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// The progress the reporter thread sends.
struct Shared {
    progress: Mutex<JobProgress>,
    started: Instant,
    stop: AtomicBool,
}

impl Shared {
    fn set(&self, phase: &str, rows_done: u64, rows_total: Option<u64>, fraction: f64) {
        let fraction = fraction.clamp(0.0, 1.0);
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = (fraction > 0.0).then(|| elapsed * (1.0 - fraction) / fraction);
        *self.progress.lock().expect("progress lock") = JobProgress {
            phase: phase.to_string(),
            rows_done,
            rows_total,
            percent: 100.0 * fraction,
            eta_seconds: eta,
        };
    }
}

fn fault() -> String {
    std::env::var("SEXTANT_ANALYZER_FAULT").unwrap_or_default()
}

pub fn run(command: AnalyzerCommand) -> Result<(), Failure> {
    let AnalyzerCommand::Run(args) = command;
    let shard = Shard {
        index: args.shard.unwrap_or(0),
        count: args.shards.max(1),
    };
    if shard.index >= shard.count {
        return Err(Failure::Input(anyhow!(
            "shard {} is not one of {} shards",
            shard.index,
            shard.count
        )));
    }
    let token = std::env::var("SEXTANT_JOB_TOKEN").map_err(|_| {
        anyhow!("SEXTANT_JOB_TOKEN is not set: analyzers are started by the scheduler")
    })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let reporter = Arc::new(Reporter {
        agent,
        base: format!(
            "{}/internal/v1/jobs/{}",
            args.server.trim_end_matches('/'),
            args.job
        ),
        token,
        query: if shard.count > 1 {
            format!("?shard={}&shards={}", shard.index, shard.count)
        } else {
            String::new()
        },
    });
    let task = reporter.task()?;
    let shared = Arc::new(Shared {
        progress: Mutex::new(JobProgress {
            phase: "loading".into(),
            ..JobProgress::default()
        }),
        started: Instant::now(),
        stop: AtomicBool::new(false),
    });
    let heartbeat = {
        let (reporter, shared) = (reporter.clone(), shared.clone());
        let every = Duration::from_secs_f64(task.heartbeat_seconds.max(0.05));
        thread::spawn(move || report_loop(&reporter, &shared, every))
    };
    inject_fault_at_start(&shared);
    let outcome = compute(&task, shard, &shared);
    shared.stop.store(true, Ordering::SeqCst);
    let _ = heartbeat.join();
    match outcome {
        Ok(manifest) => {
            reporter.post("result", &manifest)?;
            eprintln!(
                "job {}: {} rows in {:.3} s",
                task.job_id, manifest.rows, manifest.seconds
            );
            Ok(())
        }
        Err(e) => {
            let reason = format!("{e:#}").replace('\n', " ");
            eprintln!("job {}: {reason}", task.job_id);
            let _ = reporter.post("failure", &json!({ "reason": reason }));
            Err(Failure::Check(e))
        }
    }
}

fn report_loop(reporter: &Reporter, shared: &Shared, every: Duration) {
    let mut last = Instant::now() - every;
    while !shared.stop.load(Ordering::SeqCst) {
        if last.elapsed() >= every {
            last = Instant::now();
            let progress = shared.progress.lock().expect("progress lock").clone();
            match reporter.progress(&progress) {
                Ok(true) => {}
                Ok(false) => {
                    eprintln!("the job was cancelled; stopping");
                    std::process::exit(3);
                }
                Err(e) => eprintln!("warning: cannot report progress: {e:#}"),
            }
        }
        thread::sleep(Duration::from_millis(20).min(every));
    }
}

fn inject_fault_at_start(shared: &Shared) {
    match fault().as_str() {
        "crash" => {
            thread::sleep(Duration::from_millis(300));
            eprintln!("fault injection: crashing");
            std::process::abort();
        }
        "oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every page, so the memory is really used, not just reserved.
                hoard.push(vec![1u8; 32 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "hang" => {
            shared.stop.store(true, Ordering::SeqCst);
            eprintln!("fault injection: hanging");
            loop {
                thread::sleep(Duration::from_secs(3600));
            }
        }
        _ => {}
    }
}
