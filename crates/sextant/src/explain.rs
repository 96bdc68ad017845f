//! `sextant explain`: exact Shapley values for every row, streamed batch by batch.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use sextant_algo::{
    ADDITIVITY_TOLERANCE, Additivity, Interventional, PathDependent, check_additivity,
    explanation_len, predict_margins,
};
use sextant_data::{TableWriter, open_table, read_table};
use sextant_model::{Forest, Rows};

use crate::progress::{RowProgress, rate};
use crate::{Failure, Method, output_path};

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

/// One column per feature, then `base_value` and `margin`; for multi-output models one such
/// block per output with a `__class<k>` suffix.
pub fn explanation_columns(forest: &Forest) -> Vec<String> {
    let mut columns = Vec::new();
    for k in 0..forest.n_outputs() {
        let suffix = if forest.n_outputs() > 1 {
            format!("__class{k}")
        } else {
            String::new()
        };
        columns.extend(
            forest
                .features()
                .iter()
                .map(|f| format!("{}{suffix}", f.name)),
        );
        columns.push(format!("base_value{suffix}"));
        columns.push(format!("margin{suffix}"));
    }
    columns
}

enum Explainer<'a> {
    PathDependent(PathDependent<'a>),
    Interventional(Interventional<'a>),
}

impl Explainer<'_> {
    fn explain(&self, rows: Rows<'_>, out: &mut [f64]) {
        match self {
            Explainer::PathDependent(e) => e.explain(rows, out),
            Explainer::Interventional(e) => e.explain(rows, out),
        }
    }
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
    let forest = sextant_import::load_model(&args.model).context("cannot load the model")?;
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
            &forest,
            Rows::new(&b.values, forest.n_features()),
        )),
        None => Explainer::PathDependent(PathDependent::new(&forest)),
    };
    let mut reader = open_table(&args.data, forest.features(), BATCH_ROWS)?;
    let output = output_path(args.output);
    let mut writer = TableWriter::create(&output, &explanation_columns(&forest))?;

    let (n_features, n_out) = (forest.n_features(), forest.n_outputs());
    let progress = RowProgress::new("explain");
    let (mut phi, mut margins, mut table) = (Vec::new(), Vec::new(), Vec::new());
    let mut additivity = Additivity::default();
    let mut done = 0usize;
    while let Some(batch) = reader.next_batch()? {
        let n = args
            .rows
            .map_or(batch.n_rows, |limit| batch.n_rows.min(limit - done));
        let rows = Rows::new(&batch.values[..n * n_features], n_features);
        phi.resize(explanation_len(&forest, n), 0.0);
        margins.resize(n * n_out, 0.0);
        explainer.explain(rows, &mut phi);
        predict_margins(&forest, rows, &mut margins);
        additivity.merge(check_additivity(&phi, &margins, n_features));
        table.clear();
        for (block, margin) in phi.chunks(n_features + 1).zip(&margins) {
            table.extend_from_slice(block);
            table.push(*margin);
        }
        writer.write_rows(&table)?;
        done += n;
        progress.update(reader.progress(), done, args.rows);
        if args.rows.is_some_and(|limit| done >= limit) {
            break;
        }
    }
    let seconds = progress.finish();
    let background_note = background.as_ref().map_or(String::new(), |b| {
        format!(" against {} background rows", b.n_rows)
    });
    let summary = format!(
        "explained {done} rows in {seconds:.3} s ({} rows/s), {}{background_note}; worst additivity error {:.2e} ({} of {} over {ADDITIVITY_TOLERANCE:e}·max(1,|margin|))",
        rate(done, seconds),
        method.name(),
        additivity.worst_abs,
        additivity.failing,
        additivity.checked,
    );
    if !additivity.passed() {
        // Keep nothing that failed the check.
        drop(writer);
        return Err(Failure::Check(anyhow!(
            "additivity check failed: {summary}"
        )));
    }
    writer.finish()?;
    eprintln!("{summary}");
    Ok(())
}
