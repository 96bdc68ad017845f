//! The platform in one process: a real `sextant serve`, real analyzer processes, the CLI client
//! and plain HTTP, on 127.0.0.1.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::{Server, wait_until};
use crate::support::{Table, repo, sextant_ok};

pub(crate) const MINUTE: Duration = Duration::from_secs(60);

/// Creates the demo project and uploads the demo model and datasets through the CLI.
pub(crate) fn demo_project(server: &Server) {
    let applicants = repo("demo/applicants.csv");
    let background = repo("demo/background.csv");
    let model = repo("demo/credit_model.json");
    let out = server.cli_ok(&[
        "project",
        "create",
        "credit",
        "--task",
        "binary",
        "--label",
        "defaulted",
        "--id",
        "applicant_id",
        "--from-data",
        applicants.to_str().unwrap(),
    ]);
    assert!(out.contains("created project credit (7 features"), "{out}");
    let out = server.cli_ok(&[
        "model",
        "add",
        "credit",
        model.to_str().unwrap(),
        "--name",
        "xgb",
    ]);
    assert!(out.contains("added model xgb"), "{out}");
    let out = server.cli_ok(&[
        "data",
        "add",
        "credit",
        applicants.to_str().unwrap(),
        "--name",
        "applicants",
        "--role",
        "test",
        "--label",
        "defaulted",
    ]);
    assert!(out.contains("1000 rows, csv, labelled"), "{out}");
    server.cli_ok(&[
        "data",
        "add",
        "credit",
        background.to_str().unwrap(),
        "--name",
        "background",
        "--role",
        "background",
    ]);
}

/// `sextant job run credit --kind KIND --model xgb --dataset applicants EXTRA… --wait --json`.
pub(crate) fn run_job(server: &Server, kind: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "job",
        "run",
        "credit",
        "--kind",
        kind,
        "--model",
        "xgb",
        "--dataset",
        "applicants",
    ];
    args.extend_from_slice(extra);
    args.extend(["--wait", "--json"]);
    json_out(&server.cli_ok(&args))
}

/// `sextant explain` of the demo model on the demo applicants, as a table.
pub(crate) fn explain_demo(extra: &[&str]) -> Table {
    let dir = Server::temp_dir("explain-demo");
    let out = dir.join("influences.csv");
    let (model, data) = (repo("demo/credit_model.json"), repo("demo/applicants.csv"));
    let mut args = vec![
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sextant_ok(&args);
    Table::read(&out)
}

/// Runs the CLI with `args` and checks that it fails, saying `expected`.
pub(crate) fn cli_refuses(server: &Server, args: &[&str], expected: &str) {
    let out = server.cli(args);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains(expected),
        "{expected:?} not in {said}"
    );
}

pub(crate) fn json_out(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn whole_flow_through_the_cli() {
    let dir = Server::temp_dir("flow");
    let server = Server::start(&dir, &[]);
    whole_flow(&server, &server, &|| server.artifact_files());
}

#[test]
fn whole_flow_on_postgres() {
    let dir = Server::temp_dir("flow-pg");
    let uri = crate::server::fresh_postgres_database();
    let server = Server::start(&dir, &[("SEXTANT_METASTORE_URI", &uri)]);
    whole_flow(&server, &server, &|| server.artifact_files());
}

/// The same flow with each service in a process of its own, sharing PostgreSQL and S3: ingest on
/// one port, the scheduler on another, intelligence and the gateway (routing to the other two) on
/// a third. The client only ever talks to the gateway.
#[test]
fn whole_flow_with_services_in_separate_processes() {
    let dir = Server::temp_dir("split");
    let metastore = crate::server::fresh_postgres_database();
    let s3 = crate::server::S3Prefix::fresh();
    let token_file = crate::server::bootstrap_token_file(&dir);
    let token_file = token_file.to_str().unwrap();
    let common = [
        ("SEXTANT_METASTORE_URI", metastore.as_str()),
        ("SEXTANT_ARTIFACTS_URI", s3.uri.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("SEXTANT_BOOTSTRAP_TOKEN_FILE", token_file),
    ];
    let start = |name: &str, extra: &[(&str, &str)]| {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).unwrap();
        let env: Vec<(&str, &str)> = common.iter().chain(extra).copied().collect();
        Server::start(&data, &env)
    };
    let ingest = start("ingest", &[("SEXTANT_SERVICES", "ingest")]);
    let scheduler = start("scheduler", &[("SEXTANT_SERVICES", "scheduler")]);
    let front = start(
        "front",
        &[
            ("SEXTANT_SERVICES", "intelligence,gateway"),
            ("SEXTANT_PEER_INGEST", &ingest.url),
            ("SEXTANT_PEER_SCHEDULER", &scheduler.url),
        ],
    );
    // Each process checks credentials itself, also when reached past the gateway.
    let anonymous = sextant_client::Client::new(&ingest.url);
    let answer = anonymous.raw("GET", "/api/v1/projects", None).unwrap();
    assert_eq!(answer.status, 401, "{}", answer.text);
    // Each process serves only its own routes.
    assert_eq!(ingest.get("/api/v1/jobs").unwrap().0, 404);
    assert_eq!(scheduler.get("/api/v1/projects").unwrap().0, 404);
    whole_flow(&front, &scheduler, &|| s3.keys());
    // The GUI, served by the gateway, reads through it from every service. (The flow deleted
    // the model; the same file again finds its stored results.)
    let model = repo("demo/credit_model.json");
    front.cli_ok(&[
        "model",
        "add",
        "credit",
        model.to_str().unwrap(),
        "--name",
        "xgb",
    ]);
    let cookie = crate::gui::sign_in_admin(&front);
    let (status, html) = crate::gui::page(&front, &cookie, "/ui/projects/credit");
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("applicants") && html.contains("data-job="),
        "{html}"
    );
    let model_page = "/ui/projects/credit/models/xgb?dataset=applicants";
    let (status, html) = crate::gui::page(&front, &cookie, model_page);
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("id=\"sx-model\"") && html.contains("plot-beeswarm"),
        "{html}"
    );
    // Nothing was written to the processes' own disks but logs and scratch copies.
    assert!(!dir.join("ingest/artifacts").exists());

    // A peer that is down: the gateway answers 502 naming it, and the rest still works.
    drop(ingest);
    let (status, body) = front.get("/api/v1/projects").unwrap();
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "bad_gateway");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ingest service"),
        "{body}"
    );
    assert_eq!(front.get("/api/v1/jobs").unwrap().0, 200);
}

/// The whole flow through the CLI against `server`; `scheduler` is the process whose metrics
/// count analyzers; `artifact_files` lists the artifact store.
fn whole_flow(server: &Server, scheduler: &Server, artifact_files: &dyn Fn() -> Vec<String>) {
    demo_project(server);

    // Predict with metrics.
    let job = run_job(server, "predict", &[]);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["progress"]["rows_done"], 1000);
    let metrics = json_out(&server.cli_ok(&[
        "metrics",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--json",
    ]));
    let m = &metrics["result"];
    let confusion: u64 = m["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion, 1000);
    for name in ["accuracy", "precision", "recall", "f1", "roc_auc", "brier"] {
        let v = m[name].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{name} = {v}");
    }
    assert!(m["log_loss"].as_f64().unwrap() > 0.0);
    let human = server.cli_ok(&[
        "metrics",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
    ]);
    assert!(
        human.contains("roc_auc") && human.contains("actual 1"),
        "{human}"
    );

    // Path-dependent influences equal `sextant explain` on the same rows, and add up.
    let job = run_job(server, "influences", &[]);
    assert_eq!(job["state"], "succeeded", "{job}");
    let page = json_out(&server.cli_ok(&[
        "influences",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--offset",
        "10",
        "--limit",
        "5",
        "--json",
    ]));
    assert_eq!(page["source"]["rows_total"], 1000);
    let columns: Vec<&str> = page["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(columns[..2], ["row", "applicant_id"]);
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let expected = explain_demo(&["--rows", "15"]);
    for (i, row) in rows.iter().enumerate() {
        let row: Vec<f64> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(row[0], (10 + i) as f64);
        assert_eq!(row[1], (11 + i) as f64, "applicant ids run 1, 2, …");
        for (j, name) in expected.columns.iter().enumerate() {
            let got = row[columns.iter().position(|c| c == name).unwrap()];
            assert!(
                (got - expected.rows[10 + i][j]).abs() < 1e-12,
                "{name}: {got}"
            );
        }
        let phi: f64 = row[2..row.len() - 1].iter().sum();
        assert!(
            (phi - row[row.len() - 1]).abs() < 1e-9,
            "influences add up to the margin"
        );
    }
    let importance = json_out(&server.cli_ok(&[
        "importance",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--json",
    ]));
    let features = importance["result"]["features"].as_array().unwrap();
    assert_eq!(features.len(), 7);
    let values: Vec<f64> = features
        .iter()
        .map(|f| f["mean_abs"].as_f64().unwrap())
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {values:?}"
    );
    assert_eq!(importance["source"]["method"], "path-dependent");

    // Interventional against the background dataset.
    let job = run_job(
        server,
        "influences",
        &["--background", "background", "--rows", "200"],
    );
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["spec"]["options"]["method"], "interventional");
    let page = server.get_ok(
        "/api/v1/projects/credit/models/xgb/influences?dataset=applicants&method=interventional&rows=200&limit=3",
    );
    // The query names the result it wants: over the first 200 rows.
    assert_eq!(page["source"]["rows_total"], 200);
    assert_eq!(page["source"]["background"], "background");

    // The same request again is answered from the stored result, without an analyzer.
    let again = json_out(&server.cli_ok(&[
        "job",
        "run",
        "credit",
        "--kind",
        "influences",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--json",
    ]));
    assert_eq!(again["state"], "succeeded");
    assert_eq!(again["cached"], true);
    assert_eq!(again["attempt"], 0);

    // Listings, observability, the API document.
    let list = server.cli_ok(&["job", "list", "credit"]);
    assert_eq!(
        list.lines().filter(|l| l.contains("succeeded")).count(),
        4,
        "{list}"
    );
    // An analyzer's duration is recorded when its process has exited, just after its job succeeded.
    let mut metrics_text = String::new();
    wait_until("analyzer durations in /metrics", MINUTE, || {
        metrics_text = match scheduler.get("/metrics").unwrap() {
            (200, Value::String(text)) => text,
            other => panic!("{other:?}"),
        };
        metrics_text.contains(
            "sextant_analyzer_duration_seconds_count{kind=\"influences\",outcome=\"succeeded\"} 2",
        )
    });
    assert!(
        metrics_text.contains("sextant_jobs{state=\"succeeded\"} 4"),
        "{metrics_text}"
    );
    assert!(metrics_text.contains("route=\"/api/v1/jobs/{id}/events\""));
    let (_, front_metrics) = server.get("/metrics").unwrap();
    assert!(
        front_metrics
            .as_str()
            .unwrap()
            .contains("route=\"/api/v1/projects/{project}/models\""),
        "{front_metrics}"
    );
    let doc = server.get_ok("/api/v1/openapi.json");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/projects/{project}/models",
        "/api/v1/projects/{project}/jobs",
        "/api/v1/jobs/{id}/events",
        "/api/v1/projects/{project}/models/{model}/importance",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert_eq!(server.get_ok("/healthz")["status"], "ok");
    let (status, body) = server.get("/api/v1/nowhere").unwrap();
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));

    // Identical content is stored once, whatever its names.
    let files = artifact_files();
    server.cli_ok(&[
        "data",
        "add",
        "credit",
        repo("demo/applicants.csv").to_str().unwrap(),
        "--name",
        "applicants-again",
    ]);
    assert_eq!(artifact_files(), files);
    server.cli_ok(&["data", "delete", "credit", "applicants-again"]);
    assert_eq!(
        artifact_files(),
        files,
        "content still named elsewhere stays"
    );

    // A model no unfinished job uses can be deleted; its results then are not served.
    server.cli_ok(&["model", "delete", "credit", "xgb"]);
    let (status, body) = server
        .get("/api/v1/projects/credit/models/xgb/importance?dataset=applicants")
        .unwrap();
    assert_eq!(status, 404, "{body}");
}

pub(crate) fn submit(server: &Server, body: Value) -> String {
    let (status, job) = server.post("/api/v1/projects/credit/jobs", &body);
    assert_eq!(status, 201, "{job}");
    job["id"].as_str().unwrap().to_string()
}

pub(crate) fn influences_job(rows: u64) -> Value {
    json!({"kind": "influences", "model": "xgb", "dataset": "applicants", "options": {"rows": rows}})
}

/// `sextant job list | head -3`: a client command whose reader goes away ends quietly (no
/// panic, no message), as Unix tools do.
#[test]
fn a_cli_whose_reader_goes_away_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let server = Server::start_fresh("closed-pipe", &[]);
    demo_project(&server);
    run_job(&server, "predict", &[]);
    let mut child = server
        .cli_command(&["job", "list", "credit"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes before the command has written anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "it said: {stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "it ended by SIGPIPE's default action: {:?}",
        out.status
    );
}
