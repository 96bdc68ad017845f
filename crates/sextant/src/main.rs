//! `sextant`: the one binary. For now it carries the numeric core's commands: `predict`,
//! `explain` and `inspect`.

mod bench;
mod explain;
mod inspect;
mod pipeline;
mod predict;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "sextant",
    version,
    about = "Self-hosted model intelligence: predictions and feature influences for tree ensembles"
)]
struct Cli {
    /// Worker threads for the computation (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Predict: one row of margins and responses (probabilities, values) per input row.
    Predict(predict::PredictArgs),
    /// Explain: exact Shapley values (TreeSHAP) of every feature for every input row.
    Explain(explain::ExplainArgs),
    /// Describe a model file: format, objective, trees, depth, features.
    Inspect(inspect::InspectArgs),
    /// Benchmark against XGBoost, LightGBM, shap and FastTreeSHAP on a workload folder.
    Bench(bench::BenchArgs),
}

/// The TreeSHAP game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Absent features follow the training cover (XGBoost pred_contribs, LightGBM pred_contrib).
    PathDependent,
    /// Absent features take background rows' values (shap's interventional TreeExplainer).
    Interventional,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::PathDependent => "path-dependent",
            Method::Interventional => "interventional",
        }
    }
}

/// A run stopped by bad input (exit code 2), or by a failed correctness check (exit code 1).
pub enum Failure {
    Input(anyhow::Error),
    Check(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::Input(e.into())
    }
}

/// Where a table goes: a path, or `-` for standard output.
fn output_path(path: Option<PathBuf>) -> PathBuf {
    path.unwrap_or_else(|| PathBuf::from("-"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        if threads == 0 {
            eprintln!("error: --threads must be at least 1");
            return ExitCode::from(2);
        }
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
        {
            eprintln!("error: cannot start {threads} threads: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Predict(args) => predict::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
        Err(Failure::Check(e)) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
