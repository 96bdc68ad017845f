//! Sextant's tabular input and output.
//!
//! Input tables (CSV with a header, or Parquet) are matched to a model's features by column name
//! and read in batches of row-major `f64` values (missing = NaN), so a file of any size is read
//! in bounded memory. Every problem is an error naming the file, the column and the row.
//! Output tables (CSV, Parquet, or CSV on standard output) are written atomically: to a
//! temporary file renamed into place when complete.

mod cells;
mod csv_input;
mod error;
mod output;
mod parquet_input;

use std::path::Path;

pub use error::DataError;
pub use output::TableWriter;
use sextant_model::Feature;

/// A block of consecutive rows, row-major, in the model's feature order.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// `n_rows × n_features` values; missing values are NaN.
    pub values: Vec<f64>,
    /// Number of rows in this batch.
    pub n_rows: usize,
}

/// How far a reader has got, in units the reader chooses (rows or bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
}

/// Reads a table in batches.
pub trait BatchReader: Send {
    /// The next batch of at most the configured number of rows, or `None` at the end.
    fn next_batch(&mut self) -> Result<Option<Batch>, DataError>;
    /// How much of the input has been read.
    fn progress(&self) -> Progress;
    /// Number of rows in the file, when the format records it.
    fn total_rows(&self) -> Option<u64>;
}

/// The table formats Sextant reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// The format of a file, from its extension (`.csv`, `.parquet`, `.pq`).
    pub fn from_path(path: &Path) -> Result<TableFormat, DataError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(TableFormat::Csv),
            Some("parquet" | "pq") => Ok(TableFormat::Parquet),
            _ => Err(DataError::UnknownFormat {
                path: path.display().to_string(),
            }),
        }
    }
}

/// Opens a table for reading in batches of `batch_rows` rows, matched to `features` by name.
pub fn open_table(
    path: &Path,
    features: &[Feature],
    batch_rows: usize,
) -> Result<Box<dyn BatchReader>, DataError> {
    let batch_rows = batch_rows.max(1);
    match TableFormat::from_path(path)? {
        TableFormat::Csv => Ok(Box::new(csv_input::CsvReader::open(
            path, features, batch_rows,
        )?)),
        TableFormat::Parquet => Ok(Box::new(parquet_input::ParquetReader::open(
            path, features, batch_rows,
        )?)),
    }
}

/// Reads at most `max_rows` rows of a table (all of them when `None`) into one batch.
pub fn read_table(
    path: &Path,
    features: &[Feature],
    max_rows: Option<usize>,
) -> Result<Batch, DataError> {
    let mut reader = open_table(path, features, 8192)?;
    let mut all = Batch::default();
    while let Some(batch) = reader.next_batch()? {
        let take = max_rows.map_or(batch.n_rows, |m| batch.n_rows.min(m - all.n_rows));
        all.values
            .extend_from_slice(&batch.values[..take * features.len()]);
        all.n_rows += take;
        if max_rows.is_some_and(|m| all.n_rows >= m) {
            break;
        }
    }
    Ok(all)
}

/// The column names of a table, in file order.
pub fn table_columns(path: &Path) -> Result<Vec<String>, DataError> {
    match TableFormat::from_path(path)? {
        TableFormat::Csv => csv_input::header(path),
        TableFormat::Parquet => parquet_input::column_names(path),
    }
}
