//! `sextant analyzer run`: the process the scheduler launches for one job (or one shard of it).
//! The work is `sextant_analyzer::run_job`; this reads the command line and the job-scoped token,
//! which comes from the environment (`SEXTANT_JOB_TOKEN`) so that it never shows in a process
//! listing.

use anyhow::anyhow;
use clap::{Args, Subcommand};
use sextant_analyzer::{Fault, RunOptions, Shard, run_job};
use uuid::Uuid;

use crate::Failure;

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
    /// A fault to inject, for tests of the scheduler: crash, oom, hang or slow.
    #[arg(long, value_parser = |s: &str| s.parse::<Fault>())]
    fault: Option<Fault>,
}

pub fn run(command: AnalyzerCommand) -> Result<(), Failure> {
    let AnalyzerCommand::Run(args) = command;
    let token = std::env::var("SEXTANT_JOB_TOKEN").map_err(|_| {
        anyhow!("SEXTANT_JOB_TOKEN is not set: analyzers are started by the scheduler")
    })?;
    let options = RunOptions {
        job: args.job,
        server: args.server,
        token,
        shard: Shard {
            index: args.shard.unwrap_or(0),
            count: args.shards.max(1),
        },
        fault: args.fault,
    };
    run_job(options).map_err(crate::analyzer_failure)
}
