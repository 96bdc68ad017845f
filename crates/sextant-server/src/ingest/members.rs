//! Who may do what in a project: its members and their roles (owners grant and revoke them),
//! and deleting a project (owners).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use sextant_api::{GrantRole, Member, Project, Role, model_key, result_prefix};

use super::forget_content;
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody, ErrorCode};

/// A project's members.
#[utoipa::path(get, path = "/api/v1/projects/{project}/members", tag = "ingest",
    params(("project" = String, Path)),
    responses((status = 200, body = Vec<Member>), (status = 401, body = ErrorBody)))]
pub async fn list_members(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ApiResult<Json<Vec<Member>>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    deps.metastore.project(&project).await?;
    Ok(Json(deps.metastore.members(&project).await?))
}

/// Refuses a change that would leave a project without an owner.
async fn keep_an_owner(deps: &Deps, project: &str, user: &str) -> ApiResult<()> {
    let members = deps.metastore.members(project).await?;
    let owners: Vec<&Member> = members.iter().filter(|m| m.role == Role::Owner).collect();
    if owners.len() == 1 && owners[0].user == user {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "{user:?} is the only owner of project {project:?}: make another user an owner first"
            ),
        ));
    }
    Ok(())
}

/// Gives a user a role on the project (owners), replacing the one they had.
#[utoipa::path(put, path = "/api/v1/projects/{project}/members/{user}", tag = "ingest",
    params(("project" = String, Path), ("user" = String, Path)),
    request_body = GrantRole,
    responses((status = 200, body = Member), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn grant_role(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, user)): ApiPath<(String, String)>,
    ApiJson(grant): ApiJson<GrantRole>,
) -> ApiResult<Json<Member>> {
    caller.require(&deps, &project, Role::Owner).await?;
    deps.metastore.project(&project).await?;
    deps.metastore.user(&user).await?;
    if grant.role != Role::Owner {
        keep_an_owner(&deps, &project, &user).await?;
    }
    let member = Member {
        project: project.clone(),
        user: user.clone(),
        role: grant.role,
        granted_at: Utc::now(),
        granted_by: caller.token_id.map(|_| caller.name().to_string()),
    };
    deps.metastore.set_member(&member).await?;
    deps.auth.forget(&user);
    tracing::info!(%project, %user, role = grant.role.as_str(), by = %caller.name(), "role granted");
    Ok(Json(member))
}

/// Takes a user's role on the project away (owners).
#[utoipa::path(delete, path = "/api/v1/projects/{project}/members/{user}", tag = "ingest",
    params(("project" = String, Path), ("user" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn revoke_role(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, user)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(&deps, &project, Role::Owner).await?;
    deps.metastore.project(&project).await?;
    keep_an_owner(&deps, &project, &user).await?;
    if !deps.metastore.remove_member(&project, &user).await? {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("user {user:?} has no role on project {project:?}"),
        ));
    }
    deps.auth.forget(&user);
    tracing::info!(%project, %user, by = %caller.name(), "role revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a project (owners): its models, datasets, jobs, results and roles. Refused while a
/// job of it has not finished.
#[utoipa::path(delete, path = "/api/v1/projects/{project}", tag = "ingest",
    params(("project" = String, Path)),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete_project(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ApiResult<Json<Project>> {
    caller.require(&deps, &project, Role::Owner).await?;
    let record = deps.metastore.project(&project).await?;
    let remains = deps.metastore.delete_project(&project).await?;
    for model in &remains.models {
        forget_content(&deps, &model.sha256, &model_key(&model.sha256)).await;
    }
    for dataset in &remains.datasets {
        forget_content(&deps, &dataset.sha256, &dataset.artifact_key()).await;
    }
    for cache_key in &remains.results {
        let prefix = result_prefix(cache_key);
        match deps.artifacts.list(&prefix).await {
            Ok(keys) => {
                for key in keys {
                    if let Err(e) = deps.artifacts.delete(&key).await {
                        tracing::warn!(error = %e, %key, "could not remove a result file");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, %prefix, "could not list a result's files"),
        }
    }
    tracing::info!(
        %project,
        models = remains.models.len(),
        datasets = remains.datasets.len(),
        results = remains.results.len(),
        by = %caller.name(),
        "project deleted"
    );
    Ok(Json(record))
}
