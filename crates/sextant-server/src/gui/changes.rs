//! What a project's forms change: uploads (streamed to the API unchanged), jobs run and
//! cancelled, roles granted and revoked; each back to the project's page, or the page with the
//! API's message.

use axum::Form;
use axum::body::Body;
use axum::extract::{Path, Query, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sextant_api::{CreateJob, GrantRole, InfluenceMethod, Job, JobKind, JobOptions, Member, Role};

use super::failure_page;
use super::layout::{encode, project_url};
use super::project::project_view;
use super::signin::CsrfForm;
use super::visit::{ApiFailure, Visit};

#[derive(Deserialize)]
pub struct UploadQuery {
    csrf: Option<String>,
}

/// Streams an upload form's body to the API's upload endpoint unchanged.
async fn upload(
    visit: &mut Visit,
    project: &str,
    what: &str,
    q: UploadQuery,
    request: Request,
) -> Response {
    let kind = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let result = match visit.check_csrf(q.csrf.as_deref().unwrap_or_default()) {
        Err(e) => Err(e),
        Ok(()) => {
            let path = format!("/api/v1/projects/{}/{what}", encode(project));
            visit
                .call(Method::POST, &path, kind.as_deref(), request.into_body())
                .await
        }
    };
    match result {
        Ok(_) => Redirect::to(&project_url(project)).into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => failure_page(visit, e),
        Err(e) => project_view(visit, project, Some(e.message), e.status).await,
    }
}

pub async fn upload_model(
    mut visit: Visit,
    Path(project): Path<String>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> Response {
    upload(&mut visit, &project, "models", q, request).await
}

pub async fn upload_dataset(
    mut visit: Visit,
    Path(project): Path<String>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> Response {
    upload(&mut visit, &project, "datasets", q, request).await
}

#[derive(Deserialize)]
pub struct JobForm {
    csrf: String,
    kind: String,
    model: String,
    dataset: String,
    background: Option<String>,
    method: Option<String>,
    rows: Option<String>,
    loss: Option<String>,
    /// The reference dataset of a drift job.
    reference: Option<String>,
}

fn job_request(form: JobForm) -> Result<CreateJob, ApiFailure> {
    let bad = |message: String| ApiFailure {
        code: None,
        status: StatusCode::BAD_REQUEST,
        message,
    };
    let kind =
        JobKind::parse(&form.kind).ok_or_else(|| bad(format!("no job kind {:?}", form.kind)))?;
    let background = form.background.filter(|b| !b.is_empty());
    let rows = match form
        .rows
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        None => None,
        Some(r) => Some(
            r.parse::<u64>()
                .map_err(|_| bad(format!("rows {r:?} is not a whole number")))?,
        ),
    };
    // No method chosen: the server's default for the model (TreeSHAP for trees, interventional
    // with a background; sampled for any other model).
    let method = match form.method.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(_) if kind != JobKind::Influences => None,
        Some(name) => Some(
            InfluenceMethod::parse(name)
                .ok_or_else(|| bad(format!("no influence method {name:?}")))?,
        ),
    };
    let loss = match form.loss.as_deref().filter(|l| !l.is_empty()) {
        Some(name) if kind == JobKind::ErrorInfluences => Some(
            serde_json::from_value(serde_json::Value::String(name.to_string()))
                .map_err(|_| bad(format!("no loss {name:?}")))?,
        ),
        _ => None,
    };
    let reference = match form.reference.filter(|r| !r.is_empty()) {
        Some(r) if kind == JobKind::Drift => Some(r),
        _ => None,
    };
    Ok(CreateJob {
        reference,
        kind,
        model: form.model,
        dataset: form.dataset,
        background: if kind == JobKind::Predict {
            None
        } else {
            background
        },
        options: JobOptions {
            method,
            rows,
            loss,
            ..JobOptions::default()
        },
        memory_mib: None,
        shards: None,
    })
}

pub async fn run_job(
    mut visit: Visit,
    Path(project): Path<String>,
    Form(form): Form<JobForm>,
) -> Response {
    let result = match visit
        .check_csrf(&form.csrf)
        .and_then(|()| job_request(form))
    {
        Err(e) => Err(e),
        Ok(request) => {
            let path = format!("/api/v1/projects/{}/jobs", encode(&project));
            visit
                .send::<_, Job>(Method::POST, &path, &request)
                .await
                .map(|_| ())
        }
    };
    after_change(&mut visit, &project, result).await
}

/// Back to the project's page after a change, or the page with the API's message.
pub(super) async fn after_change(
    visit: &mut Visit,
    project: &str,
    result: Result<(), ApiFailure>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&project_url(project)).into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => failure_page(visit, e),
        Err(e) => project_view(visit, project, Some(e.message), e.status).await,
    }
}

pub async fn cancel_job(
    mut visit: Visit,
    Path((project, job)): Path<(String, uuid::Uuid)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = match visit.check_csrf(&form.csrf) {
        Err(e) => Err(e),
        Ok(()) => visit
            .call(
                Method::DELETE,
                &format!("/api/v1/jobs/{job}"),
                None,
                Body::empty(),
            )
            .await
            .map(|_| ()),
    };
    after_change(&mut visit, &project, result).await
}

#[derive(Deserialize)]
pub struct GrantForm {
    csrf: String,
    user: String,
    role: String,
}

pub async fn grant(
    mut visit: Visit,
    Path(project): Path<String>,
    Form(form): Form<GrantForm>,
) -> Response {
    let result = match visit.check_csrf(&form.csrf) {
        Err(e) => Err(e),
        Ok(()) => match Role::parse(&form.role) {
            None => Err(ApiFailure {
                code: None,
                status: StatusCode::BAD_REQUEST,
                message: format!("no role {:?}", form.role),
            }),
            Some(role) => {
                let path = format!(
                    "/api/v1/projects/{}/members/{}",
                    encode(&project),
                    encode(form.user.trim())
                );
                visit
                    .send::<_, Member>(Method::PUT, &path, &GrantRole { role })
                    .await
                    .map(|_| ())
            }
        },
    };
    after_change(&mut visit, &project, result).await
}

pub async fn revoke(
    visit: Visit,
    Path((project, user)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    remove(visit, &project, "members", &user, &form).await
}

pub async fn delete_model(
    visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    remove(visit, &project, "models", &model, &form).await
}

pub async fn delete_dataset(
    visit: Visit,
    Path((project, dataset)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    remove(visit, &project, "datasets", &dataset, &form).await
}

/// Deletes `name` from a project's `collection` (a member's role, a model, a dataset, a
/// segment) through
/// the API, which refuses what a running job still reads.
pub(super) async fn remove(
    mut visit: Visit,
    project: &str,
    collection: &str,
    name: &str,
    form: &CsrfForm,
) -> Response {
    let result = match visit.check_csrf(&form.csrf) {
        Err(e) => Err(e),
        Ok(()) => {
            let path = format!(
                "/api/v1/projects/{}/{collection}/{}",
                encode(project),
                encode(name)
            );
            visit
                .call(Method::DELETE, &path, None, Body::empty())
                .await
                .map(|_| ())
        }
    };
    after_change(&mut visit, project, result).await
}
