//! The intelligence service: answers questions from stored results (predictions and influences
//! paged by row or whole as Parquet ([`tables`]), global importance, metrics). It computes nothing heavy: a page reads the rows
//! it needs from the Parquet tables of the parts it overlaps (local copies, fetched once from the
//! artifact store into the scratch directory), and a document is read as stored.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::SystemTime;

use arrow_array::{Array, Float64Array, RecordBatch};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::PageIndexPolicy;
use serde::de::DeserializeOwned;
use sextant_analyzer::analysis;
use sextant_api::{
    DEFAULT_PAGE_ROWS, GroupsQuery, Importance, ImportanceReport, Job, JobKind, MAX_PAGE_ROWS,
    MetricsReport, Provenance, ResultQuery, Role, StoredResult, TablePage, TablePart,
};

pub mod compare;
pub mod drift;
pub mod errors;
pub mod fairness;
mod groups;
pub mod hotspots;
mod reading;
mod reduction;
mod segments;
pub mod tables;
pub mod views;

use tables::{influences_table, predictions_table};

use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, ErrorCode};

/// Starts the intelligence service.
pub fn start_intelligence(deps: Deps) -> Router {
    Router::new()
        .route(
            "/api/v1/projects/{project}/models/{model}/predictions",
            get(predictions),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/influences",
            get(influences),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/predictions/table",
            get(predictions_table),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/influences/table",
            get(influences_table),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/influences/points",
            get(views::influence_points),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/curves",
            get(views::curves),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/explanation",
            get(views::explanation),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/importance",
            get(importance),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/metrics",
            get(metrics),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/fairness",
            get(fairness::fairness),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/hotspots",
            get(hotspots::hotspots),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/error-influences",
            get(errors::error_influences),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/error-influences/table",
            get(errors::error_influences_table),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/error-importance",
            get(errors::error_importance),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}/drift",
            get(drift::drift),
        )
        .route("/api/v1/projects/{project}/compare", get(compare::compare))
        .with_state(deps)
}

/// The result a query asks for: over the model and dataset as they are now, of the job named,
/// or else the newest with the options asked — and where the query leaves them out, the options
/// a job gets by default (the method, no threshold) over the whole dataset. A smaller or newer
/// job of other options never hides it.
async fn find(
    deps: &Deps,
    project: &str,
    model: &str,
    query: &ResultQuery,
    kind: JobKind,
) -> ApiResult<(Job, StoredResult)> {
    let current_model = deps.metastore.model(project, model).await?;
    let current_dataset = deps.metastore.dataset(project, &query.dataset).await?;
    let all_rows = current_dataset.summary.rows;
    let defaults =
        analysis(kind).default_options(query.background.is_some(), &current_model.summary);
    let method = query.method.or(defaults.method);
    let threshold = query.threshold.or(defaults.threshold);
    // Rows a job's result covers: its limit, or the whole dataset.
    let covered = |limit: Option<u64>| limit.map_or(all_rows, |n| n.min(all_rows));
    let wanted = |job: &Job| match query.job {
        Some(id) => job.id == id,
        None => {
            let options = &job.spec.options;
            options.method == method
                && options.threshold == threshold
                && query.loss.is_none_or(|l| options.loss == Some(l))
                && covered(options.rows) == covered(query.rows)
                && query
                    .background
                    .as_ref()
                    .is_none_or(|b| job.spec.background().is_some_and(|j| &j.name == b))
        }
    };
    let jobs = deps
        .metastore
        .succeeded_jobs(project, kind, model, &query.dataset)
        .await?;
    for job in jobs {
        if job.spec.model().sha256 != current_model.sha256
            || job.spec.data().sha256 != current_dataset.sha256
            || !wanted(&job)
        {
            continue;
        }
        if let Some(result) = deps.metastore.result(&job.cache_key).await? {
            return Ok((job, result));
        }
    }
    let what = analysis(kind).results_name();
    let method = method
        .map(|m| format!(" ({})", m.as_str()))
        .unwrap_or_default();
    Err(ApiError::new(
        ErrorCode::NoResult,
        format!(
            "no {what}{method} of model {model:?} on dataset {:?} yet: run {} {} job first",
            query.dataset,
            if kind.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            },
            kind.as_str()
        ),
    ))
}

/// The confidence level and bootstrap resamples a query asks for (or their defaults), checked.
fn interval_options(confidence: Option<f64>, resamples: Option<u32>) -> ApiResult<(f64, u32)> {
    let confidence = confidence.unwrap_or(sextant_api::DEFAULT_CONFIDENCE);
    if !(0.5..=0.999).contains(&confidence) {
        return Err(ApiError::bad_request(
            "confidence must be between 0.5 and 0.999",
        ));
    }
    let resamples = resamples.unwrap_or(sextant_api::DEFAULT_RESAMPLES);
    if !(100..=100_000).contains(&resamples) {
        return Err(ApiError::bad_request(
            "resamples must be between 100 and 100000",
        ));
    }
    Ok((confidence, resamples))
}

fn provenance(job: &Job, result: &StoredResult) -> Provenance {
    Provenance {
        job: job.id,
        model: job.spec.model().name.clone(),
        dataset: job.spec.data().name.clone(),
        method: job.spec.options.method,
        background: job.spec.background().map(|b| b.name.clone()),
        rows_total: result.manifest.rows,
        algorithm_version: result.manifest.algorithm_version.clone(),
        computed_at: result.created_at,
        segment: None,
    }
}

pub(super) async fn page(
    deps: Deps,
    project: String,
    model: String,
    query: ResultQuery,
    kind: JobKind,
) -> ApiResult<Json<TablePage>> {
    let offset = query.offset.unwrap_or(0);
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_ROWS);
    if limit == 0 || limit > MAX_PAGE_ROWS {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE_ROWS}"
        )));
    }
    let (job, result) = find(&deps, &project, &model, &query, kind).await?;
    if let Some(segment) =
        segments::segment_of(&deps, &project, query.segment.as_deref(), &job).await?
    {
        let (columns, rows, matched) =
            segments::segment_page(&deps, &result, &segment, offset, limit).await?;
        let mut source = provenance(&job, &result);
        source.segment = Some(segment.scope(matched, result.manifest.rows));
        return Ok(Json(TablePage {
            source,
            offset,
            limit,
            columns,
            rows,
        }));
    }
    // A sharded job's table is in parts, in row order: read the rows from the parts they are in
    // (past the end, the first part still gives the column names).
    let end = offset.saturating_add(limit);
    let parts = result.manifest.table_parts();
    let mut slices: Vec<(&TablePart, u64, u64)> = parts
        .iter()
        .filter(|p| p.first_row < end && offset < p.first_row + p.rows)
        .map(|p| {
            let from = offset.saturating_sub(p.first_row);
            (p, from, (end - p.first_row).min(p.rows) - from)
        })
        .collect();
    if slices.is_empty() {
        slices.push((&parts[0], parts[0].rows, 1));
    }
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for (part, from, count) in slices {
        let copy = deps
            .scratch
            .local_file(&deps.artifacts, &part.table)
            .await?;
        let (names, mut got) =
            tokio::task::spawn_blocking(move || read_page(copy.path(), from, count))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
        columns = names;
        rows.append(&mut got);
    }
    Ok(Json(TablePage {
        source: provenance(&job, &result),
        offset,
        limit,
        columns,
        rows,
    }))
}

/// Rows of a page; missing or non-finite values are `None`.
type Rows = Vec<Vec<Option<f64>>>;

/// The footers of the result tables read lately (schema, row groups, offset index), by file:
/// a page reads them from here rather than parsing them again. A table is immutable under its
/// path; its size and modification time tell a file replaced under the same name.
struct Footers(Mutex<HashMap<PathBuf, (u64, SystemTime, ArrowReaderMetadata)>>);

/// Footers kept at most.
const FOOTERS_KEPT: usize = 64;

static FOOTERS: LazyLock<Footers> = LazyLock::new(|| Footers(Mutex::new(HashMap::new())));

impl Footers {
    /// The footer of the table in `file` at `path`.
    fn of(&self, path: &Path, file: &File) -> Result<ArrowReaderMetadata, String> {
        let meta = file
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let stamp = (
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        );
        if let Some((len, modified, footer)) = self.0.lock().expect("footer lock").get(path)
            && (*len, *modified) == stamp
        {
            return Ok(footer.clone());
        }
        // The offset index lets a page skip, undecoded, the data pages that hold no row of it.
        let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
        let footer = ArrowReaderMetadata::load(file, options).map_err(|e| e.to_string())?;
        let mut kept = self.0.lock().expect("footer lock");
        if kept.len() >= FOOTERS_KEPT {
            kept.clear();
        }
        kept.insert(path.to_path_buf(), (stamp.0, stamp.1, footer.clone()));
        Ok(footer)
    }
}

/// Reads rows `offset .. offset + limit` of a result table (all columns are Float64).
fn read_page(path: &Path, offset: u64, limit: u64) -> Result<(Vec<String>, Rows), String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let footer = FOOTERS.of(path, &file)?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, footer);
    let columns: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let total = builder.metadata().file_metadata().num_rows().max(0) as u64;
    if offset >= total {
        return Ok((columns, Vec::new()));
    }
    let reader = builder
        .with_offset(offset as usize)
        .with_limit(limit as usize)
        .with_batch_size(limit.min(8192) as usize)
        .build()
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| e.to_string())?;
        let arrays: Vec<&Float64Array> = batch
            .columns()
            .iter()
            .map(|c| {
                c.as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or_else(|| "a result column is not Float64".to_string())
            })
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(
                arrays
                    .iter()
                    .map(|a| {
                        let v = a.value(r);
                        (!a.is_null(r) && v.is_finite()).then_some(v)
                    })
                    .collect(),
            );
        }
    }
    Ok((columns, rows))
}

/// A page of predictions (margins and predictions per output; the label when the data has one).
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/predictions", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ResultQuery),
    responses((status = 200, body = TablePage), (status = 404, body = crate::error::ErrorBody)))]
pub async fn predictions(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ResultQuery>,
) -> ApiResult<Json<TablePage>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    page(deps, project, model, query, JobKind::Predict).await
}

/// A page of influences: one column per feature (and output), then `base_value` and `margin`.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/influences", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ResultQuery),
    responses((status = 200, body = TablePage), (status = 404, body = crate::error::ErrorBody)))]
pub async fn influences(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ResultQuery>,
) -> ApiResult<Json<TablePage>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    page(deps, project, model, query, JobKind::Influences).await
}

/// The stored document `key` of a result (its importance or metrics), read as `T`.
async fn document<T: DeserializeOwned>(
    deps: &Deps,
    dataset: &str,
    key: Option<&String>,
) -> ApiResult<T> {
    let Some(key) = key else {
        return Err(ApiError::new(
            ErrorCode::NoResult,
            format!("dataset {dataset:?} has no labels, so there are no metrics for it"),
        ));
    };
    let bytes = deps.artifacts.get_bytes(key).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(format!("{key}: {e}")))
}

/// Global importance: mean |influence| per feature, largest first; with `groups=true` each
/// feature group's too.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/importance", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ResultQuery, GroupsQuery),
    responses((status = 200, body = ImportanceReport), (status = 404, body = crate::error::ErrorBody)))]
pub async fn importance(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ResultQuery>,
    ApiQuery(asked): ApiQuery<GroupsQuery>,
) -> ApiResult<Json<ImportanceReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    importance_report(&deps, &project, &model, &query, &asked, JobKind::Influences).await
}

/// The importance report of a result of `kind` (influences or error influences): over every
/// row, or over a segment's; with each feature group's when asked.
async fn importance_report(
    deps: &Deps,
    project: &str,
    model: &str,
    query: &ResultQuery,
    asked: &GroupsQuery,
    kind: JobKind,
) -> ApiResult<Json<ImportanceReport>> {
    let (job, result) = find(deps, project, model, query, kind).await?;
    let whole: Importance =
        document(deps, &query.dataset, result.manifest.importance.as_ref()).await?;
    let mut source = provenance(&job, &result);
    let segment = segments::segment_of(deps, project, query.segment.as_deref(), &job).await?;
    let importance = match &segment {
        Some(segment) => {
            let part = segments::segment_importance(deps, &result, &whole, segment).await?;
            source.segment = Some(segment.scope(part.rows, result.manifest.rows));
            part
        }
        None => whole.clone(),
    };
    let groups = match asked.groups {
        Some(true) => {
            Some(groups::group_importance(deps, project, &result, &whole, segment.as_ref()).await?)
        }
        _ => None,
    };
    Ok(Json(ImportanceReport {
        source,
        result: importance,
        groups,
    }))
}

/// Quality metrics of the model's predictions on a labelled dataset.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/metrics", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ResultQuery),
    responses((status = 200, body = MetricsReport), (status = 404, body = crate::error::ErrorBody)))]
pub async fn metrics(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ResultQuery>,
) -> ApiResult<Json<MetricsReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let (job, result) = find(&deps, &project, &model, &query, JobKind::Predict).await?;
    let metrics = document(&deps, &query.dataset, result.manifest.metrics.as_ref()).await?;
    let mut source = provenance(&job, &result);
    let Some(segment) =
        segments::segment_of(&deps, &project, query.segment.as_deref(), &job).await?
    else {
        return Ok(Json(MetricsReport {
            source,
            result: metrics,
        }));
    };
    let schema = deps.metastore.project(&project).await?.schema;
    let (metrics, rows) =
        segments::segment_metrics(&deps, &job, &result, &segment, schema.task, schema.classes)
            .await?;
    source.segment = Some(segment.scope(rows, result.manifest.rows));
    Ok(Json(MetricsReport {
        source,
        result: metrics,
    }))
}
