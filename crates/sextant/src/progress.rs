//! A progress bar on standard error, drawn only when it is a terminal.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sextant_data::Progress;

pub struct RowProgress {
    bar: ProgressBar,
    started: Instant,
}

impl RowProgress {
    pub fn new(verb: &str) -> RowProgress {
        let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {percent:>3}% {msg} (eta {eta})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(verb.to_string());
        RowProgress {
            bar,
            started: Instant::now(),
        }
    }

    /// Moves the bar to the reader's position and shows the rows done.
    pub fn update(&self, progress: Progress, rows: usize, row_limit: Option<usize>) {
        let by_input = progress
            .total
            .filter(|&t| t > 0)
            .map(|t| progress.done as f64 / t as f64);
        let by_limit = row_limit.map(|l| rows as f64 / l.max(1) as f64);
        let fraction = match (by_input, by_limit) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b).unwrap_or(0.0),
        };
        self.bar.set_position((fraction.min(1.0) * 1000.0) as u64);
        self.bar.set_message(format!("{rows} rows"));
    }

    /// Clears the bar; returns the seconds since it started.
    pub fn finish(self) -> f64 {
        self.bar.finish_and_clear();
        self.started.elapsed().as_secs_f64()
    }
}

/// Rows per second, for summary lines.
pub fn rate(rows: usize, seconds: f64) -> String {
    if seconds <= 0.0 {
        return "-".into();
    }
    format!("{:.0}", rows as f64 / seconds)
}
