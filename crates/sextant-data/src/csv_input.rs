//! CSV input: a header line names the columns.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use sextant_model::Feature;

use crate::error::{DataError, match_columns};
use crate::{Batch, BatchReader, Progress};
use sextant_model::CellParser;

pub(crate) struct CsvReader {
    path: String,
    reader: csv::Reader<BufReader<File>>,
    /// For each feature, its column index in the file.
    columns: Vec<usize>,
    parsers: Vec<CellParser>,
    names: Vec<String>,
    batch_rows: usize,
    rows_read: usize,
    file_len: u64,
    record: csv::StringRecord,
}

/// The header of a CSV file, trimmed.
pub(crate) fn header(path: &Path) -> Result<Vec<String>, DataError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| DataError::Io {
        path: name.clone(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let headers = reader.headers().map_err(|e| csv_error(&name, e))?;
    if headers.is_empty() {
        return Err(DataError::Csv {
            path: name,
            line: 1,
            message: "the file is empty: a header line is required".into(),
        });
    }
    Ok(headers.iter().map(|c| c.trim().to_string()).collect())
}

impl CsvReader {
    pub fn open(
        path: &Path,
        features: &[Feature],
        batch_rows: usize,
        parser: &dyn Fn(&Feature) -> CellParser,
    ) -> Result<CsvReader, DataError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| DataError::Io {
            path: name.clone(),
            source,
        })?;
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(BufReader::with_capacity(1 << 16, file));
        let headers = reader.headers().map_err(|e| csv_error(&name, e))?.clone();
        if headers.is_empty() {
            return Err(DataError::Csv {
                path: name,
                line: 1,
                message: "the file is empty: a header line is required".into(),
            });
        }
        let columns = match_columns(&name, headers.iter(), features)?;
        Ok(CsvReader {
            path: name,
            reader,
            columns,
            parsers: features.iter().map(parser).collect(),
            names: features.iter().map(|f| f.name.clone()).collect(),
            batch_rows,
            rows_read: 0,
            file_len,
            record: csv::StringRecord::new(),
        })
    }
}

impl BatchReader for CsvReader {
    fn next_batch(&mut self) -> Result<Option<Batch>, DataError> {
        let width = self.columns.len();
        let mut batch = Batch {
            values: Vec::with_capacity(self.batch_rows * width),
            n_rows: 0,
        };
        while batch.n_rows < self.batch_rows {
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| csv_error(&self.path, e))?;
            if !more {
                break;
            }
            let row = (self.rows_read + 1) as u64;
            for (j, &c) in self.columns.iter().enumerate() {
                let cell = self.record.get(c).unwrap_or("");
                let value = self.parsers[j]
                    .parse(cell)
                    .map_err(|message| DataError::BadCell {
                        path: self.path.clone(),
                        column: self.names[j].clone(),
                        row,
                        message,
                    })?;
                batch.values.push(value);
            }
            batch.n_rows += 1;
            self.rows_read += 1;
        }
        Ok((batch.n_rows > 0).then_some(batch))
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.reader.position().byte(),
            total: Some(self.file_len),
        }
    }

    fn total_rows(&self) -> Option<u64> {
        None
    }
}

pub(crate) fn csv_error(path: &str, e: csv::Error) -> DataError {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} fields, but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    DataError::Csv {
        path: path.to_string(),
        line,
        message,
    }
}
