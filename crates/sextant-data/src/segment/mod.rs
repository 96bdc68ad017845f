//! Segments: named filters over a dataset's rows, written as expressions over its columns
//! (features, the label, and columns that are not model inputs, such as a protected attribute).
//! [`segment_rows`] reads only the columns an expression names, in batches, and answers which
//! rows are in the segment.

mod expression;

use std::fs::File;
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sextant_model::is_missing;

pub use expression::{
    Cell, ColumnKind, Comparison, Expression, ExpressionError, Literal, column_reference,
    text_literal,
};

use crate::error::{DataError, list_columns};
use crate::{TableFormat, parquet_input};

/// Rows read at a time.
const BATCH_ROWS: usize = 8_192;

/// For every row of the table at `path`, in order, whether it is in the segment.
pub fn segment_rows(path: &Path, expression: &Expression) -> Result<Vec<bool>, DataError> {
    let name = path.display().to_string();
    let mut rows = Vec::new();
    visit_rows(path, expression.columns(), |row| {
        let line = rows.len() as u64 + 1;
        let inside = expression
            .matches(row)
            .map_err(|message| DataError::Segment {
                path: name.clone(),
                row: line,
                message,
            })?;
        rows.push(inside);
        Ok(())
    })?;
    Ok(rows)
}

/// Calls `each` with the cells of the `wanted` columns of every row of the table at `path`, in
/// order, reading only those columns, in batches; the first error stops the reading.
pub fn visit_rows(
    path: &Path,
    wanted: &[String],
    mut each: impl FnMut(&[Cell]) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let name = path.display().to_string();
    match TableFormat::from_path(path)? {
        TableFormat::Csv => {
            let file = File::open(path).map_err(|source| DataError::Io {
                path: name.clone(),
                source,
            })?;
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(std::io::BufReader::with_capacity(1 << 16, file));
            let headers: Vec<String> = crate::csv_input::header(path)?;
            let at = positions(&name, &headers, wanted)?;
            let mut record = csv::StringRecord::new();
            let mut cells = vec![Cell::Missing; at.len()];
            while reader
                .read_record(&mut record)
                .map_err(|e| crate::csv_input::csv_error(&name, e))?
            {
                for (cell, &i) in cells.iter_mut().zip(&at) {
                    let text = record.get(i).unwrap_or("").trim();
                    *cell = if is_missing(text) {
                        Cell::Missing
                    } else {
                        Cell::Text(text.to_string())
                    };
                }
                each(&cells)?;
            }
        }
        TableFormat::Parquet => {
            let headers = parquet_input::column_names(path)?;
            let at = positions(&name, &headers, wanted)?;
            let parquet_error = |e: parquet::errors::ParquetError| DataError::Parquet {
                path: name.clone(),
                message: e.to_string(),
            };
            let file = File::open(path).map_err(|source| DataError::Io {
                path: name.clone(),
                source,
            })?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), at.iter().copied());
            let reader = builder
                .with_projection(mask)
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(parquet_error)?;
            for batch in reader {
                let batch = batch.map_err(|e| DataError::Parquet {
                    path: name.clone(),
                    message: e.to_string(),
                })?;
                let columns: Vec<Vec<Cell>> = wanted
                    .iter()
                    .map(|c| {
                        let array = batch.column_by_name(c).ok_or_else(|| DataError::Parquet {
                            path: name.clone(),
                            message: format!("column {c:?} vanished from a record batch"),
                        })?;
                        cells_of(array.as_ref()).ok_or_else(|| DataError::WrongType {
                            path: name.clone(),
                            column: c.clone(),
                            found: array.data_type().to_string(),
                            expected: "numbers or texts a segment can compare",
                        })
                    })
                    .collect::<Result<_, _>>()?;
                let mut row = vec![Cell::Missing; columns.len()];
                for r in 0..batch.num_rows() {
                    for (cell, column) in row.iter_mut().zip(&columns) {
                        *cell = column[r].clone();
                    }
                    each(&row)?;
                }
            }
        }
    }
    Ok(())
}

/// The index of each wanted column among `headers`.
fn positions(path: &str, headers: &[String], wanted: &[String]) -> Result<Vec<usize>, DataError> {
    wanted
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| DataError::SegmentColumn {
                    path: path.to_string(),
                    column: c.clone(),
                    available: list_columns(headers.iter().map(String::as_str)),
                })
        })
        .collect()
}

/// The cells of an Arrow column, or `None` for a type a segment cannot compare.
fn cells_of(array: &dyn Array) -> Option<Vec<Cell>> {
    use arrow_array::types::*;
    fn numbers<T: arrow_array::ArrowPrimitiveType>(array: &dyn Array) -> Vec<Cell>
    where
        T::Native: num_like::ToF64,
    {
        array
            .as_primitive::<T>()
            .iter()
            .map(|v| match v.map(num_like::ToF64::to_f64) {
                Some(x) if !x.is_nan() => Cell::Number(x),
                _ => Cell::Missing,
            })
            .collect()
    }
    fn texts<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<Cell> {
        values
            .map(|v| match v.map(str::trim) {
                Some(t) if !is_missing(t) => Cell::Text(t.to_string()),
                _ => Cell::Missing,
            })
            .collect()
    }
    Some(match array.data_type() {
        DataType::Null => vec![Cell::Missing; array.len()],
        DataType::Float64 => numbers::<Float64Type>(array),
        DataType::Float32 => numbers::<Float32Type>(array),
        DataType::Int8 => numbers::<Int8Type>(array),
        DataType::Int16 => numbers::<Int16Type>(array),
        DataType::Int32 => numbers::<Int32Type>(array),
        DataType::Int64 => numbers::<Int64Type>(array),
        DataType::UInt8 => numbers::<UInt8Type>(array),
        DataType::UInt16 => numbers::<UInt16Type>(array),
        DataType::UInt32 => numbers::<UInt32Type>(array),
        DataType::UInt64 => numbers::<UInt64Type>(array),
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map_or(Cell::Missing, |b| Cell::Number(f64::from(u8::from(b)))))
            .collect(),
        DataType::Utf8 => texts(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => texts(array.as_string::<i64>().iter()),
        DataType::Utf8View => texts(array.as_string_view().iter()),
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let distinct = cells_of(dictionary.values().as_ref())?;
            dictionary
                .normalized_keys()
                .into_iter()
                .enumerate()
                .map(|(i, key)| {
                    if array.is_valid(i) {
                        distinct.get(key).cloned().unwrap_or(Cell::Missing)
                    } else {
                        Cell::Missing
                    }
                })
                .collect()
        }
        _ => return None,
    })
}

/// Widening of Arrow's primitive types to `f64`, as the feature reader does.
mod num_like {
    pub trait ToF64 {
        fn to_f64(self) -> f64;
    }
    macro_rules! to_f64 {
        ($($t:ty),*) => {$(
            impl ToF64 for $t {
                fn to_f64(self) -> f64 {
                    self as f64
                }
            }
        )*};
    }
    to_f64!(f64, f32, i8, i16, i32, i64, u8, u16, u32, u64);
}

#[cfg(test)]
mod tests;
