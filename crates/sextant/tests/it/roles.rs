//! Every route of the OpenAPI document held to the caller's role, over real HTTP.

use serde_json::{Value, json};
use sextant_client::Client;

use crate::accounts::{Body, MINUTE, assert_no_secret_in_logs, call, new_user};
use crate::platform::{demo_project, run_job};
use crate::server::{Server, wait_until};

/// One operation of the document, its path filled with real names and ids.
struct Operation {
    method: String,
    route: String,
    path: String,
    body: Body,
}

impl Operation {
    fn writes(&self) -> bool {
        self.method != "GET"
    }

    /// Whether the path names something inside a project (a project, model, dataset, job).
    fn in_project(&self) -> bool {
        self.route.starts_with("/api/v1/projects/{project}")
            || self.route.starts_with("/api/v1/jobs/{id}")
    }

    fn owners_only(&self) -> bool {
        self.route
            .starts_with("/api/v1/projects/{project}/members/")
            || (self.route == "/api/v1/projects/{project}" && self.method == "DELETE")
    }
}

/// Every operation of the OpenAPI document that needs credentials, with real names and ids.
fn operations(server: &Server, job: &str, token_id: &str) -> Vec<Operation> {
    let doc = server.client.openapi().unwrap();
    let mut all = Vec::new();
    for (route, item) in doc["paths"].as_object().unwrap() {
        if matches!(route.as_str(), "/api/v1/openapi.json" | "/api/v1/login") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let id = if route.starts_with("/api/v1/tokens") {
                token_id
            } else {
                job
            };
            let mut path = route
                .replace("{project}", "credit")
                .replace("{model}", "xgb")
                .replace("{dataset}", "applicants")
                .replace("{user}", "viewer")
                .replace("{segment}", "young")
                .replace("{group}", "money")
                .replace("{id}", id);
            if [
                "predictions",
                "influences",
                "importance",
                "metrics",
                "table",
                "curves",
                "points",
                "hotspots",
            ]
            .iter()
            .any(|r| route.ends_with(r))
            {
                path.push_str("?dataset=applicants");
            }
            if route.ends_with("/explanation") {
                path.push_str("?dataset=applicants&row=0");
            }
            if route.ends_with("/compare") {
                path.push_str("?dataset=applicants&models=xgb,xgb2");
            }
            if route.ends_with("/drift") {
                path.push_str("?dataset=applicants&reference=applicants");
            }
            if route.ends_with("/fairness") {
                path.push_str("?dataset=applicants&protected=young");
            }
            let body = match (method.as_str(), route.as_str()) {
                ("GET" | "DELETE", _) => Body::Empty,
                ("POST", r) if r.ends_with("/models") || r.ends_with("/datasets") => {
                    Body::Multipart
                }
                ("POST", "/api/v1/logout") => Body::Empty,
                ("POST", r) if r.ends_with("/segments") => {
                    Body::Json(json!({"name": "young", "expression": "age < 30"}))
                }
                ("POST", r) if r.ends_with("/feature-groups") => {
                    Body::Json(json!({"name": "money", "features": ["income", "debt_ratio"]}))
                }
                ("POST", r) if r.ends_with("/jobs") => {
                    Body::Json(json!({"kind": "predict", "model": "xgb", "dataset": "applicants"}))
                }
                ("POST", "/api/v1/projects") => Body::Json(json!({"name": "fresh", "schema": {
                    "features": [{"name": "a", "type": "numeric"}], "task": "binary",
                    "score_type": "probability"}})),
                ("POST", "/api/v1/users") => Body::Json(json!({"name": "someone"})),
                ("POST", "/api/v1/tokens") => Body::Json(json!({})),
                ("PUT", _) => Body::Json(json!({"role": "viewer"})),
                ("PATCH", _) => Body::Json(json!({"disabled": false})),
                (m, r) => panic!("no body known for {m} {r}: add one to this test"),
            };
            all.push(Operation {
                method,
                route: route.clone(),
                path,
                body,
            });
        }
    }
    assert!(all.len() >= 30, "{} operations", all.len());
    all
}

/// An error body with nothing but the error in it.
fn only_an_error(body: &Value) -> bool {
    body.as_object()
        .is_some_and(|o| o.len() == 1 && o.contains_key("error"))
}

#[test]
fn every_route_is_held_to_the_callers_role() {
    let server = Server::start_fresh(
        "roles",
        &[("SEXTANT_MAX_AUTH_FAILURES_PER_MINUTE", "1000000")],
    );
    demo_project(&server);
    let job = run_job(&server, "influences", &[])["id"]
        .as_str()
        .unwrap()
        .to_string();
    run_job(&server, "predict", &[]);
    run_job(&server, "error-influences", &["--background", "background"]);
    run_job(&server, "drift", &["--reference", "applicants"]);
    // A second model, for the comparison to compare.
    let model = crate::support::repo("demo/credit_model.json");
    server.cli_ok(&[
        "model",
        "add",
        "credit",
        model.to_str().unwrap(),
        "--name",
        "xgb2",
    ]);
    server.cli_ok(&[
        "job",
        "run",
        "credit",
        "--kind",
        "predict",
        "--model",
        "xgb2",
        "--dataset",
        "applicants",
        "--wait",
    ]);
    // A segment for the routes that name one to find.
    server.cli_ok(&["segment", "add", "credit", "young", "age < 30"]);
    let admin_tokens = server.client.tokens(None).unwrap();
    let token_id = admin_tokens[0].id.to_string();

    let viewer = new_user(&server, "viewer");
    let editor = new_user(&server, "editor");
    let outsider = new_user(&server, "outsider");
    let leaver = new_user(&server, "leaver");
    for (user, role) in [
        ("viewer", "viewer"),
        ("editor", "editor"),
        ("leaver", "owner"),
    ] {
        server.cli_ok(&["project", "grant", "credit", user, "--role", role]);
    }
    // The outsider has a project of their own, and no role on credit.
    let theirs = json!({"name": "theirs", "schema": {"features": [{"name": "a", "type": "numeric"}],
        "task": "binary", "score_type": "probability"}});
    assert_eq!(
        call(
            &server,
            Some(&outsider),
            "POST",
            "/api/v1/projects",
            &Body::Json(theirs)
        )
        .0,
        201
    );

    let as_editor = Client::new(&server.url).with_token(&editor);
    let revoked = as_editor.create_token(&Default::default()).unwrap();
    as_editor.revoke_token(revoked.info.id).unwrap();
    let expiring = as_editor
        .create_token(&sextant_api::CreateToken {
            name: Some("short".into()),
            expires_in_seconds: Some(1),
        })
        .unwrap();
    server.cli_ok(&["user", "disable", "leaver"]);

    let ops = operations(&server, &job, &token_id);
    for op in &ops {
        let what = format!("{} {}", op.method, op.path);
        // No credentials.
        let (status, body) = call(&server, None, &op.method, &op.path, &op.body);
        assert_eq!(status, 401, "{what} without a token: {body}");
        assert!(only_an_error(&body), "{what}: {body}");
        // A revoked token, a disabled user's.
        let (status, body) = call(
            &server,
            Some(&revoked.token),
            &op.method,
            &op.path,
            &op.body,
        );
        assert_eq!(status, 401, "{what} with a revoked token: {body}");
        assert!(body.to_string().contains("revoked"), "{what}: {body}");
        let (status, body) = call(&server, Some(&leaver), &op.method, &op.path, &op.body);
        assert_eq!(status, 401, "{what} as a disabled user: {body}");
        assert!(body.to_string().contains("disabled"), "{what}: {body}");
        // No role on the project: as if it did not exist.
        if op.in_project() {
            let (status, body) = call(&server, Some(&outsider), &op.method, &op.path, &op.body);
            assert_eq!(status, 404, "{what} as an outsider: {body}");
            assert!(only_an_error(&body), "{what}: {body}");
            assert_eq!(body["error"]["code"], "not_found", "{what}: {body}");
            // A viewer reads, and writes nothing.
            let (status, body) = call(&server, Some(&viewer), &op.method, &op.path, &op.body);
            if op.writes() {
                assert_eq!(status, 403, "{what} as a viewer: {body}");
                assert!(body.to_string().contains("needs"), "{what}: {body}");
            } else {
                assert_eq!(status, 200, "{what} as a viewer: {body}");
            }
        }
        if op.owners_only() {
            let (status, body) = call(&server, Some(&editor), &op.method, &op.path, &op.body);
            assert_eq!(status, 403, "{what} as an editor: {body}");
        }
    }
    // The expired token, once its second has passed.
    wait_until("the short token to expire", MINUTE, || {
        call(
            &server,
            Some(&expiring.token),
            "GET",
            "/api/v1/me",
            &Body::Empty,
        )
        .0 == 401
    });
    for op in &ops {
        let (status, body) = call(
            &server,
            Some(&expiring.token),
            &op.method,
            &op.path,
            &op.body,
        );
        assert_eq!(
            status, 401,
            "{} {} with an expired token: {body}",
            op.method, op.path
        );
        assert!(body.to_string().contains("expired"), "{body}");
    }
    // Listings show only what the caller may see.
    let (_, projects) = call(
        &server,
        Some(&outsider),
        "GET",
        "/api/v1/projects",
        &Body::Empty,
    );
    let names: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["theirs"]);
    let (_, jobs) = call(
        &server,
        Some(&outsider),
        "GET",
        "/api/v1/jobs",
        &Body::Empty,
    );
    assert_eq!(jobs, json!([]));
    let (_, jobs) = call(&server, Some(&viewer), "GET", "/api/v1/jobs", &Body::Empty);
    assert_eq!(jobs.as_array().unwrap().len(), 5);
    // Users see only themselves; the admin's routes are the admin's.
    assert_eq!(
        call(&server, Some(&viewer), "GET", "/api/v1/users", &Body::Empty).0,
        403
    );
    assert_eq!(
        call(
            &server,
            Some(&viewer),
            "GET",
            "/api/v1/users/editor",
            &Body::Empty
        )
        .0,
        404
    );
    assert_eq!(
        call(
            &server,
            Some(&viewer),
            "GET",
            "/api/v1/users/viewer",
            &Body::Empty
        )
        .0,
        200
    );
    let (status, _) = call(
        &server,
        Some(&viewer),
        "DELETE",
        &format!("/api/v1/tokens/{token_id}"),
        &Body::Empty,
    );
    assert_eq!(status, 404, "another user's token is not found");
    assert_eq!(
        call(&server, Some(&viewer), "GET", "/api/v1/audit", &Body::Empty).0,
        403
    );

    // The audit log holds the denials, with who and from where.
    let denied = server
        .client
        .audit(&sextant_api::AuditQuery {
            user: Some("outsider".into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap();
    assert!(denied.iter().any(|e| e.outcome == "denied"
        && e.status == 404
        && e.project.as_deref() == Some("credit")));
    assert!(denied.iter().all(|e| e.client == "127.0.0.1"));
    let anonymous = server
        .client
        .audit(&sextant_api::AuditQuery {
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap();
    assert!(
        anonymous
            .iter()
            .any(|e| e.user.is_none() && e.status == 401)
    );

    // No token ever reaches a log.
    let secrets = [
        &server.token.clone().unwrap(),
        &viewer,
        &editor,
        &outsider,
        &leaver,
        &revoked.token,
        &expiring.token,
    ];
    assert_no_secret_in_logs(&server.data_dir, &secrets);
}
