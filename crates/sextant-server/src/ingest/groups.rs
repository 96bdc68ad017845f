//! A project's feature groups: named sets of its features whose influences are reported
//! together, checked against the project's schema when they are added.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use sextant_api::{CreateFeatureGroup, FeatureGroup, Role};

use super::MAX_FEATURES;
use super::upload::check_name;
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};

/// Adds a feature group to the project (editors): at least one feature, each one of the
/// project's, none twice.
#[utoipa::path(post, path = "/api/v1/projects/{project}/feature-groups", tag = "ingest",
    params(("project" = String, Path)),
    request_body = CreateFeatureGroup,
    responses((status = 201, body = FeatureGroup), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_feature_group(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiJson(request): ApiJson<CreateFeatureGroup>,
) -> ApiResult<(StatusCode, Json<FeatureGroup>)> {
    caller.require(&deps, &project, Role::Editor).await?;
    let project = deps.metastore.project(&project).await?;
    check_name("feature group", &request.name)?;
    if request.features.is_empty() || request.features.len() > MAX_FEATURES {
        return Err(ApiError::bad_request(format!(
            "features: a feature group has 1 to {MAX_FEATURES} features"
        )));
    }
    let known = &project.schema.features;
    for (i, name) in request.features.iter().enumerate() {
        if !known.iter().any(|f| &f.name == name) {
            return Err(ApiError::invalid(format!(
                "features: {name:?} is not a feature of project {:?}",
                project.name
            )));
        }
        if request.features[..i].contains(name) {
            return Err(ApiError::invalid(format!(
                "features: {name:?} is named twice"
            )));
        }
    }
    let group = FeatureGroup {
        project: project.name.clone(),
        name: request.name,
        features: request.features,
        created_at: Utc::now(),
        created_by: Some(caller.name().to_string()),
    };
    deps.metastore.add_feature_group(&group).await?;
    tracing::info!(project = %group.project, group = %group.name, by = %caller.name(), "feature group added");
    Ok((StatusCode::CREATED, Json(group)))
}

/// The project's feature groups, by name.
#[utoipa::path(get, path = "/api/v1/projects/{project}/feature-groups", tag = "ingest",
    params(("project" = String, Path)),
    responses((status = 200, body = Vec<FeatureGroup>), (status = 404, body = ErrorBody)))]
pub async fn list_feature_groups(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ApiResult<Json<Vec<FeatureGroup>>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    Ok(Json(deps.metastore.feature_groups(&project).await?))
}

/// Removes a feature group (editors).
#[utoipa::path(delete, path = "/api/v1/projects/{project}/feature-groups/{group}", tag = "ingest",
    params(("project" = String, Path), ("group" = String, Path)),
    responses((status = 200, body = FeatureGroup), (status = 404, body = ErrorBody)))]
pub async fn delete_feature_group(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, group)): ApiPath<(String, String)>,
) -> ApiResult<Json<FeatureGroup>> {
    caller.require(&deps, &project, Role::Editor).await?;
    let removed = deps
        .metastore
        .delete_feature_group(&project, &group)
        .await?;
    tracing::info!(%project, %group, by = %caller.name(), "feature group removed");
    Ok(Json(removed))
}
