//! Failed authentications per client address: after too many in a minute, the address is
//! answered 429 until the minute is over. Counted in each process (each service checks its own
//! requests); an address that spreads its guesses over the processes of a split deployment
//! gets as many per process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted over.
const WINDOW: Duration = Duration::from_secs(60);

/// Addresses tracked at most; beyond it, windows that ended are dropped.
const MAX_ADDRESSES: usize = 100_000;

/// Failures of one address in its current window.
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failures per address.
pub(super) struct FailureLimit {
    max: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl FailureLimit {
    pub(super) fn new(max_per_minute: u32) -> FailureLimit {
        FailureLimit {
            max: max_per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a failure.
    pub(super) fn record(&self, client: IpAddr) {
        let mut windows = self.windows.lock().expect("limit lock");
        if windows.len() >= MAX_ADDRESSES {
            windows.retain(|_, w| w.started.elapsed() < WINDOW);
        }
        let window = windows.entry(client).or_insert(Window {
            started: Instant::now(),
            failures: 0,
        });
        if window.started.elapsed() >= WINDOW {
            *window = Window {
                started: Instant::now(),
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    /// How long `client` must wait, when it has used up its failures.
    pub(super) fn blocked(&self, client: IpAddr) -> Option<Duration> {
        let windows = self.windows.lock().expect("limit lock");
        let window = windows.get(&client)?;
        let elapsed = window.started.elapsed();
        (window.failures >= self.max && elapsed < WINDOW).then(|| WINDOW - elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_and_others_are_not() {
        let limit = FailureLimit::new(3);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        for _ in 0..2 {
            limit.record(a);
        }
        assert!(limit.blocked(a).is_none());
        limit.record(a);
        let wait = limit.blocked(a).expect("blocked");
        assert!(wait <= WINDOW && wait > Duration::from_secs(50));
        assert!(limit.blocked(b).is_none());
    }
}
