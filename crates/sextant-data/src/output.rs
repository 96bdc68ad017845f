//! Output tables, written atomically.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::TableFormat;
use crate::error::DataError;

/// Rows per Parquet row group written.
const OUTPUT_ROW_GROUP_ROWS: usize = 65_536;

enum Sink {
    Csv(csv::Writer<Box<dyn Write + Send>>),
    Parquet(ArrowWriter<File>, Arc<Schema>),
    Closed,
}

/// Writes rows of `f64` values under named columns to CSV, Parquet or standard output.
pub struct TableWriter {
    sink: Sink,
    columns: usize,
    /// `(temporary, final)` paths when writing to a file.
    paths: Option<(PathBuf, PathBuf)>,
    display: String,
    line: String,
}

impl TableWriter {
    /// Starts a table at `path` (`-` for CSV on standard output; else the extension picks CSV or
    /// Parquet). Nothing appears at `path` until [`TableWriter::finish`].
    pub fn create(path: &Path, columns: &[String]) -> Result<TableWriter, DataError> {
        let display = path.display().to_string();
        let io = |source| DataError::Io {
            path: display.clone(),
            source,
        };
        if path == Path::new("-") {
            let sink: Box<dyn Write + Send> = Box::new(BufWriter::new(std::io::stdout()));
            let mut writer = TableWriter {
                sink: Sink::Csv(csv::Writer::from_writer(sink)),
                columns: columns.len(),
                paths: None,
                display,
                line: String::new(),
            };
            writer.header(columns)?;
            return Ok(writer);
        }
        let format = TableFormat::from_path(path)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = path.with_file_name(format!(".{file_name}.{}.partial", std::process::id()));
        let file = File::create(&temp).map_err(io)?;
        let sink = match format {
            TableFormat::Csv => Sink::Csv(csv::Writer::from_writer(Box::new(
                BufWriter::with_capacity(1 << 16, file),
            ))),
            TableFormat::Parquet => {
                let fields: Vec<Field> = columns
                    .iter()
                    .map(|c| Field::new(c, DataType::Float64, true))
                    .collect();
                let schema = Arc::new(Schema::new(fields));
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    // The writer holds a whole row group in memory: keep groups small enough
                    // that memory stays bounded whatever the number of rows.
                    .set_max_row_group_row_count(Some(OUTPUT_ROW_GROUP_ROWS))
                    .build();
                let writer =
                    ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| {
                        DataError::Parquet {
                            path: display.clone(),
                            message: e.to_string(),
                        }
                    })?;
                Sink::Parquet(writer, schema)
            }
        };
        let mut writer = TableWriter {
            sink,
            columns: columns.len(),
            paths: Some((temp, path.to_path_buf())),
            display,
            line: String::new(),
        };
        writer.header(columns)?;
        Ok(writer)
    }

    fn header(&mut self, columns: &[String]) -> Result<(), DataError> {
        if let Sink::Csv(w) = &mut self.sink {
            w.write_record(columns)
                .map_err(|e| csv_write_error(&self.display, e))?;
        }
        Ok(())
    }

    /// Appends rows (`values` row-major, one value per column; NaN is written as missing).
    pub fn write_rows(&mut self, values: &[f64]) -> Result<(), DataError> {
        assert_eq!(
            values.len() % self.columns.max(1),
            0,
            "values do not fill whole rows"
        );
        match &mut self.sink {
            Sink::Csv(w) => {
                use std::fmt::Write as _;
                for row in values.chunks(self.columns) {
                    for v in row {
                        self.line.clear();
                        if !v.is_nan() {
                            // Debug formatting is the shortest text that reads back to the same f64.
                            let _ = write!(self.line, "{v:?}");
                        }
                        w.write_field(&self.line)
                            .map_err(|e| csv_write_error(&self.display, e))?;
                    }
                    w.write_record(None::<&[u8]>)
                        .map_err(|e| csv_write_error(&self.display, e))?;
                }
            }
            Sink::Parquet(w, schema) => {
                let n_rows = values.len() / self.columns;
                let arrays: Vec<ArrayRef> = (0..self.columns)
                    .map(|c| {
                        let column = (0..n_rows).map(|r| {
                            let v = values[r * self.columns + c];
                            (!v.is_nan()).then_some(v)
                        });
                        Arc::new(Float64Array::from_iter(column)) as ArrayRef
                    })
                    .collect();
                let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| {
                    DataError::Parquet {
                        path: self.display.clone(),
                        message: e.to_string(),
                    }
                })?;
                w.write(&batch).map_err(|e| DataError::Parquet {
                    path: self.display.clone(),
                    message: e.to_string(),
                })?;
            }
            Sink::Closed => unreachable!("rows written after finish()"),
        }
        Ok(())
    }

    /// Flushes and moves the finished table into place.
    pub fn finish(mut self) -> Result<(), DataError> {
        let display = self.display.clone();
        let sink = std::mem::replace(&mut self.sink, Sink::Closed);
        match sink {
            Sink::Csv(mut w) => w.flush().map_err(|source| DataError::Io {
                path: display.clone(),
                source,
            })?,
            Sink::Parquet(w, _) => {
                w.close().map_err(|e| DataError::Parquet {
                    path: display.clone(),
                    message: e.to_string(),
                })?;
            }
            Sink::Closed => {}
        }
        if let Some((temp, path)) = self.paths.take()
            && let Err(source) = std::fs::rename(&temp, &path)
        {
            let _ = std::fs::remove_file(&temp);
            return Err(DataError::Io {
                path: display,
                source,
            });
        }
        Ok(())
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        // An unfinished table leaves nothing behind (finish() has already renamed a finished one).
        if let Some((temp, _)) = &self.paths {
            let _ = std::fs::remove_file(temp);
        }
    }
}

fn csv_write_error(path: &str, e: csv::Error) -> DataError {
    DataError::Io {
        path: path.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}
