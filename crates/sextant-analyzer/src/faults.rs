//! Faults an analyzer can be told to inject, so that the scheduler's handling of each is tested
//! against real processes. They reach the analyzer as a command-line option set by the
//! scheduler's configuration (`scheduler.analyzer_fault`), never through the environment.

use std::str::FromStr;

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Abort shortly after starting.
    Crash,
    /// Allocate until the memory limit stops the process.
    Oom,
    /// Stop reporting and stall.
    Hang,
    /// Compute in 100-row batches with a pause after each.
    Slow,
    /// Fail as if the artifact store were unavailable for a moment, after computing. The
    /// scheduler passes it to a job's first attempt only, so that its retry succeeds.
    Transient,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 5] = [
        Fault::Crash,
        Fault::Oom,
        Fault::Hang,
        Fault::Slow,
        Fault::Transient,
    ];

    /// Its name in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Crash => "crash",
            Fault::Oom => "oom",
            Fault::Hang => "hang",
            Fault::Slow => "slow",
            Fault::Transient => "transient",
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(name: &str) -> Result<Fault, String> {
        Fault::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| {
                format!("unknown fault {name:?} (expected crash, oom, hang, slow or transient)")
            })
    }
}
