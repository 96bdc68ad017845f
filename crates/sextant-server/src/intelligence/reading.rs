//! Reading what a view reduces: a result's tables (local copies of its parts, in row order,
//! scanned in batches for the columns asked), the model's features and the data's values at
//! chosen rows.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use arrow_array::{Array, Float64Array};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sextant_api::{InputRef, StoredResult};
use sextant_model::Feature;

use crate::Deps;
use crate::error::{ApiError, ApiResult};
use crate::housekeeping::LocalCopy;

/// Rows read from a table at a time.
const BATCH_ROWS: usize = 8_192;

/// The model's features and a local copy of the data a result was computed on.
pub(super) struct Inputs {
    pub(super) features: Vec<Feature>,
    data: LocalCopy,
}

/// The features of the models read lately, by artifact key (immutable under it): a large
/// ensemble takes long to parse, and every view of it needs only its features.
static MODEL_FEATURES: LazyLock<Mutex<HashMap<String, Vec<Feature>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Models whose features are kept at most.
const MODELS_KEPT: usize = 32;

impl Inputs {
    pub(super) async fn fetch(deps: &Deps, model: &InputRef, data: &InputRef) -> ApiResult<Inputs> {
        let known = MODEL_FEATURES
            .lock()
            .expect("features lock")
            .get(&model.key)
            .cloned();
        let features = match known {
            Some(features) => features,
            None => Self::read_features(deps, model).await?,
        };
        let data = deps.scratch.local_file(&deps.artifacts, &data.key).await?;
        Ok(Inputs { features, data })
    }

    async fn read_features(deps: &Deps, model: &InputRef) -> ApiResult<Vec<Feature>> {
        let model_copy = deps.scratch.local_file(&deps.artifacts, &model.key).await?;
        let format = model
            .format
            .as_deref()
            .map(sextant_import::ModelFormat::from_name)
            .transpose()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let path = model_copy.path().to_path_buf();
        let parsed =
            blocking(move || sextant_import::load_model(&path, format).map_err(|e| e.to_string()))
                .await?;
        let features = parsed.features().to_vec();
        let mut kept = MODEL_FEATURES.lock().expect("features lock");
        if kept.len() >= MODELS_KEPT {
            kept.clear();
        }
        kept.insert(model.key.clone(), features.clone());
        Ok(features)
    }

    /// The values of the features at `positions` in the dataset's rows `rows` (ascending), one
    /// vector per feature.
    pub(super) fn values_at(
        &self,
        rows: &[u64],
        positions: &[usize],
    ) -> Result<Vec<Vec<Option<f64>>>, String> {
        let n = self.features.len();
        let mut reader = sextant_data::open_table(self.data.path(), &self.features, BATCH_ROWS)
            .map_err(|e| e.to_string())?;
        let mut out = vec![Vec::with_capacity(rows.len()); positions.len()];
        let mut next = rows.iter().peekable();
        let mut first = 0u64;
        while let Some(batch) = reader.next_batch().map_err(|e| e.to_string())? {
            let end = first + batch.n_rows as u64;
            while let Some(&&row) = next.peek() {
                if row >= end {
                    break;
                }
                let at = (row - first) as usize * n;
                for (column, &p) in out.iter_mut().zip(positions) {
                    let v = batch.values[at + p];
                    column.push((!v.is_nan()).then_some(v));
                }
                next.next();
            }
            if next.peek().is_none() {
                break;
            }
            first = end;
        }
        Ok(out)
    }
}

/// Local copies of a result's table parts, in row order.
pub(super) async fn local_tables(deps: &Deps, result: &StoredResult) -> ApiResult<Vec<LocalCopy>> {
    let mut copies = Vec::new();
    for part in result.manifest.table_parts() {
        copies.push(
            deps.scratch
                .local_file(&deps.artifacts, &part.table)
                .await?,
        );
    }
    Ok(copies)
}

pub(super) fn paths(copies: &[LocalCopy]) -> Vec<PathBuf> {
    copies.iter().map(|c| c.path().to_path_buf()).collect()
}

/// Runs `work` on the blocking pool; its error is an internal one.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Calls `each` with the cells of `columns` of every row of the tables, in order (a missing
/// value is NaN).
pub(super) fn scan(
    tables: &[PathBuf],
    columns: &[String],
    mut each: impl FnMut(&[f64]),
) -> Result<(), String> {
    let mut cells = vec![f64::NAN; columns.len()];
    for path in tables {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let names: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let indices: Vec<usize> = columns
            .iter()
            .map(|c| {
                names
                    .iter()
                    .position(|n| n == c)
                    .ok_or_else(|| format!("{}: no column {c:?}", file_name(path)))
            })
            .collect::<Result<_, _>>()?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| e.to_string())?;
        // The projection keeps the file's column order: find each asked column in the batch.
        let mut sorted = indices.clone();
        sorted.sort_unstable();
        let at: Vec<usize> = indices
            .iter()
            .map(|i| sorted.binary_search(i).expect("projected column"))
            .collect();
        for batch in reader {
            let batch = batch.map_err(|e| e.to_string())?;
            let arrays: Vec<&Float64Array> = at
                .iter()
                .map(|&i| {
                    batch
                        .column(i)
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .ok_or_else(|| "a result column is not Float64".to_string())
                })
                .collect::<Result<_, _>>()?;
            for r in 0..batch.num_rows() {
                for (cell, array) in cells.iter_mut().zip(&arrays) {
                    *cell = if array.is_null(r) {
                        f64::NAN
                    } else {
                        array.value(r)
                    };
                }
                each(&cells);
            }
        }
    }
    Ok(())
}

/// The column names of a result table.
pub(super) fn column_names(path: &Path) -> Result<Vec<String>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
