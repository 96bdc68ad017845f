//! Sextant's tabular input and output.
//!
//! Input tables (CSV with a header, or Parquet) are matched to a model's features by column name
//! and read in batches of row-major `f64` values (missing = NaN), so a file of any size is read
//! in bounded memory. Every problem is an error naming the file, the column and the row.
//! Output tables (CSV, Parquet, or CSV on standard output) are written atomically: to a
//! temporary file renamed into place when complete.

mod csv_input;
mod error;
mod output;
mod parquet_input;
pub mod segment;

use std::path::Path;

pub use error::{DataError, list_columns};
pub use output::{TableWriter, output_properties};
use sextant_model::{CellParser, Feature};

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

/// A reader that drops the first `skip` rows of another: a shard of a job reads its own slice of
/// the rows (the rows before it are parsed and dropped, far cheaper than explaining them).
pub struct SkipRows {
    inner: Box<dyn BatchReader>,
    skip: usize,
}

impl SkipRows {
    /// Drops the first `skip` rows of `inner`.
    pub fn new(inner: Box<dyn BatchReader>, skip: usize) -> SkipRows {
        SkipRows { inner, skip }
    }
}

impl BatchReader for SkipRows {
    fn next_batch(&mut self) -> Result<Option<Batch>, DataError> {
        loop {
            let Some(mut batch) = self.inner.next_batch()? else {
                return Ok(None);
            };
            if self.skip == 0 {
                return Ok(Some(batch));
            }
            if batch.n_rows <= self.skip {
                self.skip -= batch.n_rows;
                continue;
            }
            let width = batch.values.len() / batch.n_rows;
            batch.values.drain(..self.skip * width);
            batch.n_rows -= self.skip;
            self.skip = 0;
            return Ok(Some(batch));
        }
    }

    fn progress(&self) -> Progress {
        self.inner.progress()
    }

    fn total_rows(&self) -> Option<u64> {
        self.inner.total_rows()
    }
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
    open_table_with(path, features, batch_rows, &CellParser::new)
}

/// [`open_table`], each feature's cells read by the parser `parser` makes for it (one that
/// gives new codes to categories the model does not record, for drift).
pub fn open_table_with(
    path: &Path,
    features: &[Feature],
    batch_rows: usize,
    parser: &dyn Fn(&Feature) -> CellParser,
) -> Result<Box<dyn BatchReader>, DataError> {
    let batch_rows = batch_rows.max(1);
    match TableFormat::from_path(path)? {
        TableFormat::Csv => Ok(Box::new(csv_input::CsvReader::open(
            path, features, batch_rows, parser,
        )?)),
        TableFormat::Parquet => Ok(Box::new(parquet_input::ParquetReader::open(
            path, features, batch_rows, parser,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches of two-column rows numbered from 0.
    struct Numbered {
        batches: Vec<usize>,
        next: usize,
    }

    impl BatchReader for Numbered {
        fn next_batch(&mut self) -> Result<Option<Batch>, DataError> {
            let Some(n) = self.batches.first().copied() else {
                return Ok(None);
            };
            self.batches.remove(0);
            let values = (self.next..self.next + n)
                .flat_map(|r| [r as f64, -(r as f64)])
                .collect();
            self.next += n;
            Ok(Some(Batch { values, n_rows: n }))
        }

        fn progress(&self) -> Progress {
            Progress {
                done: self.next as u64,
                total: None,
            }
        }

        fn total_rows(&self) -> Option<u64> {
            None
        }
    }

    fn rows_after(skip: usize) -> Vec<f64> {
        let inner = Numbered {
            batches: vec![3, 4, 2],
            next: 0,
        };
        let mut reader = SkipRows::new(Box::new(inner), skip);
        let mut firsts = Vec::new();
        while let Some(batch) = reader.next_batch().unwrap() {
            assert_eq!(batch.values.len(), batch.n_rows * 2);
            firsts.extend(batch.values.chunks(2).map(|row| row[0]));
        }
        firsts
    }

    #[test]
    fn skipping_drops_exactly_the_first_rows_across_batches() {
        assert_eq!(rows_after(0), (0..9).map(f64::from).collect::<Vec<_>>());
        assert_eq!(rows_after(2), (2..9).map(f64::from).collect::<Vec<_>>());
        assert_eq!(rows_after(3), (3..9).map(f64::from).collect::<Vec<_>>());
        assert_eq!(rows_after(5), (5..9).map(f64::from).collect::<Vec<_>>());
        assert_eq!(rows_after(9), Vec::<f64>::new());
        assert_eq!(rows_after(20), Vec::<f64>::new());
    }
}
