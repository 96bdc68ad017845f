//! Error influences read back: a page of them, the whole table, and their importance (which
//! features drive the model's loss on a dataset), each over a segment's rows when asked. The
//! table has, per row, `row`, the id column, one influence per feature on the row's loss,
//! `base_value`, `loss`, one `<feature>__stderr` per feature, and `label`.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use sextant_api::{
    GroupsQuery, ImportanceReport, JobKind, ResultQuery, Role, TablePage, TableQuery,
};

use super::tables::whole;
use super::{importance_report, page};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiPath, ApiQuery, ApiResult};

/// A page of error influences: per feature its influence on the row's loss, then
/// `base_value` (the background's mean loss against the row's label), `loss`, the standard
/// errors and `label`.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/error-influences", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ResultQuery),
    responses((status = 200, body = TablePage), (status = 404, body = crate::error::ErrorBody)))]
pub async fn error_influences(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ResultQuery>,
) -> ApiResult<Json<TablePage>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    page(deps, project, model, query, JobKind::ErrorInfluences).await
}

/// Every error influence of a result, as one Parquet file.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/error-influences/table", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), TableQuery),
    responses((status = 200, content_type = "application/vnd.apache.parquet", body = super::tables::ParquetFile,
               description = "The whole table: the columns of a page (`row`, the id column, one per feature, `base_value`, `loss`, one `__stderr` per feature, `label`), every row, in order; the job it comes from in the `X-Sextant-Job` header"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn error_influences_table(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TableQuery>,
) -> ApiResult<Response> {
    caller.require(&deps, &project, Role::Viewer).await?;
    whole(deps, project, model, query.into(), JobKind::ErrorInfluences).await
}

/// What drives the model's errors: per feature, the mean of its influence on each labelled
/// row's loss (positive: it raises the loss on average) and of its absolute value, largest
/// first; with `groups=true` each feature group's too.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/error-importance", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ResultQuery, GroupsQuery),
    responses((status = 200, body = ImportanceReport), (status = 404, body = crate::error::ErrorBody)))]
pub async fn error_importance(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ResultQuery>,
    ApiQuery(asked): ApiQuery<GroupsQuery>,
) -> ApiResult<Json<ImportanceReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    importance_report(
        &deps,
        &project,
        &model,
        &query,
        &asked,
        JobKind::ErrorInfluences,
    )
    .await
}
