//! Sextant's analyzer as a library: the short-lived worker that computes one job (or one shard
//! of it) and exits.
//!
//! - [`kinds`]: the job kinds behind one abstraction ([`Analysis`]): how requests are checked,
//!   what a job costs, whether it shards, and how it computes. The services use the kinds
//!   without the `compute` feature, so they never link the numeric algorithms.
//! - [`run_job`] (feature `compute`): the protocol with the scheduler — fetch the task with the
//!   job-scoped token, compute while a reporter thread sends progress, store the result files
//!   and the manifest, post it.
//! - [`pipeline`], [`columns`] (feature `compute`): the overlapped read → compute → write
//!   pipeline and the result columns, shared with the numeric commands (`sextant predict`,
//!   `sextant explain`).

mod error;
mod faults;
pub mod kinds;

#[cfg(feature = "compute")]
mod board;
#[cfg(feature = "compute")]
pub mod columns;
#[cfg(feature = "compute")]
mod part;
#[cfg(feature = "compute")]
pub mod pipeline;
#[cfg(feature = "compute")]
mod run;

pub use error::{AnalyzerError, AnalyzerResult};
pub use faults::Fault;
pub use kinds::{Analysis, Cost, CostInputs, Documents, analysis, shardable_kinds};

/// The local scratch folder of one shard's analyzer for a job, in the system's temporary
/// folder: its downloaded inputs and the table it writes. The analyzer removes it when it ends;
/// the process launcher removes what an analyzer killed before that left.
pub fn scratch_dir(job: impl std::fmt::Display, shard: u32) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sextant-analyzer-{job}-{shard}"))
}

#[cfg(feature = "compute")]
pub use board::ProgressBoard;
#[cfg(feature = "compute")]
pub use part::{PartInput, PartOutput, Shard};
#[cfg(feature = "compute")]
pub use run::{CANCELLED_EXIT_CODE, RunOptions, run_job};
