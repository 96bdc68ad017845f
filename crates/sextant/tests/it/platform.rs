//! The platform in one process: a real `sextant serve`, real analyzer processes, the CLI client
//! and plain HTTP, on 127.0.0.1.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{Server, analyzer_pids, wait_until};
use crate::support::{Table, repo, sextant_ok};

const MINUTE: Duration = Duration::from_secs(60);

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
fn run_job(server: &Server, kind: &str, extra: &[&str]) -> Value {
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
fn explain_demo(extra: &[&str]) -> Table {
    let out = Server::temp_dir("explain-demo").join("influences.csv");
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

fn json_out(text: &str) -> Value {
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
    let common = [
        ("SEXTANT_METASTORE_URI", metastore.as_str()),
        ("SEXTANT_ARTIFACTS_URI", s3.uri.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
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
    // Each process serves only its own routes.
    assert_eq!(ingest.get("/api/v1/jobs").unwrap().0, 404);
    assert_eq!(scheduler.get("/api/v1/projects").unwrap().0, 404);
    whole_flow(&front, &scheduler, &|| s3.keys());
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
        "/api/v1/projects/credit/models/xgb/influences?dataset=applicants&method=interventional&limit=3",
    );
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

/// Runs the CLI expecting failure; returns its standard error.
fn cli_fails(server: &Server, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(!out.status.success(), "sextant {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_uploads_get_a_4xx_and_leave_the_store_unchanged() {
    let dir = Server::temp_dir("bad-uploads");
    let server = Server::start(&dir, &[("SEXTANT_MAX_UPLOAD_BYTES", "30000")]);
    let background = repo("demo/background.csv");
    server.cli_ok(&[
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
        repo("demo/applicants.csv").to_str().unwrap(),
    ]);
    server.cli_ok(&[
        "data",
        "add",
        "credit",
        background.to_str().unwrap(),
        "--name",
        "bg",
    ]);
    let before = server.artifact_files();
    let listing = |what: &str| server.get_ok(&format!("/api/v1/projects/credit/{what}"));
    let (models, datasets) = (listing("models"), listing("datasets"));

    let work = Server::temp_dir("bad-upload-files");
    let write = |name: &str, text: &str| {
        let path = work.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let full = std::fs::read_to_string(&background).unwrap();
    // A dataset without a feature column.
    let no_income: String = full
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            [&cells[..1], &cells[2..]].concat().join(",")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = write("no_income.csv", &no_income);
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            path.to_str().unwrap(),
            "--name",
            "x",
        ],
    );
    assert!(
        err.contains("lacks the project's feature column(s) income") && err.contains("HTTP 422"),
        "{err}"
    );
    // A train dataset without the label column.
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            background.to_str().unwrap(),
            "--name",
            "x",
            "--role",
            "train",
        ],
    );
    assert!(
        err.contains("lacks the label column \"defaulted\""),
        "{err}"
    );
    // Bad label values.
    let mut lines: Vec<String> = full.lines().map(str::to_string).collect();
    lines[0].push_str(",defaulted");
    for (i, line) in lines.iter_mut().enumerate().skip(1) {
        line.push_str(if i == 7 { ",2" } else { ",0" });
    }
    let path = write("bad_label.csv", &lines.join("\n"));
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            path.to_str().unwrap(),
            "--name",
            "x",
        ],
    );
    assert!(
        err.contains("label column \"defaulted\", row 7: 2 is not 0 or 1"),
        "{err}"
    );
    // A value that is not a number.
    let path = write("text.csv", &full.replacen("\n71,", "\nold,", 1));
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            path.to_str().unwrap(),
            "--name",
            "x",
        ],
    );
    assert!(
        err.contains("column \"age\", row 1: cannot read \"old\" as a number"),
        "{err}"
    );
    // A truncated Parquet file.
    let parquet = work.join("bg.parquet");
    sextant_ok(&[
        "predict",
        "--model",
        repo("demo/credit_model.json").to_str().unwrap(),
        "--data",
        background.to_str().unwrap(),
        "--output",
        parquet.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&parquet).unwrap();
    let truncated = work.join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            truncated.to_str().unwrap(),
            "--name",
            "x",
        ],
    );
    assert!(
        err.contains("not a readable Parquet file") && err.contains("HTTP 422"),
        "{err}"
    );
    // A file that is not a model, and a model that does not fit the schema.
    let err = cli_fails(
        &server,
        &[
            "model",
            "add",
            "credit",
            background.to_str().unwrap(),
            "--name",
            "m",
        ],
    );
    assert!(
        err.contains("is not a model Sextant can read") && err.contains("HTTP 422"),
        "{err}"
    );
    let other = crate::support::data("small/xgb_poisson.json");
    let err = cli_fails(
        &server,
        &[
            "model",
            "add",
            "credit",
            other.to_str().unwrap(),
            "--name",
            "m",
        ],
    );
    assert!(
        err.contains("features not in the project schema: "),
        "{err}"
    );
    // Over the size limit.
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            repo("demo/applicants.csv").to_str().unwrap(),
            "--name",
            "x",
        ],
    );
    assert!(
        err.contains("larger than the upload limit of 30000 bytes") && err.contains("HTTP 413"),
        "{err}"
    );
    // A name taken, a bad name, an unknown project.
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            background.to_str().unwrap(),
            "--name",
            "bg",
        ],
    );
    assert!(
        err.contains("already has a dataset named \"bg\"") && err.contains("HTTP 409"),
        "{err}"
    );
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "credit",
            background.to_str().unwrap(),
            "--name",
            "../x",
        ],
    );
    assert!(err.contains("dataset name \"../x\" is not valid"), "{err}");
    let err = cli_fails(
        &server,
        &[
            "data",
            "add",
            "nope",
            background.to_str().unwrap(),
            "--name",
            "x",
        ],
    );
    assert!(
        err.contains("project \"nope\" does not exist") && err.contains("HTTP 404"),
        "{err}"
    );
    // Bad job requests.
    let (status, body) = server.post(
        "/api/v1/projects/credit/jobs",
        &json!({"kind": "influences", "model": "none", "dataset": "bg"}),
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = server.post(
        "/api/v1/projects/credit/jobs",
        &json!({"kind": "explode", "model": "none", "dataset": "bg"}),
    );
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );

    assert_eq!(
        server.artifact_files(),
        before,
        "the artifact store is unchanged"
    );
    assert_eq!(listing("models"), models);
    assert_eq!(listing("datasets"), datasets);
    let scratch: Vec<_> = std::fs::read_dir(dir.join("tmp")).unwrap().collect();
    assert!(
        scratch.is_empty(),
        "no upload is left in the scratch directory"
    );
}

pub(crate) fn submit(server: &Server, body: Value) -> String {
    let (status, job) = server.post("/api/v1/projects/credit/jobs", &body);
    assert_eq!(status, 201, "{job}");
    job["id"].as_str().unwrap().to_string()
}

pub(crate) fn influences_job(rows: u64) -> Value {
    json!({"kind": "influences", "model": "xgb", "dataset": "applicants", "options": {"rows": rows}})
}

#[test]
fn cancel_stops_the_analyzer() {
    let dir = Server::temp_dir("cancel");
    let server = Server::start(&dir, &[("SEXTANT_ANALYZER_FAULT", "slow")]);
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    server.wait_state(&id, "running", MINUTE);
    assert_eq!(analyzer_pids(&id).len(), 1, "one analyzer runs the job");
    let (status, job) = server.delete(&format!("/api/v1/jobs/{id}"));
    assert_eq!((status, &job["state"]), (200, &json!("cancelled")), "{job}");
    wait_until("the analyzer to stop", MINUTE, || {
        analyzer_pids(&id).is_empty()
    });
    let job = server.job(&id);
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["reason"], "cancelled on request");
    let (status, body) = server.delete(&format!("/api/v1/jobs/{id}"));
    assert_eq!(status, 409, "{body}");
    // The model was in use while the job ran; now it can go.
    let (status, _) = server.delete("/api/v1/projects/credit/models/xgb");
    assert_eq!(status, 204);
}

#[test]
fn a_model_in_use_cannot_be_deleted() {
    let dir = Server::temp_dir("in-use");
    let server = Server::start(&dir, &[("SEXTANT_ANALYZER_FAULT", "slow")]);
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    let (status, body) = server.delete("/api/v1/projects/credit/models/xgb");
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&id),
        "{body}"
    );
    server.delete(&format!("/api/v1/jobs/{id}"));
}

#[test]
fn an_analyzer_crash_fails_the_job() {
    let dir = Server::temp_dir("crash");
    let server = Server::start(&dir, &[("SEXTANT_ANALYZER_FAULT", "crash")]);
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    let job = server.wait_state(&id, "failed", MINUTE);
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("analyzer crashed (SIGABRT, signal 6)"),
        "{reason}"
    );
    let out = server.cli(&[
        "job",
        "run",
        "credit",
        "--kind",
        "predict",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--wait",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed job fails `job run --wait`"
    );
}

#[test]
fn a_memory_limit_breach_fails_the_job_while_the_api_answers() {
    let dir = Server::temp_dir("oom");
    let server = Server::start(&dir, &[("SEXTANT_ANALYZER_FAULT", "oom")]);
    let id = breach_memory_limit(&server);
    assert_eq!(
        server.job(&id)["reason"],
        "analyzer exceeded its 256 MiB memory limit"
    );
}

/// On a server whose analyzers allocate until stopped: runs a job with a 256 MiB limit until it
/// fails, checking that the API answers throughout; returns the job's id.
pub(crate) fn breach_memory_limit(server: &Server) -> String {
    demo_project(server);
    let mut body = influences_job(1000);
    body["memory_mib"] = json!(256);
    let id = submit(server, body);
    let mut answered = 0;
    wait_until("the job to fail", MINUTE, || {
        assert_eq!(server.get_ok("/healthz")["status"], "ok");
        answered += 1;
        server.job(&id)["state"] == "failed"
    });
    assert!(answered > 0);
    id
}

#[test]
fn a_silent_analyzer_is_stopped_after_the_heartbeat_timeout() {
    let dir = Server::temp_dir("hang");
    let server = Server::start(
        &dir,
        &[
            ("SEXTANT_ANALYZER_FAULT", "hang"),
            ("SEXTANT_HEARTBEAT_TIMEOUT_SECONDS", "3"),
        ],
    );
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    let job = server.wait_state(&id, "failed", MINUTE);
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("analyzer sent no progress for"),
        "{reason}"
    );
    wait_until("the analyzer to be gone", MINUTE, || {
        analyzer_pids(&id).is_empty()
    });
}

#[test]
fn a_restart_loses_no_job_and_runs_none_twice() {
    let dir = Server::temp_dir("restart");
    let slow = [
        ("SEXTANT_ANALYZER_FAULT", "slow"),
        ("SEXTANT_MAX_CONCURRENT_ANALYZERS", "1"),
    ];
    let mut server = Server::start(&dir, &slow);
    demo_project(&server);
    let ids: Vec<String> = (0..3)
        .map(|i| submit(&server, influences_job(1000 - i)))
        .collect();
    server.wait_state(&ids[0], "running", MINUTE);
    assert_eq!(
        server.job(&ids[1])["state"],
        "queued",
        "one analyzer at a time"
    );
    server.kill();
    // The analyzer does not outlive its server.
    wait_until("the orphaned analyzer to stop", MINUTE, || {
        analyzer_pids(&ids[0]).is_empty()
    });

    let started = Instant::now();
    let server = Server::start(&dir, &[("SEXTANT_MAX_CONCURRENT_ANALYZERS", "1")]);
    wait_until("every job to succeed", 2 * MINUTE, || {
        let states: Vec<Value> = ids.iter().map(|id| server.job(id)).collect();
        let running: Vec<usize> = (0..3)
            .filter(|&i| states[i]["state"] == "running")
            .collect();
        assert!(
            running.len() <= 1,
            "never more analyzers than allowed: {running:?}"
        );
        for &i in &running {
            assert!(
                analyzer_pids(&ids[i]).len() <= 1,
                "never two analyzers for one job"
            );
        }
        states.iter().all(|s| s["state"] == "succeeded")
    });
    assert!(started.elapsed() < 2 * MINUTE);
    let first = server.job(&ids[0]);
    assert_eq!(
        first["attempt"], 2,
        "the interrupted job ran again: {first}"
    );
    for id in &ids[1..] {
        assert_eq!(server.job(id)["attempt"], 1, "queued jobs ran once");
    }
    let rows: Vec<u64> = ids
        .iter()
        .map(|id| server.job(id)["progress"]["rows_done"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [1000, 999, 998]);
}

#[test]
fn a_bad_config_is_refused_at_start() {
    let dir = Server::temp_dir("config");
    let file = dir.join("sextant.toml");
    std::fs::write(&file, "version = 1\n[scheduler]\nmax_analyzers = 2\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args([
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `max_analyzers`"), "{stderr}");
}

/// Writes `features.csv` with a `y` column appended, taken from `label(prediction row)`.
fn labelled_copy(name: &str, label: impl Fn(&[f64]) -> f64) -> std::path::PathBuf {
    let features = crate::support::data(&format!("small/{name}.csv"));
    let predictions = Table::read(&crate::support::data(&format!("small/{name}.pred.csv")));
    let text = std::fs::read_to_string(&features).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{},y\n", lines.next().unwrap());
    for (line, row) in lines.zip(&predictions.rows) {
        out.push_str(&format!("{line},{}\n", label(row)));
    }
    let path = Server::temp_dir(name).join(format!("{name}.csv"));
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn multiclass_and_regression_metrics_have_known_answers() {
    let dir = Server::temp_dir("tasks");
    let server = Server::start(&dir, &[]);
    let small = |f: &str| crate::support::data(&format!("small/{f}"));

    // Labels are the model's own argmax: accuracy 1, a diagonal confusion matrix.
    let mc = labelled_copy("xgb_multiclass", |row| {
        (3..6).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap() as f64 - 3.0
    });
    server.cli_ok(&[
        "project",
        "create",
        "mc",
        "--task",
        "multiclass",
        "--classes",
        "3",
        "--label",
        "y",
        "--from-data",
        mc.to_str().unwrap(),
    ]);
    server.cli_ok(&[
        "model",
        "add",
        "mc",
        small("xgb_multiclass.json").to_str().unwrap(),
        "--name",
        "m",
    ]);
    server.cli_ok(&[
        "data",
        "add",
        "mc",
        mc.to_str().unwrap(),
        "--name",
        "d",
        "--role",
        "test",
    ]);
    for kind in ["predict", "influences"] {
        server.cli_ok(&[
            "job",
            "run",
            "mc",
            "--kind",
            kind,
            "--model",
            "m",
            "--dataset",
            "d",
            "--wait",
        ]);
    }
    let m = &json_out(&server.cli_ok(&[
        "metrics",
        "mc",
        "--model",
        "m",
        "--dataset",
        "d",
        "--json",
    ]))["result"];
    assert_eq!(
        (m["task"].as_str(), m["accuracy"].as_f64()),
        (Some("multiclass"), Some(1.0)),
        "{m}"
    );
    let confusion = m["confusion_matrix"].as_array().unwrap();
    let off_diagonal: u64 = (0..3)
        .flat_map(|a| (0..3).filter(move |&p| p != a).map(move |p| (a, p)))
        .map(|(a, p)| confusion[a][p].as_u64().unwrap())
        .sum();
    assert_eq!(off_diagonal, 0);
    let page = server.get_ok("/api/v1/projects/mc/models/m/predictions?dataset=d&limit=2");
    let columns = page["columns"].as_array().unwrap();
    assert!(
        columns.contains(&json!("prediction__class2")) && columns.contains(&json!("label")),
        "{page}"
    );
    let importance = server.get_ok("/api/v1/projects/mc/models/m/importance?dataset=d");
    assert_eq!(
        importance["result"]["features"][0]["mean_abs_by_class"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Labels are the model's own predictions: RMSE within float32 rounding, R² 1.
    let reg = labelled_copy("xgb_poisson", |row| row[1]);
    server.cli_ok(&[
        "project",
        "create",
        "reg",
        "--task",
        "regression",
        "--label",
        "y",
        "--from-data",
        reg.to_str().unwrap(),
    ]);
    server.cli_ok(&[
        "model",
        "add",
        "reg",
        small("xgb_poisson.json").to_str().unwrap(),
        "--name",
        "m",
    ]);
    server.cli_ok(&[
        "data",
        "add",
        "reg",
        reg.to_str().unwrap(),
        "--name",
        "d",
        "--role",
        "test",
    ]);
    server.cli_ok(&[
        "job",
        "run",
        "reg",
        "--kind",
        "predict",
        "--model",
        "m",
        "--dataset",
        "d",
        "--wait",
    ]);
    let m =
        &json_out(&server.cli_ok(&["metrics", "reg", "--model", "m", "--dataset", "d", "--json"]))
            ["result"];
    assert!(m["rmse"].as_f64().unwrap() < 1e-5, "{m}");
    assert!(m["r2"].as_f64().unwrap() > 0.999_999, "{m}");
    // A binary model does not fit a regression project.
    let err = server.cli(&[
        "model",
        "add",
        "reg",
        repo("demo/credit_model.json").to_str().unwrap(),
        "--name",
        "x",
    ]);
    assert!(!err.status.success());
}

#[test]
fn a_second_scheduler_leaves_live_jobs_alone_and_takes_over_a_dead_ones() {
    let uri = crate::server::fresh_postgres_database();
    let shared = Server::temp_dir("shared-artifacts");
    let artifacts = format!("file://{}", shared.display());
    let common = [
        ("SEXTANT_METASTORE_URI", uri.as_str()),
        ("SEXTANT_ARTIFACTS_URI", artifacts.as_str()),
        ("SEXTANT_HEARTBEAT_TIMEOUT_SECONDS", "3"),
        ("SEXTANT_ANALYZER_FAULT", "slow"),
    ];
    let mut first = Server::start(&Server::temp_dir("scheduler-a"), &common);
    demo_project(&first);
    let id = submit(&first, influences_job(1000));
    first.wait_state(&id, "running", MINUTE);

    let mut env = common.to_vec();
    env.push(("SEXTANT_SERVICES", "scheduler,gateway"));
    let second = Server::start(&Server::temp_dir("scheduler-b"), &env);
    let job = second.job(&id);
    assert_eq!(
        (&job["state"], &job["attempt"]),
        (&json!("running"), &json!(1)),
        "{job}"
    );

    first.kill();
    let job = second.wait_state(&id, "succeeded", 2 * MINUTE);
    assert_eq!(
        job["attempt"], 2,
        "taken over once its first scheduler fell silent: {job}"
    );
    assert_eq!(job["progress"]["rows_done"], 1000);
}

/// A job split across three analyzer processes gives the same influences as `sextant explain`:
/// pages that cross the parts' boundaries, importance merged over the parts, additivity counted
/// over all rows.
#[test]
fn a_sharded_job_equals_the_whole() {
    let dir = Server::temp_dir("shards");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    let job = run_job(&server, "influences", &["--shards", "3"]);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["progress"]["rows_done"], 1000, "{job}");
    let id = job["id"].as_str().unwrap();
    for shard in 0..3 {
        let log = dir.join(format!("logs/job-{id}-1-shard-{shard}.log"));
        // 1000 rows in three slices: 334, 334, 332. (The last shard to finish may still be
        // writing its last line when another has merged the parts.)
        let rows = if shard == 2 { 332 } else { 334 };
        wait_until(&format!("shard {shard}'s log"), MINUTE, || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(&format!("{rows} rows in"))
        });
    }
    let expected = explain_demo(&[]);
    let mut seen = 0;
    // Pages of 150 rows: several straddle a boundary between parts (334, 668).
    for offset in (0..1000).step_by(150) {
        let page = server.get_ok(&format!(
            "/api/v1/projects/credit/models/xgb/influences?dataset=applicants&offset={offset}&limit=150"
        ));
        assert_eq!(page["source"]["rows_total"], 1000);
        let columns: Vec<&str> = page["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for (i, row) in page["rows"].as_array().unwrap().iter().enumerate() {
            let row: Vec<f64> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let r = offset + i;
            assert_eq!(row[0], r as f64, "rows in order across parts");
            for (j, name) in expected.columns.iter().enumerate() {
                let got = row[columns.iter().position(|c| c == name).unwrap()];
                assert!(
                    (got - expected.rows[r][j]).abs() < 1e-12,
                    "row {r} {name}: {got}"
                );
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 1000);
    // Importance over the parts equals mean |φ| over all rows.
    let importance =
        server.get_ok("/api/v1/projects/credit/models/xgb/importance?dataset=applicants");
    let result = &importance["result"];
    assert_eq!(result["rows"], 1000);
    assert_eq!(result["shards"], 3);
    for entry in result["features"].as_array().unwrap() {
        let name = entry["feature"].as_str().unwrap();
        let j = expected.columns.iter().position(|c| c == name).unwrap();
        let mean_abs = expected.rows.iter().map(|r| r[j].abs()).sum::<f64>() / 1000.0;
        let got = entry["mean_abs"].as_f64().unwrap();
        assert!(
            (got - mean_abs).abs() < 1e-12,
            "{name}: {got} vs {mean_abs}"
        );
    }
    // Asking for shards of a predict job is refused, naming why.
    let (status, body) = server.post(
        "/api/v1/projects/credit/jobs",
        &json!({"kind": "predict", "model": "xgb", "dataset": "applicants", "shards": 2}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only influences")
    );
}
