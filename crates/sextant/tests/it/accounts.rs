//! Accounts over real HTTP: tokens that are revoked, expired or of a disabled user, analyzer
//! tokens kept to their endpoints, the audit log, failed attempts limited, the web GUI's login,
//! metrics, trusted proxies; and the helpers the other account suites share (`roles.rs`: every
//! route held to its roles; `accounts_cli.rs`: the CLI as a user who is not an admin).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::platform::{demo_project, influences_job, submit};
use crate::server::{Server, analyzer_pids};

pub(crate) const MINUTE: Duration = Duration::from_secs(60);

/// A new user's token (made by the server's admin).
pub(crate) fn new_user(server: &Server, name: &str) -> String {
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
pub(crate) fn call(
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
pub(crate) enum Body {
    Empty,
    Json(Value),
    Multipart,
}

/// Fails if any log under `dir` holds one of `secrets`.
pub(crate) fn assert_no_secret_in_logs(dir: &Path, secrets: &[&String]) {
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
