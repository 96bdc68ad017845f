//! `sextant`: the one binary. The numeric core's commands (`predict`, `explain`, `inspect`,
//! `bench`), the services (`serve`, `quickstart`), the analyzer the scheduler launches
//! (`analyzer run`), and the CLI client of a running server (`project`, `model`, `data`, `job`,
//! `influences`, `importance`, `metrics`).

mod analyzer;
mod bench;
mod bench_any;
mod commands;
mod credentials;
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
    about = "Self-hosted model intelligence: predictions and feature influences for tree ensembles and ONNX models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A command that computes here: its arguments and the threads to compute with.
#[derive(clap::Args)]
struct Computing<A: clap::Args> {
    /// Worker threads for the computation (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(flatten)]
    args: A,
}

/// A command that talks to a server: its arguments and the server's.
#[derive(clap::Args)]
struct OnServer<A: clap::Args> {
    #[command(flatten)]
    client: commands::ClientArgs,
    #[command(flatten)]
    args: A,
}

/// A group of subcommands, as arguments of the command that holds them.
#[derive(clap::Args)]
struct Group<C: Subcommand> {
    #[command(subcommand)]
    command: C,
}

#[derive(Subcommand)]
enum Command {
    /// Predict: one row of margins and responses (probabilities, values) per input row.
    Predict(Computing<predict::PredictArgs>),
    /// Explain: Shapley values of every feature for every input row (exact TreeSHAP for trees,
    /// sampled with standard errors for any model).
    Explain(Computing<explain::ExplainArgs>),
    /// Describe a model file: format, objective, trees or graph, depth, features.
    Inspect(inspect::InspectArgs),
    /// Benchmark against XGBoost, LightGBM, shap and FastTreeSHAP on a workload folder.
    Bench(Computing<bench::BenchArgs>),
    /// Benchmark resource isolation: query latency idle and while analyzers compute.
    BenchIsolation(isolation::IsolationArgs),
    /// Start a server on embedded defaults, analyse the bundled demo model, keep serving.
    Quickstart(quickstart::QuickstartArgs),
    /// Run the services (ingest, intelligence, scheduler, gateway).
    Serve(serve::ServeArgs),
    /// Analyzer processes (launched by the scheduler).
    Analyzer(Computing<Group<analyzer::AnalyzerCommand>>),
    /// Projects on a server.
    Project(OnServer<Group<commands::ProjectCommand>>),
    /// Models on a server.
    Model(OnServer<Group<commands::ModelCommand>>),
    /// Datasets on a server.
    Data(OnServer<Group<commands::DataCommand>>),
    /// Segments of a project: named filters over its datasets' rows.
    Segment(OnServer<Group<commands::SegmentCommand>>),
    /// Feature groups of a project: features whose influences are reported together.
    #[command(name = "group")]
    FeatureGroup(OnServer<Group<commands::GroupCommand>>),
    /// Jobs on a server.
    Job(OnServer<Group<commands::JobCommand>>),
    /// A page of stored influences.
    Influences(OnServer<commands::ResultArgs>),
    /// A page of stored predictions.
    Predictions(OnServer<commands::ResultArgs>),
    /// Global importance of stored influences.
    Importance(OnServer<commands::ResultArgs>),
    /// Quality metrics of stored predictions.
    Metrics(OnServer<commands::ResultArgs>),
    /// Quality curves of stored predictions: ROC, precision-recall, calibration, counts by
    /// threshold; residuals of a regression.
    Curves(OnServer<commands::CurvesArgs>),
    /// Stored influences at sampled rows, beside the data's values there.
    Points(OnServer<commands::PointsArgs>),
    /// One row's stored explanation, by its index or its id.
    Explanation(OnServer<commands::ExplanationArgs>),
    /// The segments (one or two conditions on the dataset's columns) where a model's loss is
    /// worst, each with a confidence interval and an expression to save as a segment.
    Hotspots(OnServer<commands::HotspotArgs>),
    /// Fairness of a binary classifier between a protected group and a reference group:
    /// fairlearn's measures with bootstrap confidence intervals.
    Fairness(OnServer<commands::FairnessArgs>),
    /// Several models on one dataset: a leaderboard by a metric, importance side by side,
    /// agreement of their predictions, and the rows where they disagree most.
    Compare(OnServer<commands::CompareArgs>),
    /// Drift of a model's data and score from a reference dataset to a current one: PSI, KS,
    /// Wasserstein, Jensen–Shannon per feature with verdicts, and the features that contribute
    /// to the change of the mean score (runs the drift job, or reads its stored result).
    Drift(OnServer<commands::DriftArgs>),
    /// Save a server's token for the CLI (checked with the server first).
    Login(OnServer<commands::LoginArgs>),
    /// Who the CLI is logged in as, and their roles.
    Whoami(OnServer<NoArgs>),
    /// Users on a server (admins).
    User(OnServer<Group<commands::UserCommand>>),
    /// Your API tokens.
    Token(OnServer<Group<commands::TokenCommand>>),
    /// The audit log: every change and every denied request.
    Audit(OnServer<commands::AuditArgs>),
}

/// A command with no arguments of its own.
#[derive(clap::Args)]
struct NoArgs {}

/// How influences are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// TreeSHAP: absent features follow the training cover (XGBoost pred_contribs, LightGBM
    /// pred_contrib).
    PathDependent,
    /// TreeSHAP: absent features take background rows' values (shap's interventional
    /// TreeExplainer).
    Interventional,
    /// Sampled Shapley values of the interventional game, for any model, with standard errors
    /// (exact enumeration for few features).
    Sampled,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::PathDependent => "path-dependent",
            Method::Interventional => "interventional",
            Method::Sampled => "sampled",
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

/// Loads a model file and, for an ONNX file that names no features, names them from
/// `--feature-names` (comma-separated, in the input's column order).
pub fn load_named_model(
    path: &std::path::Path,
    names: Option<&str>,
) -> anyhow::Result<sextant_model::Model> {
    let mut model = load_model(path)?;
    let Some(names) = names else {
        return Ok(model);
    };
    let names: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
    if !sextant_import::has_positional_names(&model) {
        anyhow::bail!(
            "{}: --feature-names is for an ONNX file that names no features, and this one names them ({})",
            path.display(),
            model
                .features()
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !sextant_import::name_positional_features(&mut model, &names) {
        anyhow::bail!(
            "--feature-names lists {} names and the model reads {} columns",
            names.len(),
            model.n_features()
        );
    }
    Ok(model)
}

/// A hint for a data file whose columns are not an ONNX model's positional names.
pub fn naming_hint(model: &sextant_model::Model) -> &'static str {
    if sextant_import::has_positional_names(model) {
        " (the ONNX file names no features, so they are f0, f1, …: name them with --feature-names)"
    } else {
        ""
    }
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

/// Sizes the global thread pool the computing commands use.
fn use_threads(threads: Option<usize>) -> Result<(), Failure> {
    let Some(threads) = threads else {
        return Ok(());
    };
    if threads == 0 {
        return Err(Failure::Input(anyhow::anyhow!(
            "--threads must be at least 1"
        )));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| Failure::Input(anyhow::anyhow!("cannot start {threads} threads: {e}")))
}

/// Runs a client command against the server its arguments name.
fn on_server<A: clap::Args>(
    on: OnServer<A>,
    run: impl FnOnce(&sextant_client::Client, bool, A) -> Result<(), Failure>,
) -> Result<(), Failure> {
    end_quietly_when_the_reader_goes();
    let client = on.client.client()?;
    run(&client, on.client.json, on.args)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Predict(c) => use_threads(c.threads).and_then(|()| predict::run(c.args)),
        Command::Explain(c) => use_threads(c.threads).and_then(|()| explain::run(c.args)),
        Command::Inspect(args) => inspect::run(args),
        Command::Bench(c) => use_threads(c.threads).and_then(|()| bench::run(c.args)),
        Command::BenchIsolation(args) => isolation::run(args),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Analyzer(c) => use_threads(c.threads).and_then(|()| analyzer::run(c.args.command)),
        Command::Project(on) => on_server(on, |c, json, g| commands::project(c, json, g.command)),
        Command::Model(on) => on_server(on, |c, json, g| commands::model(c, json, g.command)),
        Command::Data(on) => on_server(on, |c, json, g| commands::data(c, json, g.command)),
        Command::Segment(on) => on_server(on, |c, json, g| commands::segment(c, json, g.command)),
        Command::FeatureGroup(on) => {
            on_server(on, |c, json, g| commands::group(c, json, g.command))
        }
        Command::Job(on) => on_server(on, |c, json, g| commands::job(c, json, g.command)),
        Command::Influences(on) => on_server(on, |c, json, a| {
            commands::table_page(c, json, "influences", a)
        }),
        Command::Predictions(on) => on_server(on, |c, json, a| {
            commands::table_page(c, json, "predictions", a)
        }),
        Command::Importance(on) => on_server(on, commands::importance),
        Command::Metrics(on) => on_server(on, commands::metrics),
        Command::Curves(on) => on_server(on, commands::curves),
        Command::Points(on) => on_server(on, commands::points),
        Command::Explanation(on) => on_server(on, commands::explanation),
        Command::Hotspots(on) => on_server(on, commands::hotspots),
        Command::Fairness(on) => on_server(on, commands::fairness),
        Command::Compare(on) => on_server(on, commands::compare),
        Command::Drift(on) => on_server(on, commands::drift),
        Command::Login(on) => commands::login(on.client, on.args),
        Command::Whoami(on) => on_server(on, |c, json, _| commands::whoami(c, json)),
        Command::User(on) => on_server(on, |c, json, g| commands::user(c, json, g.command)),
        Command::Token(on) => on_server(on, |c, json, g| commands::token(c, json, g.command)),
        Command::Audit(on) => on_server(on, commands::audit),
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
