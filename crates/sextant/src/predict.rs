//! `sextant predict`: margins and responses for every row.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use sextant_algo::{ModelPredictor, push_predictions};
use sextant_data::{Batch, TableWriter, open_table};
use sextant_model::Rows;

use sextant_analyzer::columns::prediction_columns;
use sextant_analyzer::pipeline;

use crate::progress::{RowProgress, rate};
use crate::{Failure, output_path};

/// Rows read, predicted and written at a time.
const BATCH_ROWS: usize = 16_384;

#[derive(Args)]
pub struct PredictArgs {
    /// The model file (XGBoost JSON, LightGBM text or ONNX).
    #[arg(long)]
    model: PathBuf,
    /// For an ONNX file that names no features: their names, comma-separated, in the input's
    /// column order (the data's columns are matched by name).
    #[arg(long)]
    feature_names: Option<String>,
    /// The rows to predict (CSV with a header, or Parquet); columns are matched by name.
    #[arg(long)]
    data: PathBuf,
    /// Where to write: a .csv or .parquet file, or - for CSV on standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Predict only the first N rows.
    #[arg(long)]
    rows: Option<usize>,
}

pub fn run(args: PredictArgs) -> Result<(), Failure> {
    let model = crate::load_named_model(&args.model, args.feature_names.as_deref())?;
    let reader = open_table(&args.data, model.features(), BATCH_ROWS)
        .with_context(|| format!("cannot read the data{}", crate::naming_hint(&model)))?;
    let output = output_path(args.output);
    let writer = TableWriter::create(&output, &prediction_columns(&model))?;
    let (n_features, n_out) = (model.n_features(), model.n_outputs());
    let predictor = ModelPredictor::new(&model);
    let progress = RowProgress::new("predict");
    let mut margins = Vec::new();
    let compute = |batch: &Batch, n: usize| {
        let rows = Rows::new(&batch.values[..n * n_features], n_features);
        margins.resize(n * n_out, 0.0);
        predictor
            .predict_margins(rows, &mut margins)
            .map_err(|e| anyhow!("the model failed: {e}"))?;
        let mut table = Vec::with_capacity(2 * n * n_out);
        for m in margins.chunks(n_out) {
            push_predictions(&model, m, &mut table);
        }
        Ok::<_, Failure>(table)
    };
    let done = pipeline::run(
        reader,
        writer,
        args.rows,
        compute,
        |p, done| progress.update(p, done, args.rows),
        || Ok(()),
    )?;
    let seconds = progress.finish();
    let shape = match model.tree_shape() {
        Some(t) => format!("{} trees", t.trees),
        None => format!("a {} graph", model.info().format),
    };
    eprintln!(
        "predicted {done} rows in {seconds:.3} s ({} rows/s), {shape}",
        rate(done, seconds),
    );
    Ok(())
}
