//! Drift read back: the stored report of the newest drift job over a model, a reference
//! dataset and a current one as they are now (or of the job named), with its verdicts against
//! the thresholds the query asks for.

use axum::Json;
use axum::extract::State;
use sextant_api::{DriftQuery, DriftReport, JobKind, Role};

use super::document;
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, ErrorCode};

/// Drift of a model's data and score from a reference dataset to a current one: per feature
/// PSI, KS and its p-value, Wasserstein and Jensen–Shannon distances, missing shares, new
/// categories and values out of the reference's range, with a verdict; the score's
/// distribution and metrics in both; and each feature's part of the change of the mean margin.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/drift", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), DriftQuery),
    responses((status = 200, body = DriftReport), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn drift(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DriftQuery>,
) -> ApiResult<Json<DriftReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let current_model = deps.metastore.model(&project, &model).await?;
    let current = deps.metastore.dataset(&project, &query.dataset).await?;
    let reference = deps.metastore.dataset(&project, &query.reference).await?;
    let thresholds = query.thresholds().map_err(ApiError::bad_request)?;
    let jobs = deps
        .metastore
        .succeeded_jobs(&project, JobKind::Drift, &model, &query.dataset)
        .await?;
    for job in jobs {
        let of_these = job.spec.model().sha256 == current_model.sha256
            && job.spec.data().sha256 == current.sha256
            && job
                .spec
                .dataset(sextant_api::InputRole::Reference)
                .is_some_and(|r| r.name == reference.name && r.sha256 == reference.sha256);
        let wanted = match query.job {
            Some(id) => job.id == id,
            None => of_these && job.spec.options.rows.is_none(),
        };
        if !wanted {
            continue;
        }
        let Some(result) = deps.metastore.result(&job.cache_key).await? else {
            continue;
        };
        let mut report: DriftReport =
            document(&deps, &query.dataset, result.manifest.drift.as_ref()).await?;
        report.job = Some(job.id);
        report.judge(thresholds);
        return Ok(Json(report));
    }
    Err(ApiError::new(
        ErrorCode::NoResult,
        format!(
            "no drift statistics of model {model:?} from dataset {:?} to {:?} yet: run a drift job first (sextant drift {project} --model {model} --reference {} --dataset {})",
            query.reference, query.dataset, query.reference, query.dataset
        ),
    ))
}
