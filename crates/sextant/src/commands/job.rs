//! `sextant job`: run (and follow), list, show, cancel, wait.

use std::fmt::Display;

use anyhow::anyhow;
use clap::builder::TypedValueParser as _;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sextant_api::{CreateJob, InfluenceMethod, Job, JobKind, JobOptions, JobState};
use sextant_client::Client;

use super::print_json;
use crate::Failure;
use crate::report::print_table;

#[derive(Clone, Copy, ValueEnum)]
pub enum MethodArg {
    /// TreeSHAP; absent features follow the training cover.
    PathDependent,
    /// TreeSHAP; absent features take the background rows' values.
    Interventional,
    /// Sampled Shapley values of the interventional game, for any model, with standard errors.
    Sampled,
}

impl MethodArg {
    pub(crate) fn method(self) -> InfluenceMethod {
        match self {
            MethodArg::PathDependent => InfluenceMethod::PathDependent,
            MethodArg::Interventional => InfluenceMethod::Interventional,
            MethodArg::Sampled => InfluenceMethod::Sampled,
        }
    }
}

/// `--kind`: the kinds the API has, by name.
fn job_kinds() -> impl clap::builder::TypedValueParser<Value = JobKind> {
    clap::builder::PossibleValuesParser::new(JobKind::ALL.map(JobKind::as_str))
        .map(|name| JobKind::parse(&name).expect("a possible value is a kind"))
}

#[derive(Args)]
pub struct JobRun {
    project: String,
    #[arg(long, value_parser = job_kinds())]
    kind: JobKind,
    #[arg(long)]
    model: String,
    #[arg(long)]
    dataset: String,
    /// Background dataset (interventional and sampled influences, error influences, drift
    /// contributors).
    #[arg(long)]
    background: Option<String>,
    /// Drift: the reference dataset the data is compared with.
    #[arg(long)]
    reference: Option<String>,
    /// Drift: rows of each dataset whose influences give the contributors (default 1000).
    #[arg(long)]
    contributor_rows: Option<u64>,
    /// Influence method (default: path-dependent, or interventional with --background, for a
    /// tree ensemble; sampled for any other model).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Sampled influences: a row is done once every value's standard error is at most this
    /// (default 0.001, in the units of the model's output).
    #[arg(long)]
    target_stderr: Option<f64>,
    /// Sampled influences: the most model evaluations spent on one row (default 100000).
    #[arg(long)]
    max_evals: Option<u64>,
    /// Sampled influences: the seed (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Error influences: the loss explained (log_loss, the default, or brier for classifiers;
    /// squared_error, the default, or absolute_error for regressions).
    #[arg(long, value_parser = super::hotspots::parse_metric)]
    loss: Option<sextant_api::RowLoss>,
    /// Only the first N rows.
    #[arg(long)]
    rows: Option<u64>,
    /// Classification threshold for metrics (binary).
    #[arg(long)]
    threshold: Option<f64>,
    /// Analyzer memory limit in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Analyzers that share the job: the rows of an influences or error-influences job, the
    /// features of a drift job (default: the server decides).
    #[arg(long)]
    shards: Option<u32>,
    /// Follow the job with a progress bar until it finishes.
    #[arg(long)]
    wait: bool,
}

#[derive(Subcommand)]
pub enum JobCommand {
    /// Submit a job.
    Run(Box<JobRun>),
    /// List recent jobs.
    List { project: Option<String> },
    /// Show a job.
    Show { id: String },
    /// Cancel a job.
    Cancel { id: String },
    /// Follow a job until it finishes.
    Wait { id: String },
}

fn job_row(job: &Job) -> Vec<String> {
    vec![
        job.id.to_string(),
        job.project.clone(),
        job.spec.kind.as_str().to_string(),
        job.spec.model().name.clone(),
        job.spec.data().name.clone(),
        job.state.as_str().to_string(),
        format!("{:.0}%", job.progress.percent),
        note(job),
    ]
}

/// Why a job is where it is: the reason it failed or waits to retry, or the identical job it
/// follows.
fn note(job: &Job) -> String {
    match (&job.reason, job.follows) {
        (Some(reason), _) => reason.clone(),
        (None, Some(leader)) if !job.state.is_terminal() => {
            format!("follows job {leader} (same result)")
        }
        _ => String::new(),
    }
}

const JOB_HEADER: [&str; 8] = [
    "ID", "PROJECT", "KIND", "MODEL", "DATASET", "STATE", "PROGRESS", "NOTE",
];

/// Follows a job with a progress bar; returns it finished.
pub fn wait_for(client: &Client, id: impl Display, label: &str) -> anyhow::Result<Job> {
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {percent:>3}% {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    let job = client.follow(id, |job| {
        bar.set_position((job.progress.percent * 10.0) as u64);
        let eta = job
            .progress
            .eta_seconds
            .map(|s| format!(", eta {s:.0} s"))
            .unwrap_or_default();
        let following = match job.follows {
            Some(leader) => format!(" (following job {leader})"),
            None => String::new(),
        };
        bar.set_message(format!(
            "{} {} rows{eta}{following}",
            job.state.as_str(),
            job.progress.rows_done
        ));
    })?;
    if job.state == JobState::Succeeded {
        bar.set_position(1000);
    }
    bar.finish_with_message(format!(
        "{}{}",
        job.state.as_str(),
        if job.cached { " (stored result)" } else { "" }
    ));
    Ok(job)
}

pub fn job(client: &Client, json_out: bool, command: JobCommand) -> Result<(), Failure> {
    match command {
        JobCommand::Run(args) => {
            let request = CreateJob {
                reference: args.reference.clone(),
                kind: args.kind,
                model: args.model.clone(),
                dataset: args.dataset.clone(),
                background: args.background.clone(),
                options: JobOptions {
                    method: args.method.map(MethodArg::method),
                    rows: args.rows,
                    threshold: args.threshold,
                    target_stderr: args.target_stderr,
                    max_evals: args.max_evals,
                    seed: args.seed,
                    loss: args.loss,
                    contributor_rows: args.contributor_rows,
                },
                memory_mib: args.memory_mib,
                shards: args.shards,
            };
            let job = client.submit_job(&args.project, &request)?;
            let job = if args.wait {
                wait_for(client, job.id, job.spec.kind.as_str())?
            } else {
                job
            };
            if json_out {
                print_json(&job);
            } else {
                println!("job {} {}", job.id, job.state.as_str());
                if let Some(reason) = &job.reason {
                    println!("reason: {reason}");
                } else if !job.state.is_terminal()
                    && let Some(leader) = job.follows
                {
                    println!("follows job {leader}, which computes the same result");
                }
            }
            if args.wait && job.state != JobState::Succeeded {
                return Err(Failure::Check(anyhow!(
                    "job {} {}: {}",
                    job.id,
                    job.state.as_str(),
                    job.reason.unwrap_or_default()
                )));
            }
        }
        JobCommand::List { project } => {
            let jobs = client.jobs(project.as_deref(), None)?;
            if json_out {
                print_json(&jobs);
            } else {
                let rows: Vec<Vec<String>> = jobs.iter().map(job_row).collect();
                print_table(&JOB_HEADER, &rows);
            }
        }
        JobCommand::Show { id } => {
            let job = client.job(&id)?;
            if json_out {
                print_json(&job);
            } else {
                print_table(&JOB_HEADER, &[job_row(&job)]);
            }
        }
        JobCommand::Cancel { id } => {
            let job = client.cancel_job(&id)?;
            if json_out {
                print_json(&job);
            } else {
                println!("job {} {}", job.id, job.state.as_str());
            }
        }
        JobCommand::Wait { id } => {
            let job = wait_for(client, &id, "job")?;
            if json_out {
                print_json(&job);
            } else {
                print_table(&JOB_HEADER, &[job_row(&job)]);
            }
        }
    }
    Ok(())
}
