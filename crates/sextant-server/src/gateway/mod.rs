//! The gateway: health, readiness, Prometheus metrics and the OpenAPI document, and — when
//! services run in other processes — the routes that forward to them ([`forward`]).

pub mod forward;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiError, ErrorCode};
use crate::{Deps, auth, ingest, intelligence, scheduler};

/// The OpenAPI document of `/api/v1`, generated from the handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(title = "Sextant API", description = "Self-hosted model intelligence: projects, models, datasets, jobs and their results."),
    paths(
        ingest::create_project, ingest::list_projects, ingest::get_project,
        ingest::upload_model, ingest::list_models, ingest::get_model, ingest::delete_model,
        ingest::datasets::upload_dataset, ingest::datasets::list_datasets,
        ingest::datasets::get_dataset, ingest::datasets::delete_dataset,
        scheduler::jobs::create_job, scheduler::jobs::list_jobs, scheduler::jobs::list_project_jobs,
        scheduler::jobs::get_job, scheduler::jobs::cancel_job, scheduler::jobs::job_events,
        intelligence::predictions, intelligence::influences, intelligence::importance,
        intelligence::metrics, intelligence::tables::predictions_table,
        intelligence::tables::influences_table, intelligence::views::curves,
        intelligence::views::influence_points, intelligence::views::explanation,
        intelligence::fairness::fairness, intelligence::compare::compare,
        intelligence::hotspots::hotspots, intelligence::errors::error_influences,
        intelligence::errors::error_influences_table, intelligence::errors::error_importance,
        intelligence::drift::drift,
        ingest::members::list_members, ingest::members::grant_role, ingest::members::revoke_role,
        ingest::members::delete_project,
        ingest::segments::add_segment, ingest::segments::list_segments,
        ingest::segments::get_segment, ingest::segments::delete_segment,
        ingest::groups::add_feature_group, ingest::groups::list_feature_groups,
        ingest::groups::delete_feature_group,
        auth::routes::login, auth::routes::logout, auth::routes::whoami,
        auth::routes::list_users, auth::routes::create_user, auth::routes::get_user,
        auth::routes::update_user, auth::routes::list_tokens, auth::routes::create_token,
        auth::routes::revoke_token, auth::routes::read_audit,
    ),
    modifiers(&CommonErrors),
    tags(
        (name = "ingest", description = "Projects, model and dataset uploads, segments, feature groups"),
        (name = "scheduler", description = "Jobs: submit, follow, cancel"),
        (name = "intelligence", description = "Results: predictions, influences, importance, metrics, error influences, hotspots, fairness, model comparison, drift"),
        (name = "gateway", description = "Accounts: login, users, tokens, the audit log"),
    )
)]
pub struct ApiDoc;

/// Documents the answers every operation can give beside its own: 400 for a malformed path,
/// query or body; 401 and 429 for credentials refused (`auth`); 403 for a role too low or a
/// host or origin refused (`origins`); and — where the path names a project, model, dataset or
/// job — 404 for one that does not exist or that the caller may not see.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names_things = path.contains('{');
            let needs_credentials =
                !matches!(path.as_str(), "/api/v1/openapi.json" | "/api/v1/login");
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses.entry("400".into()).or_insert_with(|| {
                    error("The path, query or body is malformed (the message says which part).")
                        .into()
                });
                responses.entry("403".into()).or_insert_with(|| {
                    error("The caller's role is too low for this, or the request names a host this server does not answer to, or changes something from another site's page.")
                        .into()
                });
                if needs_credentials {
                    responses.entry("401".into()).or_insert_with(|| {
                        error("Credentials are missing, malformed, unknown, expired or revoked (the message says which).")
                            .into()
                    });
                    responses.entry("429".into()).or_insert_with(|| {
                        error("This address failed to authenticate too often: try again after the Retry-After header's seconds.")
                            .into()
                    });
                }
                if names_things {
                    responses.entry("404".into()).or_insert_with(|| {
                        error("A project, model, dataset, job or result named does not exist, or is in a project the caller has no role on.")
                            .into()
                    });
                }
            }
        }
    }
}

/// Starts the gateway's own routes: the OpenAPI document. (Its forwarding routes come from
/// [`forward::forward_routes`].)
pub fn start_gateway(deps: Deps) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .with_state(deps.clone())
        .merge(auth::routes::account_routes(deps))
}

/// Health, readiness and metrics: served by every process, whatever services it runs, so each
/// can be probed and scraped on its own.
pub fn health_routes(deps: Deps) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(deps)
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Ready when the metastore answers and the artifact store can be read.
async fn readyz(State(deps): State<Deps>) -> impl IntoResponse {
    let metastore = deps.metastore.check().await.map_err(|e| e.to_string());
    let artifacts = deps
        .artifacts
        .exists("readyz-probe")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    let status = if metastore.is_ok() && artifacts.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let show = |r: Result<(), String>| r.err().unwrap_or_else(|| "ok".into());
    (
        status,
        Json(json!({ "metastore": show(metastore), "artifacts": show(artifacts) })),
    )
}

async fn metrics(State(deps): State<Deps>) -> impl IntoResponse {
    let jobs = deps.metastore.job_counts().await.unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        deps.telemetry.render(&jobs),
    )
}

async fn openapi() -> impl IntoResponse {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    Json(doc)
}

/// The answer for a path no service serves.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no such endpoint: {}", uri.path()),
    )
}
