//! One job's analyzer from start to end: fetch the task from the scheduler, compute while a
//! reporter thread sends progress (the heartbeat), post the result or the failure.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sextant_client::{SchedulerLink, ShardOf};
use uuid::Uuid;

use crate::board::ProgressBoard;
use crate::faults::Fault;
use crate::part::{Shard, compute_part};
use crate::{AnalyzerError, AnalyzerResult};

/// The exit code of an analyzer that stops because its job was cancelled.
pub const CANCELLED_EXIT_CODE: i32 = 3;

/// The shortest interval between two progress reports.
const MIN_REPORT_INTERVAL: Duration = Duration::from_millis(50);

/// How often the reporter looks whether it should stop or report.
const REPORTER_TICK: Duration = Duration::from_millis(20);

/// How long a crashing analyzer lives first (so that it has reported once).
const CRASH_AFTER: Duration = Duration::from_millis(300);

/// Bytes allocated at a time by the `oom` fault.
const OOM_CHUNK_BYTES: usize = 32 << 20;

/// What an analyzer is started with.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The job.
    pub job: Uuid,
    /// The scheduler's base URL.
    pub server: String,
    /// The job-scoped token the scheduler gave.
    pub token: String,
    /// This analyzer's slice of the rows.
    pub shard: Shard,
    /// A fault to inject (tests).
    pub fault: Option<Fault>,
}

/// Runs one job's part to its end. Returns once the result (or the failure) is posted; a
/// cancelled job ends the process with [`CANCELLED_EXIT_CODE`].
pub fn run_job(options: RunOptions) -> AnalyzerResult<()> {
    let shard = options.shard;
    if shard.index >= shard.count {
        return Err(AnalyzerError::input(format!(
            "shard {} is not one of {} shards",
            shard.index, shard.count
        )));
    }
    let link = Arc::new(SchedulerLink::new(
        &options.server,
        options.job,
        options.token,
        Some(ShardOf {
            index: shard.index,
            count: shard.count,
        }),
    ));
    let task = link.task()?;
    let board = Arc::new(ProgressBoard::default());
    let heartbeat = {
        let (link, board) = (link.clone(), board.clone());
        let every = Duration::from_secs_f64(
            task.heartbeat_seconds
                .max(MIN_REPORT_INTERVAL.as_secs_f64()),
        );
        thread::spawn(move || report_loop(&link, &board, every))
    };
    inject_at_start(options.fault, &board);
    let outcome = compute_part(&task, shard, &board, options.fault).and_then(|manifest| {
        match options.fault {
            Some(Fault::Transient) => Err(AnalyzerError::Transient(
                "fault injection: the artifact store is unavailable for a moment".into(),
            )),
            _ => Ok(manifest),
        }
    });
    board.stop();
    let _ = heartbeat.join();
    match outcome {
        Ok(manifest) => {
            link.result(&manifest)?;
            eprintln!(
                "job {}: {} rows in {:.3} s",
                task.job_id, manifest.rows, manifest.seconds
            );
            Ok(())
        }
        Err(e) => {
            let reason = one_line(&e);
            eprintln!("job {}: {reason}", task.job_id);
            let _ = link.failure(&reason, e.is_transient());
            Err(e)
        }
    }
}

/// An error and its causes on one line.
fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    line.replace('\n', " ")
}

fn report_loop(link: &SchedulerLink, board: &ProgressBoard, every: Duration) {
    let mut last = Instant::now() - every;
    while !board.stopped() {
        if last.elapsed() >= every {
            last = Instant::now();
            match link.progress(&board.get()) {
                Ok(true) => {}
                Ok(false) => {
                    eprintln!("the job was cancelled; stopping");
                    std::process::exit(CANCELLED_EXIT_CODE);
                }
                Err(e) => eprintln!("warning: cannot report progress: {e}"),
            }
        }
        thread::sleep(REPORTER_TICK.min(every));
    }
}

fn inject_at_start(fault: Option<Fault>, board: &ProgressBoard) {
    match fault {
        Some(Fault::Crash) => {
            thread::sleep(CRASH_AFTER);
            eprintln!("fault injection: crashing");
            std::process::abort();
        }
        Some(Fault::Oom) => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every page, so the memory is really used, not just reserved.
                hoard.push(vec![1u8; OOM_CHUNK_BYTES]);
                std::hint::black_box(&hoard);
            }
        }
        Some(Fault::Hang) => {
            board.stop();
            eprintln!("fault injection: hanging");
            loop {
                thread::sleep(Duration::from_secs(3600));
            }
        }
        Some(Fault::Slow | Fault::Transient) | None => {}
    }
}
