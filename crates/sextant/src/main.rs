//! `sextant`: the one binary. The numeric core's commands (`predict`, `explain`, `inspect`,
//! `bench`), the services (`serve`, `quickstart`), the analyzer the scheduler launches
//! (`analyzer run`), and the CLI client of a running server (`project`, `model`, `data`, `job`,
//! `influences`, `importance`, `metrics`).

mod analyzer;
mod bench;
mod commands;
mod explain;
mod inspect;
mod isolation;
mod predict;
mod progress;
mod quickstart;
mod report;
mod schema_inference;
mod serve;

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
    #[command(flatten)]
    client: commands::ClientArgs,
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
    /// Benchmark resource isolation: query latency idle and while analyzers compute.
    BenchIsolation(isolation::IsolationArgs),
    /// Start a server on embedded defaults, analyse the bundled demo model, keep serving.
    Quickstart(quickstart::QuickstartArgs),
    /// Run the services (ingest, intelligence, scheduler, gateway).
    Serve(serve::ServeArgs),
    /// Analyzer processes (launched by the scheduler).
    #[command(subcommand)]
    Analyzer(analyzer::AnalyzerCommand),
    /// Projects on a server.
    #[command(subcommand)]
    Project(commands::ProjectCommand),
    /// Models on a server.
    #[command(subcommand)]
    Model(commands::ModelCommand),
    /// Datasets on a server.
    #[command(subcommand)]
    Data(commands::DataCommand),
    /// Jobs on a server.
    #[command(subcommand)]
    Job(commands::JobCommand),
    /// A page of stored influences.
    Influences(commands::ResultArgs),
    /// A page of stored predictions.
    Predictions(commands::ResultArgs),
    /// Global importance of stored influences.
    Importance(commands::ResultArgs),
    /// Quality metrics of stored predictions.
    Metrics(commands::ResultArgs),
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

/// The exit a failed analyzer computation gets: a failed check is 1, anything else 2.
pub fn analyzer_failure(e: sextant_analyzer::AnalyzerError) -> Failure {
    if e.is_check() {
        Failure::Check(e.into())
    } else {
        Failure::Input(e.into())
    }
}

/// Lets a client command whose reader goes away (`sextant job list | head -3`) end quietly, as
/// Unix tools do: Rust's runtime ignores SIGPIPE, so a write to the closed pipe would fail and
/// `println!` panic; the default action ends the process without a word. Only the client
/// commands: the services write to sockets, which report a closed peer as an error instead.
fn end_quietly_when_the_reader_goes() {
    // SAFETY: signal(2) sets the process's disposition of one signal back to its default; no
    // handler of ours is installed, so no Rust code runs in signal context.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Loads a model file (its format recognised from its content).
pub fn load_model(path: &std::path::Path) -> anyhow::Result<sextant_model::Model> {
    use anyhow::Context;
    sextant_import::load_model(path, None).context("cannot load the model")
}

/// The trees of a model that must be a tree ensemble: exact TreeSHAP, `inspect` and `bench`
/// read them.
pub fn tree_ensemble<'m>(
    model: &'m sextant_model::Model,
    path: &std::path::Path,
) -> anyhow::Result<&'m sextant_model::Forest> {
    model.trees().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: this {} model has no trees (exact TreeSHAP needs a tree ensemble)",
            path.display(),
            model.info().format
        )
    })
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
        Command::BenchIsolation(args) => isolation::run(args),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Analyzer(command) => analyzer::run(command),
        command => {
            end_quietly_when_the_reader_goes();
            let client = sextant_client::Client::new(&cli.client.server);
            let json = cli.client.json;
            match command {
                Command::Project(c) => commands::project(&client, json, c),
                Command::Model(c) => commands::model(&client, json, c),
                Command::Data(c) => commands::data(&client, json, c),
                Command::Job(c) => commands::job(&client, json, c),
                Command::Influences(a) => commands::table_page(&client, json, "influences", a),
                Command::Predictions(a) => commands::table_page(&client, json, "predictions", a),
                Command::Importance(a) => commands::importance(&client, json, a),
                Command::Metrics(a) => commands::metrics(&client, json, a),
                _ => unreachable!("handled above"),
            }
        }
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
