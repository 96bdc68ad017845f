//! `sextant predict`: margins and responses for every row.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sextant_data::{TableWriter, open_table};
use sextant_model::{Forest, Rows};

use crate::progress::{RowProgress, rate};
use crate::{Failure, output_path};

/// Rows read, predicted and written at a time.
const BATCH_ROWS: usize = 16_384;

#[derive(Args)]
pub struct PredictArgs {
    /// The model file (XGBoost JSON or LightGBM text).
    #[arg(long)]
    model: PathBuf,
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

/// `margin` and `prediction`, with a `__class<k>` suffix for multi-output models.
pub fn prediction_columns(forest: &Forest) -> Vec<String> {
    let suffix = |k: usize| {
        if forest.n_outputs() > 1 {
            format!("__class{k}")
        } else {
            String::new()
        }
    };
    let mut columns: Vec<String> = (0..forest.n_outputs())
        .map(|k| format!("margin{}", suffix(k)))
        .collect();
    columns.extend((0..forest.n_outputs()).map(|k| format!("prediction{}", suffix(k))));
    columns
}

pub fn run(args: PredictArgs) -> Result<(), Failure> {
    let forest = sextant_import::load_model(&args.model).context("cannot load the model")?;
    let mut reader = open_table(&args.data, forest.features(), BATCH_ROWS)?;
    let output = output_path(args.output);
    let mut writer = TableWriter::create(&output, &prediction_columns(&forest))?;
    let n_out = forest.n_outputs();
    let progress = RowProgress::new("predict");
    let mut margins = Vec::new();
    let mut table = Vec::new();
    let mut done = 0usize;
    while let Some(batch) = reader.next_batch()? {
        let n = args
            .rows
            .map_or(batch.n_rows, |limit| batch.n_rows.min(limit - done));
        let rows = Rows::new(
            &batch.values[..n * forest.n_features()],
            forest.n_features(),
        );
        margins.resize(n * n_out, 0.0);
        sextant_algo::predict_margins(&forest, rows, &mut margins);
        table.clear();
        for m in margins.chunks(n_out) {
            table.extend_from_slice(m);
            let start = table.len();
            table.extend_from_slice(m);
            forest.link().apply(&mut table[start..]);
        }
        writer.write_rows(&table)?;
        done += n;
        progress.update(reader.progress(), done, args.rows);
        if args.rows.is_some_and(|limit| done >= limit) {
            break;
        }
    }
    writer.finish()?;
    let seconds = progress.finish();
    eprintln!(
        "predicted {done} rows in {seconds:.3} s ({} rows/s), {} trees",
        rate(done, seconds),
        forest.trees().len()
    );
    Ok(())
}
