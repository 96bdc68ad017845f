//! The API in process: the app factory (`compose`) on SQLite and a local artifact directory,
//! driven request by request with `tower::ServiceExt::oneshot` — no listener, no analyzer
//! processes (those are what `crates/sextant/tests/it` runs for real). What is checked here is
//! the HTTP contract: the OpenAPI document, the one error shape, and the checks requests pass.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sextant_server::{Deps, ServerConfig, compose, process_launcher};
use tower::ServiceExt;

/// The composed router of every service and the first admin's token.
struct App {
    router: Router,
    token: String,
}

/// The composed router of every service, over a fresh data directory, with its first admin.
async fn app() -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let env = HashMap::from([(
        "SEXTANT_DATA_DIR".to_string(),
        dir.path().display().to_string(),
    )]);
    let config = ServerConfig::load(None, &env, 2).unwrap();
    let launcher = process_launcher(&config).unwrap();
    let deps = Deps::open(config).await.unwrap();
    sextant_server::auth::bootstrap::bootstrap(&deps)
        .await
        .unwrap();
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let router = compose(&deps, launcher, "http://127.0.0.1:9".into()).unwrap();
    let token = token.trim().to_string();
    (App { router, token }, dir)
}

/// Sends one request; returns the status and the body as JSON (`null` when empty).
async fn call(app: &App, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", app.token));
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

fn credit_project() -> Value {
    json!({"name": "credit", "schema": {
        "features": [{"name": "age", "type": "numeric"}, {"name": "region", "type": "categorical"}],
        "label": "defaulted", "task": "binary", "score_type": "probability"}})
}

#[tokio::test]
async fn the_openapi_document_declares_what_the_api_does() {
    let (app, _dir) = app().await;
    let (status, doc) = call(&app, "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 40, "{:?}", paths.keys().collect::<Vec<_>>());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("400"), "{method} {path}: no 400");
            if !matches!(path.as_str(), "/api/v1/openapi.json" | "/api/v1/login") {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path}: no 404");
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let place = parameter["in"].as_str().unwrap();
                let expected = if path.contains(&format!("{{{name}}}")) {
                    "path"
                } else {
                    "query"
                };
                assert_eq!(place, expected, "{method} {path}: parameter {name}");
            }
            for (status, response) in responses {
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if media == "text/event-stream" {
                        continue; // a stream of Job documents, described in words
                    }
                    let schema = &content["schema"];
                    assert!(
                        schema.get("$ref").is_some()
                            || schema.get("items").is_some()
                            || schema.get("properties").is_some()
                            || schema["type"] == "string",
                        "{method} {path} {status}: an untyped body {schema}"
                    );
                }
            }
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for typed in [
        "ImportanceReport",
        "MetricsReport",
        "Importance",
        "Metrics",
        "JobSpec",
        "TablePage",
    ] {
        assert!(schemas.contains_key(typed), "no schema for {typed}");
    }
    assert_eq!(
        schemas["ProjectSchema"]["properties"]["features"]["minItems"],
        1
    );
}

#[tokio::test]
async fn every_error_has_the_one_shape() {
    let (app, _dir) = app().await;
    let cases = [
        (
            "GET",
            "/api/v1/projects/nope",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            "/api/v1/no/such/route",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            "/api/v1/jobs/not-a-uuid",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "GET",
            "/api/v1/jobs?limit=0",
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/projects",
            Some(json!({"name": "x"})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/projects/nope/models",
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = call(&app, method, path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{method} {path}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{method} {path}: {answer}"
        );
    }
}

#[tokio::test]
async fn projects_are_created_once_and_checked_first() {
    let (app, _dir) = app().await;
    let (status, project) = call(&app, "POST", "/api/v1/projects", Some(credit_project())).await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let (status, again) = call(&app, "POST", "/api/v1/projects", Some(credit_project())).await;
    assert_eq!(
        (status, &again["error"]["code"]),
        (StatusCode::CONFLICT, &json!("conflict"))
    );
    let (_, listed) = call(&app, "GET", "/api/v1/projects", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["schema"], project["schema"]);

    let mut no_features = credit_project();
    no_features["name"] = json!("empty");
    no_features["schema"]["features"] = json!([]);
    let (status, answer) = call(&app, "POST", "/api/v1/projects", Some(no_features)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let mut bad_name = credit_project();
    bad_name["name"] = json!(".hidden");
    let (status, answer) = call(&app, "POST", "/api/v1/projects", Some(bad_name)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // A job on a model that does not exist: 404 naming it; the listing stays empty.
    let (status, answer) = call(
        &app,
        "POST",
        "/api/v1/projects/credit/jobs",
        Some(json!({"kind": "predict", "model": "m", "dataset": "d"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"m\""),
        "{answer}"
    );
    let (_, jobs) = call(&app, "GET", "/api/v1/projects/credit/jobs", None).await;
    assert_eq!(jobs, json!([]));
}
