//! Output tables, written atomically.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::TableFormat;
use crate::error::DataError;

/// Rows per Parquet row group written.
const OUTPUT_ROW_GROUP_ROWS: usize = 65_536;

/// Rows per data page at most: a reader of a few rows (a page of results) decompresses and
/// decodes only the pages that hold them, found through the offset index written beside them.
const OUTPUT_PAGE_ROWS: usize = 512;

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

/// How result tables are written to Parquet (also when the parts of a sharded result are
/// joined into one file).
pub fn output_properties() -> WriterProperties {
    WriterProperties::builder()
        // Results are read a page at a time: Snappy's decompression needs no context (zstd built
        // one per column and page, most of a page's cost), and without a dictionary (floats
        // rarely repeat) a page reads no more than its own bytes.
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        // The writer holds a whole row group in memory: keep groups small enough that memory
        // stays bounded whatever the number of rows.
        .set_max_row_group_row_count(Some(OUTPUT_ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(OUTPUT_PAGE_ROWS)
        .set_write_batch_size(OUTPUT_PAGE_ROWS)
        .set_offset_index_disabled(false)
        .build()
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
                let writer = ArrowWriter::try_new(file, schema.clone(), Some(output_properties()))
                    .map_err(|e| DataError::Parquet {
                        path: display.clone(),
                        message: e.to_string(),
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

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    /// A result table is written in small data pages with an offset index, so that reading a
    /// few rows decodes only the pages that hold them.
    #[test]
    fn parquet_tables_have_small_pages_and_an_offset_index() {
        let dir = std::env::temp_dir().join(format!("sextant-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.parquet");
        let columns = vec!["a".to_string(), "b".to_string()];
        let mut writer = TableWriter::create(&path, &columns).unwrap();
        let rows = 10_000;
        let values: Vec<f64> = (0..rows * 2).map(|i| i as f64).collect();
        writer.write_rows(&values).unwrap();
        writer.finish().unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.file_metadata().num_rows(), rows as i64);
        let chunk = meta.row_group(0).column(0);
        assert!(chunk.offset_index_offset().is_some(), "an offset index");
        let pages = reader
            .get_row_group(0)
            .unwrap()
            .get_column_page_reader(0)
            .unwrap()
            .filter(|page| page.as_ref().is_ok_and(|p| p.num_values() > 0))
            .count();
        assert!(pages >= rows / OUTPUT_PAGE_ROWS, "{pages} pages");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
