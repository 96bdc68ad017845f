//! Whole result tables as Parquet, for clients that want every row (a notebook's DataFrame)
//! rather than pages of JSON: the stored table streamed as it is, or — for a result computed in
//! shards — its parts joined into one file first, in row order.

use std::fs::File;
use std::path::Path;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sextant_api::{JobKind, PARQUET_MEDIA_TYPE, ResultQuery, Role, SOURCE_JOB_HEADER, TableQuery};
use tokio_util::io::ReaderStream;

use super::find;
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};

/// A Parquet file (the OpenAPI document's name for a whole table's body).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ParquetFile(#[allow(dead_code)] Vec<u8>);

/// Every prediction of a result, as one Parquet file.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/predictions/table", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), TableQuery),
    responses((status = 200, content_type = "application/vnd.apache.parquet", body = ParquetFile,
               description = "The whole table: the columns of a page (`row`, the id column, `margin`, `prediction`, `label`), every row, in order; the job it comes from in the `X-Sextant-Job` header"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn predictions_table(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TableQuery>,
) -> ApiResult<Response> {
    caller.require(&deps, &project, Role::Viewer).await?;
    whole(deps, project, model, query.into(), JobKind::Predict).await
}

/// Every influence of a result, as one Parquet file.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/influences/table", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), TableQuery),
    responses((status = 200, content_type = "application/vnd.apache.parquet", body = ParquetFile,
               description = "The whole table: the columns of a page (`row`, the id column, one per feature and class, `base_value`, `margin`), every row, in order; the job it comes from in the `X-Sextant-Job` header"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn influences_table(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TableQuery>,
) -> ApiResult<Response> {
    caller.require(&deps, &project, Role::Viewer).await?;
    whole(deps, project, model, query.into(), JobKind::Influences).await
}

pub(super) async fn whole(
    deps: Deps,
    project: String,
    model: String,
    query: ResultQuery,
    kind: JobKind,
) -> ApiResult<Response> {
    let (job, result) = find(&deps, &project, &model, &query, kind).await?;
    let parts = result.manifest.table_parts();
    let file = if parts.len() == 1 {
        let copy = deps
            .scratch
            .local_file(&deps.artifacts, &parts[0].table)
            .await?;
        // Open before the copy is released: the open file stays readable even if the scratch
        // directory evicts it meanwhile.
        let path = copy.path().to_path_buf();
        std::fs::File::open(&path)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?
    } else {
        let mut copies = Vec::new();
        for part in &parts {
            copies.push(
                deps.scratch
                    .local_file(&deps.artifacts, &part.table)
                    .await?,
            );
        }
        let dir = deps.config.scratch_dir();
        tokio::task::spawn_blocking(move || {
            let paths: Vec<&Path> = copies.iter().map(|c| c.path()).collect();
            join_parts(&paths, &dir)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
    };
    let length = file.metadata().map(|m| m.len()).ok();
    let stream = ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PARQUET_MEDIA_TYPE),
    );
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    let name = format!("{model}-{}-{}.parquet", kind.as_str(), query.dataset);
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&job.id.to_string()) {
        headers.insert(SOURCE_JOB_HEADER, value);
    }
    Ok(response)
}

/// Joins the parts of a sharded result, in row order, into one Parquet file under `dir`; the
/// file is unlinked at once (the answer reads it through the open handle, and nothing is left
/// behind however the request ends).
fn join_parts(parts: &[&Path], dir: &Path) -> Result<File, String> {
    let joined = tempfile::tempfile_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut writer: Option<ArrowWriter<File>> = None;
    for path in parts {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for batch in reader {
            let batch = batch.map_err(|e| format!("{}: {e}", path.display()))?;
            if writer.is_none() {
                let file = joined.try_clone().map_err(|e| e.to_string())?;
                writer = Some(
                    ArrowWriter::try_new(
                        file,
                        batch.schema(),
                        Some(sextant_data::output_properties()),
                    )
                    .map_err(|e| e.to_string())?,
                );
            }
            if let Some(w) = writer.as_mut() {
                w.write(&batch).map_err(|e| e.to_string())?;
            }
        }
    }
    let writer = writer.ok_or("the result has no rows")?;
    writer.close().map_err(|e| e.to_string())?;
    let mut joined = joined;
    std::io::Seek::rewind(&mut joined).map_err(|e| e.to_string())?;
    Ok(joined)
}
