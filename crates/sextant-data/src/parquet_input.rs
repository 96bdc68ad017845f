//! Parquet input, read one record batch at a time with only the model's columns projected.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use sextant_model::Feature;

use crate::error::{DataError, match_columns};
use crate::{Batch, BatchReader, Progress};
use sextant_model::CellParser;

pub(crate) struct ParquetReader {
    path: String,
    reader: ParquetRecordBatchReader,
    names: Vec<String>,
    parsers: Vec<CellParser>,
    rows_read: usize,
    total_rows: u64,
}

/// The column names of a Parquet file.
pub(crate) fn column_names(path: &Path) -> Result<Vec<String>, DataError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| DataError::Io {
        path: name.clone(),
        source,
    })?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| DataError::Parquet {
            path: name,
            message: e.to_string(),
        })?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

impl ParquetReader {
    pub fn open(
        path: &Path,
        features: &[Feature],
        batch_rows: usize,
        parser: &dyn Fn(&Feature) -> CellParser,
    ) -> Result<ParquetReader, DataError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| DataError::Io {
            path: name.clone(),
            source,
        })?;
        let parquet_error = |e: parquet::errors::ParquetError| DataError::Parquet {
            path: name.clone(),
            message: e.to_string(),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
        let schema = builder.schema().clone();
        let roots = match_columns(
            &name,
            schema.fields().iter().map(|f| f.name().as_str()),
            features,
        )?;
        for (&root, feature) in roots.iter().zip(features) {
            let field = &schema.fields()[root];
            if !readable(field.data_type()) {
                return Err(DataError::WrongType {
                    path: name,
                    column: feature.name.clone(),
                    found: field.data_type().to_string(),
                    expected: "a number or a category",
                });
            }
        }
        let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(batch_rows)
            .build()
            .map_err(parquet_error)?;
        Ok(ParquetReader {
            path: name,
            reader,
            names: features.iter().map(|f| f.name.clone()).collect(),
            parsers: features.iter().map(parser).collect(),
            rows_read: 0,
            total_rows,
        })
    }

    fn convert(&self, batch: &RecordBatch) -> Result<Batch, DataError> {
        let n_rows = batch.num_rows();
        let width = self.names.len();
        let mut values = vec![f64::NAN; n_rows * width];
        for (j, name) in self.names.iter().enumerate() {
            let column = batch
                .column_by_name(name)
                .ok_or_else(|| DataError::Parquet {
                    path: self.path.clone(),
                    message: format!("column {name:?} vanished from a record batch"),
                })?;
            let mut put = |i: usize, v: f64| values[i * width + j] = v;
            self.column_values(column.as_ref(), j, &mut put)?;
        }
        Ok(Batch { values, n_rows })
    }

    /// Calls `put(row, value)` for every non-null cell of `column`.
    fn column_values(
        &self,
        column: &dyn Array,
        j: usize,
        put: &mut dyn FnMut(usize, f64),
    ) -> Result<(), DataError> {
        fn numbers<T: ArrowPrimitiveType>(column: &dyn Array, put: &mut dyn FnMut(usize, f64))
        where
            T::Native: Into<Widened>,
        {
            let array = column.as_primitive::<T>();
            for (i, v) in array.iter().enumerate() {
                if let Some(v) = v {
                    put(i, v.into().0);
                }
            }
        }
        match column.data_type() {
            DataType::Null => {}
            DataType::Float64 => numbers::<Float64Type>(column, put),
            DataType::Float32 => numbers::<Float32Type>(column, put),
            DataType::Int8 => numbers::<Int8Type>(column, put),
            DataType::Int16 => numbers::<Int16Type>(column, put),
            DataType::Int32 => numbers::<Int32Type>(column, put),
            DataType::Int64 => numbers::<Int64Type>(column, put),
            DataType::UInt8 => numbers::<UInt8Type>(column, put),
            DataType::UInt16 => numbers::<UInt16Type>(column, put),
            DataType::UInt32 => numbers::<UInt32Type>(column, put),
            DataType::UInt64 => numbers::<UInt64Type>(column, put),
            DataType::Boolean => {
                for (i, v) in column.as_boolean().iter().enumerate() {
                    if let Some(v) = v {
                        put(i, if v { 1.0 } else { 0.0 });
                    }
                }
            }
            DataType::Utf8 => self.strings(column.as_string::<i32>().iter(), j, put)?,
            DataType::LargeUtf8 => self.strings(column.as_string::<i64>().iter(), j, put)?,
            DataType::Utf8View => self.strings(column.as_string_view().iter(), j, put)?,
            DataType::Dictionary(_, _) => {
                let dict = column.as_any_dictionary();
                let mut distinct = vec![f64::NAN; dict.values().len()];
                let mut put_distinct = |i: usize, v: f64| distinct[i] = v;
                self.column_values(dict.values().as_ref(), j, &mut put_distinct)?;
                for (i, key) in dict.normalized_keys().into_iter().enumerate() {
                    if column.is_valid(i) {
                        put(i, distinct.get(key).copied().unwrap_or(f64::NAN));
                    }
                }
            }
            other => {
                return Err(DataError::WrongType {
                    path: self.path.clone(),
                    column: self.names[j].clone(),
                    found: other.to_string(),
                    expected: "a number or a category",
                });
            }
        }
        Ok(())
    }

    fn strings<'s>(
        &self,
        cells: impl Iterator<Item = Option<&'s str>>,
        j: usize,
        put: &mut dyn FnMut(usize, f64),
    ) -> Result<(), DataError> {
        for (i, cell) in cells.enumerate() {
            let Some(cell) = cell else { continue };
            let v = self.parsers[j]
                .parse(cell)
                .map_err(|message| DataError::BadCell {
                    path: self.path.clone(),
                    column: self.names[j].clone(),
                    row: (self.rows_read + i + 1) as u64,
                    message,
                })?;
            put(i, v);
        }
        Ok(())
    }
}

/// Widening of every primitive we read into `f64` (64-bit integers round, as pandas does).
struct Widened(f64);

macro_rules! into_f64_like {
    ($($t:ty),*) => {$(
        impl From<$t> for Widened {
            fn from(v: $t) -> Widened {
                Widened(v as f64)
            }
        }
    )*};
}
into_f64_like!(f64, f32, i8, i16, i32, i64, u8, u16, u32, u64);

fn readable(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, values) => readable(values),
        _ => matches!(
            t,
            DataType::Null
                | DataType::Boolean
                | DataType::Float32
                | DataType::Float64
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
        ),
    }
}

impl BatchReader for ParquetReader {
    fn next_batch(&mut self) -> Result<Option<Batch>, DataError> {
        let Some(batch) = self.reader.next() else {
            return Ok(None);
        };
        let batch = batch.map_err(|e| DataError::Parquet {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let out = self.convert(&batch)?;
        self.rows_read += out.n_rows;
        Ok(Some(out))
    }

    fn progress(&self) -> Progress {
        Progress {
            done: self.rows_read as u64,
            total: Some(self.total_rows),
        }
    }

    fn total_rows(&self) -> Option<u64> {
        Some(self.total_rows)
    }
}
