//! The web GUI, served by the gateway at `/`: server-rendered pages ([`maud`]) with a little
//! hand-written JavaScript and plotly.js for the plots, embedded in the binary ([`assets`]).
//!
//! The GUI is a client of the API like any other: each page asks the API for what it shows,
//! in-process, through the same router (its authentication, roles and error messages), carrying
//! the browser's session cookie. In a split deployment those requests are forwarded to the
//! services that own them, as the CLI's are. A form is checked for its CSRF token (a random
//! value in a SameSite=Strict cookie, repeated in the form) before anything is asked of the API.

mod assets;
mod changes;
mod drift;
mod errors;
mod fairness;
mod hotspots;
mod layout;
mod model;
mod project;
mod report;
mod segments;
mod signin;
mod visit;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use visit::{ApiFailure, Visit};

/// The composed router the GUI's pages ask the API through, set once the router is built.
pub type ApiHandle = Arc<OnceLock<Router>>;

/// The GUI's routes. `api` is filled in with the whole router once it is composed.
pub fn gui_routes(api: ApiHandle) -> Router {
    assets::warm();
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/projects") }))
        .route("/ui", get(|| async { Redirect::to("/ui/projects") }))
        .route("/ui/static/{version}/{file}", get(assets::serve))
        .route("/ui/signin", get(signin::signin_page).post(signin::signin))
        .route("/ui/signout", post(signin::signout))
        .route(
            "/ui/projects",
            get(project::projects_page).post(project::create_project),
        )
        .route("/ui/projects/{project}", get(project::project_page))
        .route(
            "/ui/projects/{project}/models",
            post(changes::upload_model).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/ui/projects/{project}/datasets",
            post(changes::upload_dataset).layer(DefaultBodyLimit::disable()),
        )
        .route("/ui/projects/{project}/jobs", post(changes::run_job))
        .route(
            "/ui/projects/{project}/jobs/{job}/cancel",
            post(changes::cancel_job),
        )
        .route("/ui/projects/{project}/members", post(changes::grant))
        .route(
            "/ui/projects/{project}/segments",
            post(segments::add_segment),
        )
        .route(
            "/ui/projects/{project}/segments/{segment}/delete",
            post(segments::delete_segment),
        )
        .route(
            "/ui/projects/{project}/feature-groups",
            post(segments::add_feature_group),
        )
        .route(
            "/ui/projects/{project}/feature-groups/{group}/delete",
            post(segments::delete_feature_group),
        )
        .route(
            "/ui/projects/{project}/members/{user}/revoke",
            post(changes::revoke),
        )
        .route(
            "/ui/projects/{project}/models/{model}",
            get(model::model_page),
        )
        .route(
            "/ui/projects/{project}/models/{model}/delete",
            post(changes::delete_model),
        )
        .route(
            "/ui/projects/{project}/datasets/{dataset}/delete",
            post(changes::delete_dataset),
        )
        .route(
            "/ui/projects/{project}/models/{model}/table",
            get(model::table_page),
        )
        .route(
            "/ui/projects/{project}/models/{model}/report",
            get(report::report_page),
        )
        .route(
            "/ui/projects/{project}/models/{model}/fairness",
            get(fairness::fairness_page),
        )
        .route(
            "/ui/projects/{project}/models/{model}/drift",
            get(drift::drift_page),
        )
        .route(
            "/ui/projects/{project}/models/{model}/hotspots",
            get(hotspots::hotspots_page),
        )
        .route(
            "/ui/projects/{project}/models/{model}/errors",
            get(errors::errors_page),
        )
        .route("/ui/projects/{project}/compare", get(report::compare_page))
        .layer(axum::Extension(api))
        .layer(axum::middleware::from_fn(visit::csrf_cookie))
        .layer(axum::middleware::map_response(secure_headers))
}

/// The Content-Security-Policy of every page: scripts and styles from this server only (no
/// inline script; plotly.js sets inline styles on the plots it draws), no frames, no plugins,
/// forms posted here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    response
}

/// A page's answer when the API refused what it asked: to the sign-in page when the session is
/// missing or over, else the API's message on an error page.
fn failure_page(visit: &Visit, failure: ApiFailure) -> Response {
    if failure.status == axum::http::StatusCode::UNAUTHORIZED {
        let next = visit.path.clone();
        return Redirect::to(&format!("/ui/signin?next={}", layout::encode(&next))).into_response();
    }
    let status = failure.status;
    let page = layout::page(
        visit,
        "Error",
        &[],
        maud::html! {
            h1 { "Something went wrong" }
            p.error role="alert" { (failure.message) }
            p { a href="/ui/projects" { "Back to the projects" } }
        },
    );
    (status, page).into_response()
}
