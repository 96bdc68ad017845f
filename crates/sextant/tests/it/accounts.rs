//! Accounts over real HTTP: every route of the OpenAPI document held to its roles, tokens that
//! are revoked, expired or of a disabled user, analyzer tokens kept to their endpoints, the CLI
//! as a user who is not an admin, the audit log, failed attempts limited, the web GUI's login.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use sextant_client::Client;

use crate::platform::{demo_project, influences_job, run_job, submit};
use crate::server::{Server, analyzer_pids, wait_until};
use crate::support::repo;

const MINUTE: Duration = Duration::from_secs(60);

/// A new user's token (made by the server's admin).
fn new_user(server: &Server, name: &str) -> String {
    let made = server
        .client
        .create_user(&sextant_api::CreateUser {
            name: name.into(),
            admin: false,
            password: None,
        })
        .unwrap();
    made.token
}

/// A request with a token (or none), answered whatever the status.
fn call(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &Body,
) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{path}", server.url);
    let auth = token.map(|t| format!("Bearer {t}"));
    macro_rules! with_auth {
        ($request:expr) => {{
            let request = $request;
            match &auth {
                Some(a) => request.header("Authorization", a),
                None => request,
            }
        }};
    }
    let answer = match (method, body) {
        ("GET", _) => with_auth!(agent.get(&url)).call(),
        ("DELETE", _) => with_auth!(agent.delete(&url)).call(),
        (m, Body::Json(v)) => {
            let request = match m {
                "POST" => agent.post(&url),
                "PUT" => agent.put(&url),
                "PATCH" => agent.patch(&url),
                other => panic!("no {other}"),
            };
            with_auth!(request).send_json(v)
        }
        (m, Body::Multipart) => {
            assert_eq!(m, "POST");
            with_auth!(agent.post(&url))
                .header("Content-Type", "multipart/form-data; boundary=B")
                .send(&b"--B--\r\n"[..])
        }
        (m, Body::Empty) => {
            assert_eq!(m, "POST");
            with_auth!(agent.post(&url)).send_empty()
        }
    };
    let mut answer = answer.unwrap();
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// What an operation is sent.
enum Body {
    Empty,
    Json(Value),
    Multipart,
}

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
                .replace("{id}", id);
            if [
                "predictions",
                "influences",
                "importance",
                "metrics",
                "table",
            ]
            .iter()
            .any(|r| route.ends_with(r))
            {
                path.push_str("?dataset=applicants");
            }
            let body = match (method.as_str(), route.as_str()) {
                ("GET" | "DELETE", _) => Body::Empty,
                ("POST", r) if r.ends_with("/models") || r.ends_with("/datasets") => {
                    Body::Multipart
                }
                ("POST", "/api/v1/logout") => Body::Empty,
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
    assert_eq!(jobs.as_array().unwrap().len(), 2);
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

/// Fails if any log under `dir` holds one of `secrets`.
fn assert_no_secret_in_logs(dir: &Path, secrets: &[&String]) {
    let mut logs: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "log") {
                logs.push(path);
            }
        }
    }
    assert!(!logs.is_empty(), "no logs under {}", dir.display());
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a token",
                log.display()
            );
        }
    }
}

/// The CLI as one user: its own credentials file, no admin token.
fn as_user(_server: &Server, config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("SEXTANT_TOKEN")
        .env_remove("SEXTANT_SERVER")
        .env("XDG_CONFIG_HOME", config)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `sextant job run` of predictions in Ann's project.
const PREDICT_MINE: &[&str] = &[
    "job",
    "run",
    "mine",
    "--kind",
    "predict",
    "--model",
    "xgb",
    "--dataset",
    "applicants",
];

#[test]
fn a_user_who_is_not_an_admin_works_through_the_cli() {
    let server = Server::start_fresh("cli-user", &[]);
    demo_project(&server);
    let made: Value =
        serde_json::from_str(&server.cli_ok(&["user", "create", "ann", "--json"])).unwrap();
    assert_eq!(made["user"]["name"], "ann");
    let ann_token = made["token"].as_str().unwrap().to_string();
    let bob_token = new_user(&server, "bob");
    let ann = Server::temp_dir("ann-config");
    let bob = Server::temp_dir("bob-config");

    // Logging in checks the token and saves it (mode 0600) with the server as the default.
    let said = refused(as_user(
        &server,
        &ann,
        &["login", "--server", &server.url, "--token", "sxt_nope"],
    ));
    assert!(said.contains("did not accept the token"), "{said}");
    let said = ok(as_user(
        &server,
        &ann,
        &["login", "--server", &server.url, "--token", &ann_token],
    ));
    assert!(
        said.contains("logged in to") && said.contains("as ann"),
        "{said}"
    );
    let saved = ann.join("sextant/credentials.toml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600
    );
    ok(as_user(
        &server,
        &bob,
        &["login", "--server", &server.url, "--token", &bob_token],
    ));
    assert!(ok(as_user(&server, &ann, &["whoami"])).contains("ann on"));

    // Ann makes a project of her own and works in it; she never sees the admin's.
    let csv = repo("demo/applicants.csv");
    let csv = csv.to_str().unwrap();
    ok(as_user(
        &server,
        &ann,
        &[
            "project",
            "create",
            "mine",
            "--task",
            "binary",
            "--label",
            "defaulted",
            "--id",
            "applicant_id",
            "--from-data",
            csv,
        ],
    ));
    ok(as_user(
        &server,
        &ann,
        &[
            "model",
            "add",
            "mine",
            repo("demo/credit_model.json").to_str().unwrap(),
            "--name",
            "xgb",
        ],
    ));
    ok(as_user(
        &server,
        &ann,
        &[
            "data",
            "add",
            "mine",
            csv,
            "--name",
            "applicants",
            "--role",
            "test",
            "--label",
            "defaulted",
        ],
    ));
    let run = ok(as_user(
        &server,
        &ann,
        &[PREDICT_MINE, &["--wait", "--json"]].concat(),
    ));
    assert!(run.contains("\"succeeded\""), "{run}");
    let listed = ok(as_user(&server, &ann, &["project", "list"]));
    assert!(
        listed.contains("mine") && !listed.contains("credit"),
        "{listed}"
    );
    let said = refused(as_user(&server, &ann, &["project", "show", "credit"]));
    assert!(said.contains("project \"credit\" does not exist"), "{said}");

    // Bob sees nothing until Ann grants him a role; as a viewer he reads and cannot run.
    assert!(
        refused(as_user(&server, &bob, &["project", "show", "mine"])).contains("does not exist")
    );
    ok(as_user(
        &server,
        &ann,
        &["project", "grant", "mine", "bob", "--role", "viewer"],
    ));
    assert!(ok(as_user(&server, &bob, &["project", "show", "mine"])).contains("project mine"));
    let said = refused(as_user(&server, &bob, PREDICT_MINE));
    assert!(
        said.contains("your role on project \"mine\" is viewer: this needs editor"),
        "{said}"
    );
    assert!(
        refused(as_user(
            &server,
            &bob,
            &["project", "grant", "mine", "bob", "--role", "owner"]
        ))
        .contains("this needs owner")
    );
    let members = ok(as_user(&server, &bob, &["project", "members", "mine"]));
    assert!(
        members.contains("ann") && members.contains("owner") && members.contains("viewer"),
        "{members}"
    );
    // The last owner cannot leave the project ownerless.
    let said = refused(as_user(
        &server,
        &ann,
        &["project", "revoke", "mine", "ann"],
    ));
    assert!(said.contains("only owner"), "{said}");

    // Tokens: made, listed, revoked; a revoked one stops at once.
    let made = ok(as_user(
        &server,
        &ann,
        &[
            "token",
            "create",
            "--name",
            "ci",
            "--expires",
            "30d",
            "--json",
        ],
    ));
    let made: Value = serde_json::from_str(&made).unwrap();
    let ci = made["token"].as_str().unwrap();
    let id = made["info"]["id"].as_str().unwrap();
    assert!(made["info"]["expires_at"].is_string());
    let ci_client = Client::new(&server.url).with_token(ci);
    assert_eq!(ci_client.whoami().unwrap().user.name, "ann");
    let listed = ok(as_user(&server, &ann, &["token", "list"]));
    assert!(
        listed.contains("ci") && listed.contains(id) && !listed.contains(ci),
        "{listed}"
    );
    ok(as_user(&server, &ann, &["token", "revoke", id]));
    let refused_ci = ci_client.whoami().unwrap_err().to_string();
    assert!(refused_ci.contains("revoked"), "{refused_ci}");

    // Admin work is refused; the owner reads her project's audit log, not the whole.
    assert!(refused(as_user(&server, &ann, &["user", "list"])).contains("this needs an admin"));
    assert!(refused(as_user(&server, &ann, &["audit"])).contains("for admins"));
    let log = ok(as_user(
        &server,
        &ann,
        &["audit", "--project", "mine", "--json"],
    ));
    let log: Vec<Value> = serde_json::from_str(&log).unwrap();
    let has = |user: &str, action: &str, outcome: &str| {
        log.iter().any(|e| {
            e["user"] == user
                && e["action"].as_str().unwrap().starts_with(action)
                && e["outcome"] == outcome
        })
    };
    assert!(
        has("ann", "POST /api/v1/projects/{project}/models", "ok"),
        "{log:?}"
    );
    assert!(
        has("ann", "PUT /api/v1/projects/{project}/members/{user}", "ok"),
        "{log:?}"
    );
    assert!(
        has("bob", "POST /api/v1/projects/{project}/jobs", "denied"),
        "{log:?}"
    );
    assert!(log.iter().all(|e| e["project"] == "mine"), "{log:?}");
    // The admin reads everything, by user and time.
    let bobs = server.cli_ok(&["audit", "--user", "bob", "--since", "1h", "--json"]);
    assert!(
        bobs.contains("denied") && !bobs.contains("\"ann\""),
        "{bobs}"
    );

    // Disabling a user stops their saved token at once; an owner deletes her project.
    server.cli_ok(&["user", "disable", "bob"]);
    assert!(refused(as_user(&server, &bob, &["project", "show", "mine"])).contains("disabled"));
    ok(as_user(&server, &ann, &["project", "delete", "mine"]));
    assert!(
        refused(as_user(&server, &ann, &["project", "show", "mine"])).contains("does not exist")
    );
    assert_no_secret_in_logs(&server.data_dir, &[&ann_token, &bob_token, &ci.to_string()]);
}

#[test]
fn failed_attempts_are_limited_per_address() {
    let server = Server::start_fresh("rate", &[("SEXTANT_MAX_AUTH_FAILURES_PER_MINUTE", "5")]);
    let unknown = format!("sxt_{}", "0".repeat(64));
    // Requests without credentials guess nothing and are not counted.
    for _ in 0..10 {
        assert_eq!(
            call(&server, None, "GET", "/api/v1/projects", &Body::Empty).0,
            401
        );
    }
    for _ in 0..5 {
        let (status, body) = call(
            &server,
            Some(&unknown),
            "GET",
            "/api/v1/projects",
            &Body::Empty,
        );
        assert_eq!(status, 401, "{body}");
        assert!(body.to_string().contains("not known"), "{body}");
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .get(format!("{}/api/v1/projects", server.url))
        .header(
            "Authorization",
            format!("Bearer {}", server.token.as_deref().unwrap()),
        )
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 429);
    let wait: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Health and readiness are never limited.
    assert!(server.client.ready());
}

#[test]
fn the_first_admin_and_web_sessions() {
    let server = Server::start_fresh("sessions", &[]);
    // The bootstrap token: a file only its owner reads; the log names the file, not the token.
    use std::os::unix::fs::PermissionsExt;
    let file = server.data_dir.join("admin.token");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = server.token.clone().unwrap();
    assert!(token.starts_with("sxt_") && token.len() == 68);
    let log: String = std::fs::read_dir(&server.data_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("server-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        log.contains("admin.token") && !log.contains(&token),
        "{log}"
    );

    // A password login for the web GUI: a session cookie, HttpOnly and SameSite=Strict.
    server
        .client
        .create_user(&sextant_api::CreateUser {
            name: "carol".into(),
            admin: false,
            password: Some("a long passphrase".into()),
        })
        .unwrap();
    let too_short = server.client.create_user(&sextant_api::CreateUser {
        name: "dave".into(),
        admin: false,
        password: Some("short".into()),
    });
    assert!(
        too_short
            .unwrap_err()
            .to_string()
            .contains("at least 12 characters")
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let login = |user: &str, password: &str| {
        agent
            .post(format!("{}/api/v1/login", server.url))
            .send_json(json!({"user": user, "password": password}))
            .unwrap()
    };
    let mut wrong = login("carol", "not the passphrase");
    let mut nobody = login("nobody", "a long passphrase");
    assert_eq!(
        (wrong.status().as_u16(), nobody.status().as_u16()),
        (401, 401)
    );
    let (a, b) = (
        wrong.body_mut().read_to_string().unwrap(),
        nobody.body_mut().read_to_string().unwrap(),
    );
    assert_eq!(a, b, "a wrong password and an unknown user answer alike");
    let right = login("carol", "a long passphrase");
    assert_eq!(right.status().as_u16(), 200);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let me = |cookie: &str| {
        agent
            .get(format!("{}/api/v1/me", server.url))
            .header("Cookie", cookie)
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(me(&session), 200);
    // A write from another site's page is refused even with the cookie.
    let forged = agent
        .post(format!("{}/api/v1/tokens", server.url))
        .header("Cookie", &session)
        .header("Origin", "http://evil.example")
        .send_json(json!({}))
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let out = agent
        .post(format!("{}/api/v1/logout", server.url))
        .header("Cookie", &session)
        .send_empty()
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    assert_eq!(me(&session), 401, "the session ended");
}

#[test]
fn analyzer_tokens_reach_only_the_analyzer_endpoints() {
    let server = Server::start_fresh("analyzer-token", &[("SEXTANT_ANALYZER_FAULT", "slow")]);
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    server.wait_state(&id, "running", MINUTE);
    let pid = analyzer_pids(&id)[0];
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let job_token = environ
        .split(|b| *b == 0)
        .filter_map(|v| std::str::from_utf8(v).ok())
        .find_map(|v| v.strip_prefix("SEXTANT_JOB_TOKEN="))
        .unwrap()
        .to_string();
    let task = format!("/internal/v1/jobs/{id}/task");
    assert_eq!(
        call(&server, Some(&job_token), "GET", &task, &Body::Empty).0,
        200
    );
    for path in [
        "/api/v1/projects",
        "/api/v1/me",
        &format!("/api/v1/jobs/{id}"),
    ] {
        let (status, body) = call(&server, Some(&job_token), "GET", path, &Body::Empty);
        assert_eq!(status, 401, "{path}: {body}");
    }
    let admin = server.token.clone().unwrap();
    assert_eq!(
        call(&server, Some(&admin), "GET", &task, &Body::Empty).0,
        401
    );
    server.client.cancel_job(&id).unwrap();
}

#[test]
fn without_authentication_the_server_stays_on_loopback() {
    let out = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(Server::temp_dir("open").as_os_str())
        .env("SEXTANT_AUTH_ENABLED", "false")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("authentication is off") && said.contains("127.0.0.1"),
        "{said}"
    );
    // On loopback it serves everyone as an admin, and makes no token.
    let server = Server::start_fresh("open-loopback", &[("SEXTANT_AUTH_ENABLED", "false")]);
    assert!(server.token.is_none());
    assert!(!server.data_dir.join("admin.token").exists());
    demo_project(&server);
    assert_eq!(server.client.projects().unwrap().len(), 1);
}

#[test]
fn metrics_take_the_scrape_token_or_an_admin() {
    let dir = Server::temp_dir("metrics-token");
    let scrape = format!("sxt_{}", "5".repeat(64));
    let file = dir.join("scrape.token");
    std::fs::write(&file, format!("{scrape}\n")).unwrap();
    let server = Server::start(
        &dir,
        &[("SEXTANT_METRICS_TOKEN_FILE", file.to_str().unwrap())],
    );
    let viewer = new_user(&server, "viewer");
    let admin = server.token.clone().unwrap();
    for (token, expected) in [
        (Some(scrape.as_str()), 200),
        (Some(admin.as_str()), 200),
        (Some(viewer.as_str()), 403),
        (None, 401),
    ] {
        let (status, body) = call(&server, token, "GET", "/metrics", &Body::Empty);
        assert_eq!(status, expected, "{body}");
        if status == 200 {
            assert!(body.to_string().contains("sextant_jobs"), "{body}");
        }
    }
    // The scrape token reaches nothing else.
    assert_eq!(
        call(
            &server,
            Some(&scrape),
            "GET",
            "/api/v1/projects",
            &Body::Empty
        )
        .0,
        401
    );
}

/// A request with `X-Forwarded-For` and an unknown token; answers the status.
fn forwarded_failure(server: &Server, client: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(format!("{}/api/v1/projects", server.url))
        .header("Authorization", format!("Bearer sxt_{}", "0".repeat(64)))
        .header("X-Forwarded-For", client)
        .call()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn forwarded_addresses_count_only_behind_trusted_proxies() {
    // Behind a trusted proxy (here the test itself, on loopback), each client is counted and
    // audited by the address the proxy recorded.
    let behind = Server::start_fresh(
        "trusted-proxy",
        &[
            ("SEXTANT_TRUSTED_PROXIES", "127.0.0.0/8"),
            ("SEXTANT_MAX_AUTH_FAILURES_PER_MINUTE", "3"),
        ],
    );
    for _ in 0..3 {
        assert_eq!(forwarded_failure(&behind, "203.0.113.7"), 401);
    }
    assert_eq!(forwarded_failure(&behind, "203.0.113.7"), 429);
    assert_eq!(
        forwarded_failure(&behind, "198.51.100.9"),
        401,
        "another client is not blocked"
    );
    let log = behind
        .client
        .audit(&sextant_api::AuditQuery::default())
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.client == "203.0.113.7" && e.status == 429)
    );
    assert!(log.iter().any(|e| e.client == "198.51.100.9"));
    // Without trusted proxies the header is the client's own word: ignored.
    let direct = Server::start_fresh("no-proxy", &[("SEXTANT_MAX_AUTH_FAILURES_PER_MINUTE", "3")]);
    for client in ["203.0.113.7", "198.51.100.9", "192.0.2.1"] {
        assert_eq!(forwarded_failure(&direct, client), 401);
    }
    assert_eq!(
        forwarded_failure(&direct, "192.0.2.2"),
        429,
        "all one address: 127.0.0.1"
    );
}
