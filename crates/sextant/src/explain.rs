//! `sextant explain`: exact Shapley values for every row, streamed batch by batch.

use std::cell::RefCell;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use sextant_algo::{
    ADDITIVITY_TOLERANCE, Additivity, Interventional, PathDependent, Predictor, check_additivity,
    explanation_len, push_explanations,
};
use sextant_data::{Batch, TableWriter, open_table, read_table};
use sextant_model::Rows;

use sextant_analyzer::columns::{Explainer, additivity_verdict, explanation_columns};
use sextant_analyzer::pipeline;

use crate::progress::{RowProgress, rate};
use crate::{Failure, Method, analyzer_failure, output_path};

/// Rows read, explained and written at a time: enough to keep every core busy, few enough that
/// memory stays small whatever the file size.
const BATCH_ROWS: usize = 2048;

#[derive(Args)]
pub struct ExplainArgs {
    /// The model file (XGBoost JSON or LightGBM text).
    #[arg(long)]
    model: PathBuf,
    /// The rows to explain (CSV with a header, or Parquet); columns are matched by name.
    #[arg(long)]
    data: PathBuf,
    /// Background rows for the interventional method (CSV or Parquet).
    #[arg(long)]
    background: Option<PathBuf>,
    /// Which game to explain (default: interventional when --background is given, else
    /// path-dependent).
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// Where to write: a .csv or .parquet file, or - for CSV on standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Explain only the first N rows.
    #[arg(long)]
    rows: Option<usize>,
}

pub fn run(args: ExplainArgs) -> Result<(), Failure> {
    let method = match (args.method, &args.background) {
        (Some(Method::Interventional), None) => {
            return Err(anyhow!("--method interventional needs --background FILE (the rows that stand in for absent features)").into());
        }
        (Some(m), _) => m,
        (None, Some(_)) => Method::Interventional,
        (None, None) => Method::PathDependent,
    };
    let model = crate::load_model(&args.model)?;
    let forest = crate::tree_ensemble(&model, &args.model)?;
    let background = match (&args.background, method) {
        (Some(path), Method::Interventional) => {
            let b = read_table(path, forest.features(), None)
                .context("cannot read the background data")?;
            if b.n_rows == 0 {
                return Err(anyhow!("{}: the background data has no rows", path.display()).into());
            }
            Some(b)
        }
        _ => None,
    };
    let explainer = match &background {
        Some(b) => Explainer::Interventional(Interventional::new(
            forest,
            Rows::new(&b.values, forest.n_features()),
        )),
        None => Explainer::PathDependent(PathDependent::new(forest)),
    };
    let reader = open_table(&args.data, forest.features(), BATCH_ROWS)?;
    let output = output_path(args.output);
    let writer = TableWriter::create(&output, &explanation_columns(&model))?;

    let (n_features, n_out) = (forest.n_features(), forest.n_outputs());
    let predictor = Predictor::new(forest);
    let progress = RowProgress::new("explain");
    let (mut phi, mut margins) = (Vec::new(), Vec::new());
    let additivity = RefCell::new(Additivity::default());
    let compute = |batch: &Batch, n: usize| {
        let rows = Rows::new(&batch.values[..n * n_features], n_features);
        phi.resize(explanation_len(forest, n), 0.0);
        margins.resize(n * n_out, 0.0);
        explainer.explain(rows, &mut phi);
        predictor.predict_margins(rows, &mut margins);
        additivity
            .borrow_mut()
            .merge(check_additivity(&phi, &margins, n_features));
        let mut table = Vec::with_capacity(n * n_out * (n_features + 2));
        push_explanations(&phi, &margins, n_features, &mut table);
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
    let background_note = match (&explainer, &background) {
        (Explainer::PathDependent(e), _) => {
            let s = e.strategy();
            format!(
                " ({} leaves by subset tables, {} by classic extend/unwind)",
                s.table_leaves, s.path_leaves
            )
        }
        (_, Some(b)) => format!(" against {} background rows", b.n_rows),
        (_, None) => String::new(),
    };
    let summary = format!(
        "explained {done} rows in {seconds:.3} s ({} rows/s), {}{background_note}; worst additivity error {:.2e} ({} of {} over {ADDITIVITY_TOLERANCE:e}·max(1,|margin|))",
        rate(done, seconds),
        method.name(),
        additivity.worst_abs,
        additivity.failing,
        additivity.checked,
    );
    eprintln!("{summary}");
    Ok(())
}
