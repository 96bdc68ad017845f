//! Results reduced for plotting: quality curves over a prediction table, influences at sampled
//! rows beside the data's values, and one row's explanation. Each reads the tables once, in
//! batches, keeping only what it answers with, so a client never receives every row of a large
//! result and the service's memory does not grow with it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use arrow_array::{Array, Float64Array};
use axum::Json;
use axum::extract::State;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sextant_api::{
    BinaryCurves, CalibrationBin, Contribution, CurvePoint, CurvesQuery, CurvesReport,
    DEFAULT_POINT_FEATURES, DEFAULT_POINTS, ExplanationQuery, FeaturePoints, HistogramBin,
    Importance, InfluencePoints, InputRef, JobKind, MAX_POINT_FEATURES, MAX_POINTS, PointsQuery,
    RegressionCurves, ResidualPoint, ResultQuery, Role, RowExplanation, StoredResult,
    ThresholdCounts,
};
use sextant_model::{Feature, FeatureKind};

use super::{document, find, provenance};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::housekeeping::LocalCopy;

/// Points of a thinned ROC or precision-recall curve at most.
const CURVE_POINTS: usize = 500;

/// Residual points sampled at most.
const RESIDUAL_POINTS: usize = 2_000;

/// Rows read from a table at a time.
const BATCH_ROWS: usize = 8_192;

/// Quality curves of a model's predictions on a labelled dataset: ROC, precision-recall,
/// calibration and the confusion counts over thresholds (binary), or residuals (regression).
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/curves", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), CurvesQuery),
    responses((status = 200, body = CurvesReport), (status = 404, body = crate::error::ErrorBody)))]
pub async fn curves(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<CurvesQuery>,
) -> ApiResult<Json<CurvesReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let query = ResultQuery::from(query);
    let (job, result) = find(&deps, &project, &model, &query, JobKind::Predict).await?;
    let columns = &result.manifest.columns;
    if !columns.iter().any(|c| c == "label") {
        return Err(ApiError::new(
            crate::error::ErrorCode::NoResult,
            format!(
                "dataset {:?} has no labels, so there are no quality curves for it",
                query.dataset
            ),
        ));
    }
    let single_output = columns.iter().any(|c| c == "prediction");
    let schema = deps.metastore.project(&project).await?.schema;
    let copies = local_tables(&deps, &result).await?;
    let binary = schema.task == sextant_api::Task::Binary;
    let regression = schema.task == sextant_api::Task::Regression;
    let (labelled, binary_curves, regression_curves) = blocking(move || {
        let wanted = ["row".to_string(), "prediction".into(), "label".into()];
        if !single_output {
            return Ok((0, None, None));
        }
        let mut rows = Vec::new();
        let mut scored = Vec::new();
        scan(&paths(&copies), &wanted, |values| {
            let (row, prediction, label) = (values[0], values[1], values[2]);
            if label.is_finite() && prediction.is_finite() {
                rows.push(row as u64);
                scored.push((prediction, label));
            }
        })?;
        let labelled = scored.len() as u64;
        if binary {
            Ok((labelled, Some(binary_curves(&scored)), None))
        } else if regression {
            Ok((labelled, None, Some(regression_curves(&rows, &scored))))
        } else {
            Ok((labelled, None, None))
        }
    })
    .await?;
    Ok(Json(CurvesReport {
        source: provenance(&job, &result),
        labelled,
        binary: binary_curves,
        regression: regression_curves,
    }))
}

/// Influences at sampled rows with the data's values there, for beeswarm and dependence plots.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/influences/points", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), PointsQuery),
    responses((status = 200, body = InfluencePoints), (status = 404, body = crate::error::ErrorBody)))]
pub async fn influence_points(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<PointsQuery>,
) -> ApiResult<Json<InfluencePoints>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let points = query.points.unwrap_or(DEFAULT_POINTS);
    if points == 0 || points > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "points must be between 1 and {MAX_POINTS}"
        )));
    }
    let (job, result) = find(
        &deps,
        &project,
        &model,
        &query.result(),
        JobKind::Influences,
    )
    .await?;
    let importance: Importance =
        document(&deps, &query.dataset, result.manifest.importance.as_ref()).await?;
    let class = query.class.unwrap_or(0);
    let inputs = Inputs::fetch(&deps, job.spec.model(), job.spec.data()).await?;
    let features = inputs.features.clone();
    let mean_abs: BTreeMap<String, f64> = importance
        .features
        .iter()
        .map(|f| {
            let by_class = f.mean_abs_by_class.as_ref();
            let value = by_class.and_then(|v| v.get(class as usize).copied());
            (f.feature.clone(), value.unwrap_or(f.mean_abs))
        })
        .collect();
    let chosen: Vec<String> = match &query.features {
        Some(list) => list
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        None => {
            let mut ranked: Vec<(&String, &f64)> = mean_abs.iter().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(a.1));
            ranked
                .into_iter()
                .take(DEFAULT_POINT_FEATURES)
                .map(|(f, _)| f.clone())
                .collect()
        }
    };
    if chosen.is_empty() || chosen.len() > MAX_POINT_FEATURES {
        return Err(ApiError::bad_request(format!(
            "features must name between 1 and {MAX_POINT_FEATURES} features"
        )));
    }
    let positions: Vec<usize> = chosen
        .iter()
        .map(|name| {
            features
                .iter()
                .position(|f| &f.name == name)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "features: model {model:?} has no feature {name:?}"
                    ))
                })
        })
        .collect::<ApiResult<_>>()?;
    let suffix = class_suffix(&result, class)?;
    let total = result.manifest.rows;
    let copies = local_tables(&deps, &result).await?;
    let read_positions = positions.clone();
    let (rows, values, influences) = blocking(move || {
        let sample = evenly(total, points as u64);
        let mut wanted = vec!["row".to_string()];
        wanted.extend(chosen.iter().map(|f| format!("{f}{suffix}")));
        let mut rows = Vec::new();
        let mut influences = vec![Vec::new(); chosen.len()];
        let mut position = 0u64;
        let mut next = sample.iter().peekable();
        scan(&paths(&copies), &wanted, |cells| {
            if next.peek() == Some(&&position) {
                next.next();
                rows.push(cells[0] as u64);
                for (column, v) in influences.iter_mut().zip(&cells[1..]) {
                    column.push(v.is_finite().then_some(*v));
                }
            }
            position += 1;
        })?;
        let values = inputs.values_at(&rows, &read_positions)?;
        Ok((rows, values, influences))
    })
    .await?;
    let features_out = positions
        .iter()
        .zip(values)
        .zip(influences)
        .map(|((&p, values), influences)| {
            let feature = &features[p];
            FeaturePoints {
                feature: feature.name.clone(),
                values,
                influences,
                categories: category_names(feature),
                mean_abs: mean_abs.get(&feature.name).copied(),
            }
        })
        .collect();
    Ok(Json(InfluencePoints {
        source: provenance(&job, &result),
        rows,
        features: features_out,
    }))
}

/// One row's explanation, found by its index or its id: every feature's value and influence.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/explanation", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ExplanationQuery),
    responses((status = 200, body = RowExplanation), (status = 404, body = crate::error::ErrorBody)))]
pub async fn explanation(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ExplanationQuery>,
) -> ApiResult<Json<RowExplanation>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let result_query = ResultQuery {
        dataset: query.dataset.clone(),
        method: query.method,
        background: query.background.clone(),
        job: query.job,
        ..ResultQuery::default()
    };
    let (job, result) = find(&deps, &project, &model, &result_query, JobKind::Influences).await?;
    let class = query.class.unwrap_or(0);
    let suffix = class_suffix(&result, class)?;
    let schema = deps.metastore.project(&project).await?.schema;
    let copies = local_tables(&deps, &result).await?;
    let first_table = copies[0].path().to_path_buf();
    let names = blocking(move || column_names(&first_table)).await?;
    let id_column = schema.id.clone().filter(|id| names.contains(id));
    let by = match (query.row, query.id, &id_column) {
        (Some(row), None, _) => Lookup::Row(row),
        (None, Some(id), Some(_)) => Lookup::Id(id),
        (None, Some(_), None) => {
            return Err(ApiError::bad_request(
                "id: this result has no id column (the project names none, or the data lacks it): give row",
            ));
        }
        _ => return Err(ApiError::bad_request("give row or id, one of them")),
    };
    let inputs = Inputs::fetch(&deps, job.spec.model(), job.spec.data()).await?;
    let features = inputs.features.clone();
    let shown = inputs.features.clone();
    let found = blocking(move || {
        let mut wanted = vec!["row".to_string()];
        wanted.extend(id_column.iter().cloned());
        wanted.extend(features.iter().map(|f| format!("{}{suffix}", f.name)));
        wanted.push(format!("base_value{suffix}"));
        wanted.push(format!("margin{suffix}"));
        let id_at = id_column.as_ref().map(|_| 1);
        let mut found: Option<Vec<f64>> = None;
        scan(&paths(&copies), &wanted, |cells| {
            let hit = match &by {
                Lookup::Row(row) => cells[0] as u64 == *row,
                Lookup::Id(id) => id_at.is_some_and(|i| cells[i] == *id),
            };
            if hit && found.is_none() {
                found = Some(cells.to_vec());
            }
        })?;
        let Some(cells) = found else {
            return Ok(None);
        };
        let row = cells[0] as u64;
        let all: Vec<usize> = (0..features.len()).collect();
        let values = inputs.values_at(&[row], &all)?;
        Ok(Some((cells, values, id_at)))
    })
    .await?;
    let Some((cells, values, id_at)) = found else {
        let what = match (query.row, query.id) {
            (Some(row), _) => format!("row {row}"),
            (_, id) => format!("id {}", id.unwrap_or_default()),
        };
        return Err(ApiError::new(
            crate::error::ErrorCode::NotFound,
            format!(
                "dataset {:?} has no {what} in this result ({} rows)",
                query.dataset, result.manifest.rows
            ),
        ));
    };
    let first = 1 + usize::from(id_at.is_some());
    let n = shown.len();
    let mut contributions: Vec<Contribution> = shown
        .iter()
        .enumerate()
        .map(|(i, f)| Contribution {
            feature: f.name.clone(),
            value: values[i][0].map(|v| shown_value(f, v)),
            influence: cells[first + i],
        })
        .collect();
    contributions.sort_by(|a, b| b.influence.abs().total_cmp(&a.influence.abs()));
    Ok(Json(RowExplanation {
        source: provenance(&job, &result),
        row: cells[0] as u64,
        id: id_at.map(|i| cells[i]),
        class,
        base_value: cells[first + n],
        margin: cells[first + n + 1],
        contributions,
    }))
}

/// How the explained row is found.
enum Lookup {
    Row(u64),
    Id(f64),
}

/// The model's features and a local copy of the data a result was computed on.
struct Inputs {
    features: Vec<Feature>,
    data: LocalCopy,
}

/// The features of the models read lately, by artifact key (immutable under it): a large
/// ensemble takes long to parse, and every view of it needs only its features.
static MODEL_FEATURES: LazyLock<Mutex<HashMap<String, Vec<Feature>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Models whose features are kept at most.
const MODELS_KEPT: usize = 32;

impl Inputs {
    async fn fetch(deps: &Deps, model: &InputRef, data: &InputRef) -> ApiResult<Inputs> {
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
    fn values_at(
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

/// A feature's value as the data shows it: a category's name, or the number.
fn shown_value(feature: &Feature, value: f64) -> String {
    if let FeatureKind::Categorical {
        categories: Some(names),
    } = &feature.kind
        && value >= 0.0
        && let Some(name) = names.get(value as usize)
    {
        return name.clone();
    }
    format!("{value}")
}

fn category_names(feature: &Feature) -> Option<Vec<String>> {
    match &feature.kind {
        FeatureKind::Categorical { categories } => categories.clone(),
        FeatureKind::Numeric => None,
    }
}

/// The column suffix of `class` in an influence table.
fn class_suffix(result: &StoredResult, class: u32) -> ApiResult<String> {
    let multi = result
        .manifest
        .columns
        .iter()
        .any(|c| c == "margin__class0");
    if !multi {
        if class != 0 {
            return Err(ApiError::bad_request(
                "class: this model has one output, class 0",
            ));
        }
        return Ok(String::new());
    }
    let suffix = format!("__class{class}");
    if !result.manifest.columns.contains(&format!("margin{suffix}")) {
        return Err(ApiError::bad_request(format!(
            "class: this model has no class {class}"
        )));
    }
    Ok(suffix)
}

/// Local copies of a result's table parts, in row order.
async fn local_tables(deps: &Deps, result: &StoredResult) -> ApiResult<Vec<LocalCopy>> {
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

fn paths(copies: &[LocalCopy]) -> Vec<PathBuf> {
    copies.iter().map(|c| c.path().to_path_buf()).collect()
}

/// Runs `work` on the blocking pool; its error is an internal one.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Calls `each` with the cells of `columns` of every row of the tables, in order (a missing
/// value is NaN).
fn scan(
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
fn column_names(path: &Path) -> Result<Vec<String>, String> {
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

/// `count` positions spread evenly over `0..total` (all of them when `total <= count`).
fn evenly(total: u64, count: u64) -> Vec<u64> {
    if total <= count {
        return (0..total).collect();
    }
    let mut picked: Vec<u64> = (0..count).map(|i| i * total / count).collect();
    picked.dedup();
    picked
}

/// ROC, precision-recall, calibration and threshold counts of `(probability, label)` pairs.
fn binary_curves(scored: &[(f64, f64)]) -> BinaryCurves {
    let mut by_score: Vec<(f64, bool)> = scored.iter().map(|&(p, y)| (p, y >= 0.5)).collect();
    by_score.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = by_score.iter().filter(|(_, y)| *y).count() as f64;
    let negatives = by_score.len() as f64 - positives;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut roc = vec![CurvePoint {
        x: 0.0,
        y: 0.0,
        threshold: None,
    }];
    let mut precision_recall = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &(score, positive)) in by_score.iter().enumerate() {
        if positive {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // A point after the last row of each distinct score.
        if by_score.get(i + 1).is_some_and(|next| next.0 == score) {
            continue;
        }
        roc.push(CurvePoint {
            x: ratio(fp, negatives),
            y: ratio(tp, positives),
            threshold: Some(score),
        });
        precision_recall.push(CurvePoint {
            x: ratio(tp, positives),
            y: ratio(tp, tp + fp),
            threshold: Some(score),
        });
    }
    let mut calibration = Vec::new();
    for bin in 0..10 {
        let (from, to) = (bin as f64 / 10.0, (bin + 1) as f64 / 10.0);
        let inside: Vec<&(f64, f64)> = scored
            .iter()
            .filter(|(p, _)| *p >= from && (*p < to || (bin == 9 && *p <= to)))
            .collect();
        if inside.is_empty() {
            continue;
        }
        let n = inside.len() as f64;
        calibration.push(CalibrationBin {
            from,
            to,
            predicted: inside.iter().map(|(p, _)| p).sum::<f64>() / n,
            observed: inside.iter().filter(|(_, y)| *y >= 0.5).count() as f64 / n,
            rows: inside.len() as u64,
        });
    }
    // Scores ascending per class: the rows at or above a threshold are a suffix.
    let mut pos: Vec<f64> = by_score.iter().filter(|r| r.1).map(|r| r.0).collect();
    let mut neg: Vec<f64> = by_score.iter().filter(|r| !r.1).map(|r| r.0).collect();
    pos.sort_by(f64::total_cmp);
    neg.sort_by(f64::total_cmp);
    let at_or_above =
        |sorted: &[f64], t: f64| (sorted.len() - sorted.partition_point(|&s| s < t)) as u64;
    let thresholds = (0..=100)
        .map(|i| {
            let threshold = i as f64 / 100.0;
            let (tp, fp) = (at_or_above(&pos, threshold), at_or_above(&neg, threshold));
            ThresholdCounts {
                threshold,
                tp,
                fp,
                tn: neg.len() as u64 - fp,
                fn_: pos.len() as u64 - tp,
            }
        })
        .collect();
    BinaryCurves {
        roc: thin(roc),
        precision_recall: thin(precision_recall),
        calibration,
        thresholds,
    }
}

/// At most [`CURVE_POINTS`] points of a curve, evenly spread, its ends kept.
fn thin(curve: Vec<CurvePoint>) -> Vec<CurvePoint> {
    if curve.len() <= CURVE_POINTS {
        return curve;
    }
    let last = curve.len() - 1;
    let keep: Vec<u64> = evenly(last as u64, (CURVE_POINTS - 1) as u64);
    let mut out: Vec<CurvePoint> = keep.iter().map(|&i| curve[i as usize].clone()).collect();
    out.push(curve[last].clone());
    out
}

/// Sampled residual points and the histogram of every residual.
fn regression_curves(rows: &[u64], scored: &[(f64, f64)]) -> RegressionCurves {
    let points = evenly(scored.len() as u64, RESIDUAL_POINTS as u64)
        .into_iter()
        .map(|i| {
            let (prediction, label) = scored[i as usize];
            ResidualPoint {
                row: rows[i as usize],
                prediction,
                label,
            }
        })
        .collect();
    let residuals: Vec<f64> = scored.iter().map(|(p, y)| y - p).collect();
    RegressionCurves {
        points,
        residuals: histogram(&residuals, 40),
    }
}

/// `bins` bins of equal width from the smallest value to the largest.
fn histogram(values: &[f64], bins: usize) -> Vec<HistogramBin> {
    let Some(low) = values.iter().copied().reduce(f64::min) else {
        return Vec::new();
    };
    let high = values.iter().copied().fold(low, f64::max);
    let width = if high > low {
        (high - low) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0u64; bins];
    for v in values {
        let bin = (((v - low) / width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| HistogramBin {
            from: low + i as f64 * width,
            to: low + (i + 1) as f64 * width,
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_and_thresholds_of_a_small_case() {
        // Scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.2 (neg).
        let scored = [(0.9, 1.0), (0.8, 0.0), (0.7, 1.0), (0.2, 0.0)];
        let c = binary_curves(&scored);
        let roc: Vec<(f64, f64)> = c.roc.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(
            roc,
            [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        let at = |t: f64| c.thresholds.iter().find(|r| r.threshold == t).unwrap();
        let half = at(0.5);
        assert_eq!((half.tp, half.fp, half.tn, half.fn_), (2, 1, 1, 0));
        let zero = at(0.0);
        assert_eq!((zero.tp, zero.fp, zero.tn, zero.fn_), (2, 2, 0, 0));
        assert_eq!(c.calibration.iter().map(|b| b.rows).sum::<u64>(), 4);
        assert_eq!(c.precision_recall.last().unwrap().y, 0.5);
    }

    #[test]
    fn thinning_keeps_the_ends_and_the_cap() {
        let curve: Vec<CurvePoint> = (0..2000)
            .map(|i| CurvePoint {
                x: i as f64,
                y: i as f64,
                threshold: None,
            })
            .collect();
        let thin = thin(curve);
        assert_eq!(thin.len(), CURVE_POINTS);
        assert_eq!((thin[0].x, thin[CURVE_POINTS - 1].x), (0.0, 1999.0));
    }

    #[test]
    fn histogram_counts_every_value() {
        let h = histogram(&[0.0, 1.0, 2.0, 3.0, 4.0], 4);
        assert_eq!(h.iter().map(|b| b.count).collect::<Vec<_>>(), [1, 1, 1, 2]);
        assert!(histogram(&[], 4).is_empty());
        assert_eq!(histogram(&[2.0, 2.0], 3)[0].count, 2);
    }

    #[test]
    fn even_samples() {
        assert_eq!(evenly(3, 10), [0, 1, 2]);
        assert_eq!(evenly(10, 5), [0, 2, 4, 6, 8]);
    }
}
