//! `sextant explain`: every feature's Shapley value for every row, streamed batch by batch:
//! exact TreeSHAP for tree ensembles, sampled Shapley (with standard errors) for any model.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use sextant_algo::{
    ADDITIVITY_TOLERANCE, Additivity, DEFAULT_EXACT_MAX_FEATURES, DEFAULT_MAX_EVALS,
    Interventional, ModelPredictor, PathDependent, Sampled, SampledOptions, SampledStats,
    check_additivity, push_explanations, push_sampled_explanations, stderr_columns,
};
use sextant_data::{Batch, TableWriter, open_table, read_table};
use sextant_model::{Model, Rows};

use sextant_analyzer::columns::{Explainer, additivity_verdict, explanation_columns};
use sextant_analyzer::pipeline;

use crate::progress::{RowProgress, rate};
use crate::{Failure, Method, analyzer_failure, output_path};

/// Rows read, explained and written at a time: enough to keep every core busy, few enough that
/// memory stays small whatever the file size.
const BATCH_ROWS: usize = 2048;

#[derive(Args)]
pub struct ExplainArgs {
    /// The model file (XGBoost JSON, LightGBM text or ONNX).
    #[arg(long)]
    model: PathBuf,
    /// For an ONNX file that names no features: their names, comma-separated, in the input's
    /// column order (the data's columns are matched by name).
    #[arg(long)]
    feature_names: Option<String>,
    /// The rows to explain (CSV with a header, or Parquet); columns are matched by name.
    #[arg(long)]
    data: PathBuf,
    /// Background rows for the interventional and sampled methods (CSV or Parquet).
    #[arg(long)]
    background: Option<PathBuf>,
    /// How to compute influences (default: for a tree ensemble, interventional when
    /// --background is given, else path-dependent; for any other model, sampled).
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// Rows whose paths through the trees give the node covers that path-dependent TreeSHAP
    /// needs, for a model file that holds none (ONNX trees): the training data, as a rule.
    #[arg(long)]
    cover_data: Option<PathBuf>,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Where to write: a .csv or .parquet file, or - for CSV on standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Explain only the first N rows.
    #[arg(long)]
    rows: Option<usize>,
}

/// How sampled Shapley stops, and its seed.
#[derive(Args)]
pub struct SamplingArgs {
    /// Sampled: a row is done once every value's standard error is at most this (in the units
    /// of the model's output).
    #[arg(long, default_value_t = 1e-3)]
    target_stderr: f64,
    /// Sampled: the most model evaluations spent on one row.
    #[arg(long, default_value_t = DEFAULT_MAX_EVALS)]
    max_evals: u64,
    /// Sampled: the seed; the same seed gives the same values, however the rows are batched.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampled: enumerate every coalition (exact values) when the model has at most this many
    /// features and the enumeration fits --max-evals.
    #[arg(long, default_value_t = DEFAULT_EXACT_MAX_FEATURES)]
    exact_max_features: usize,
}

impl SamplingArgs {
    pub fn options(&self) -> Result<SampledOptions, Failure> {
        if !(self.target_stderr >= 0.0 && self.target_stderr.is_finite()) {
            return Err(anyhow!(
                "--target-stderr must be a finite number at or above 0, not {}",
                self.target_stderr
            )
            .into());
        }
        if self.max_evals == 0 {
            return Err(anyhow!("--max-evals must be at least 1").into());
        }
        Ok(SampledOptions {
            target_stderr: self.target_stderr,
            max_evals: self.max_evals,
            seed: self.seed,
            exact_max_features: self.exact_max_features,
        })
    }
}

/// The method asked, or the model's default; refuses combinations that cannot run.
fn choose_method(model: &Model, args: &ExplainArgs) -> Result<Method, Failure> {
    let trees = model.trees().is_some();
    let method = match (args.method, &args.background) {
        (Some(m), _) => m,
        (None, _) if !trees => Method::Sampled,
        (None, Some(_)) => Method::Interventional,
        (None, None) => Method::PathDependent,
    };
    let path = args.model.display();
    if !trees && method != Method::Sampled {
        return Err(anyhow!(
            "{path}: TreeSHAP ({}) needs a tree ensemble, and this {} model is a graph; use --method sampled with --background FILE",
            method.name(),
            model.info().format
        )
        .into());
    }
    if args.background.is_none() && method != Method::PathDependent {
        return Err(anyhow!(
            "--method {} needs --background FILE (the rows that stand in for absent features)",
            method.name()
        )
        .into());
    }
    if args.cover_data.is_some() && method != Method::PathDependent {
        return Err(anyhow!(
            "--cover-data gives path-dependent TreeSHAP its node covers; --method {} does not use them",
            method.name()
        )
        .into());
    }
    Ok(method)
}

/// Gives an ONNX forest the covers it lacks, from `--cover-data`; refuses path-dependent
/// TreeSHAP without them.
fn prepare_covers(model: &mut Model, args: &ExplainArgs) -> Result<(), Failure> {
    let Model::Trees(forest) = model else {
        return Ok(());
    };
    match (&args.cover_data, forest.has_covers()) {
        (None, true) => Ok(()),
        (None, false) => Err(anyhow!(
            "{}: the model file holds no node covers (ONNX trees), which path-dependent TreeSHAP needs: pass --cover-data FILE (the training data) to count them, or --background FILE for the interventional game",
            args.model.display()
        )
        .into()),
        (Some(_), true) => Err(anyhow!(
            "{}: the model file has its training covers; --cover-data is for a file that holds none (ONNX trees)",
            args.model.display()
        )
        .into()),
        (Some(path), false) => {
            let rows = read_table(path, forest.features(), None)
                .with_context(|| format!("cannot read the cover data {}", path.display()))?;
            if rows.n_rows == 0 {
                return Err(anyhow!("{}: the cover data has no rows", path.display()).into());
            }
            forest.count_covers(Rows::new(&rows.values, forest.n_features()));
            Ok(())
        }
    }
}

fn read_background(path: &Path, model: &Model) -> Result<Batch, Failure> {
    let b = read_table(path, model.features(), None).with_context(|| {
        format!(
            "cannot read the background data{}",
            crate::naming_hint(model)
        )
    })?;
    if b.n_rows == 0 {
        return Err(anyhow!("{}: the background data has no rows", path.display()).into());
    }
    Ok(b)
}

pub fn run(args: ExplainArgs) -> Result<(), Failure> {
    let mut model = crate::load_named_model(&args.model, args.feature_names.as_deref())?;
    let method = choose_method(&model, &args)?;
    let options = args.sampling.options()?;
    if method == Method::PathDependent {
        prepare_covers(&mut model, &args)?;
    }
    let model = model;
    let background = match &args.background {
        Some(path) => Some(read_background(path, &model)?),
        None => None,
    };
    let (n_features, n_out) = (model.n_features(), model.n_outputs());
    let predictor = ModelPredictor::new(&model);
    let background_rows = background
        .as_ref()
        .map(|b| Rows::new(&b.values, n_features));
    let explainer = match (method, model.trees(), background_rows) {
        (Method::PathDependent, Some(forest), _) => {
            Explainer::PathDependent(PathDependent::new(forest))
        }
        (Method::Interventional, Some(forest), Some(b)) => {
            Explainer::Interventional(Interventional::new(forest, b))
        }
        (Method::Sampled, _, Some(b)) => Explainer::Sampled(
            Sampled::new(&predictor, b, options)
                .map_err(|e| anyhow!("the model failed on the background rows: {e}"))?,
        ),
        _ => unreachable!("choose_method refuses the other combinations"),
    };
    let reader = open_table(&args.data, model.features(), BATCH_ROWS)
        .with_context(|| format!("cannot read the data{}", crate::naming_hint(&model)))?;
    let output = output_path(args.output);
    let mut columns = explanation_columns(&model);
    if explainer.has_stderr() {
        columns.extend(stderr_columns(&model));
    }
    let writer = TableWriter::create(&output, &columns)?;

    let progress = RowProgress::new("explain");
    let (mut phi, mut stderr, mut margins) = (Vec::new(), Vec::new(), Vec::new());
    let additivity = RefCell::new(Additivity::default());
    let sampling = RefCell::new(SampledStats::default());
    let next_row = Cell::new(0u64);
    let compute = |batch: &Batch, n: usize| {
        let rows = Rows::new(&batch.values[..n * n_features], n_features);
        phi.resize(n * n_out * (n_features + 1), 0.0);
        stderr.resize(n * n_out * n_features, 0.0);
        margins.resize(n * n_out, 0.0);
        let stats = explainer
            .explain(rows, next_row.get(), &mut phi, &mut stderr)
            .map_err(|e| anyhow!("the model failed: {e}"))?;
        sampling.borrow_mut().merge(stats);
        next_row.set(next_row.get() + n as u64);
        predictor
            .predict_margins(rows, &mut margins)
            .map_err(|e| anyhow!("the model failed: {e}"))?;
        additivity
            .borrow_mut()
            .merge(check_additivity(&phi, &margins, n_features));
        let width = n_out * (n_features + 2)
            + if explainer.has_stderr() {
                n_out * n_features
            } else {
                0
            };
        let mut table = Vec::with_capacity(n * width);
        if explainer.has_stderr() {
            push_sampled_explanations(&phi, &margins, &stderr, n_features, n_out, &mut table);
        } else {
            push_explanations(&phi, &margins, n_features, &mut table);
        }
        Ok::<_, Failure>(table)
    };
    let keep = || {
        additivity_verdict(*additivity.borrow(), "no output was written").map_err(analyzer_failure)
    };
    let done = pipeline::run(
        reader,
        writer,
        args.rows,
        compute,
        |p, done| progress.update(p, done, args.rows),
        keep,
    )?;
    let additivity = additivity.into_inner();
    let seconds = progress.finish();
    let note = match (&explainer, &background) {
        (Explainer::PathDependent(e), _) => {
            let s = e.strategy();
            format!(
                " ({} leaves by subset tables, {} by classic extend/unwind)",
                s.table_leaves, s.path_leaves
            )
        }
        (Explainer::Sampled(e), Some(b)) => {
            sampling_note(e.is_exact(), sampling.into_inner(), b.n_rows)
        }
        (_, Some(b)) => format!(" against {} background rows", b.n_rows),
        (_, None) => String::new(),
    };
    let summary = format!(
        "explained {done} rows in {seconds:.3} s ({} rows/s), {}{note}; worst additivity error {:.2e} ({} of {} over {ADDITIVITY_TOLERANCE:e}·max(1,|margin|))",
        rate(done, seconds),
        method.name(),
        additivity.worst_abs,
        additivity.failing,
        additivity.checked,
    );
    eprintln!("{summary}");
    Ok(())
}

/// What sampling did, for the summary line.
fn sampling_note(exact: bool, stats: SampledStats, background_rows: usize) -> String {
    let rows = stats.rows.max(1) as f64;
    if exact {
        return format!(
            " against {background_rows} background rows, exact (every coalition: {:.0} model evaluations a row)",
            stats.evals as f64 / rows
        );
    }
    format!(
        " against {background_rows} background rows: {:.1} antithetic pairs and {:.0} model evaluations a row, largest standard error {:.2e}, {} of {} rows stopped by --max-evals before --target-stderr",
        stats.pairs as f64 / rows,
        stats.evals as f64 / rows,
        stats.worst_stderr,
        stats.budget_stops,
        stats.rows
    )
}
