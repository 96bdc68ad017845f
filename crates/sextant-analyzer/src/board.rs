//! The progress an analyzer's reporter thread sends: set by the computation, read by the
//! reporter.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use sextant_api::JobProgress;

/// The latest progress of a job, shared between the computation and the reporter.
pub struct ProgressBoard {
    progress: Mutex<JobProgress>,
    started: Instant,
    stop: AtomicBool,
}

impl Default for ProgressBoard {
    fn default() -> ProgressBoard {
        ProgressBoard {
            progress: Mutex::new(JobProgress {
                phase: "loading".into(),
                ..JobProgress::default()
            }),
            started: Instant::now(),
            stop: AtomicBool::new(false),
        }
    }
}

impl ProgressBoard {
    /// Records the phase, the rows done and the fraction done; the ETA follows from the time
    /// since the board was made.
    pub fn set(&self, phase: &str, rows_done: u64, rows_total: Option<u64>, fraction: f64) {
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

    /// The latest progress.
    pub fn get(&self) -> JobProgress {
        self.progress.lock().expect("progress lock").clone()
    }

    /// Tells the reporter to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the reporter should stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}
