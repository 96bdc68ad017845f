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

/// Writes `features.csv` with a `y` column appended, taken from `label(prediction row)`.
fn labelled_copy(
    dir: &std::path::Path,
    name: &str,
    label: impl Fn(&[f64]) -> f64,
) -> std::path::PathBuf {
    let features = crate::support::data(&format!("small/{name}.csv"));
    let predictions = Table::read(&crate::support::data(&format!("small/{name}.pred.csv")));
    let text = std::fs::read_to_string(&features).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{},y\n", lines.next().unwrap());
    for (line, row) in lines.zip(&predictions.rows) {
        out.push_str(&format!("{line},{}\n", label(row)));
    }
    let path = dir.join(format!("{name}.csv"));
    std::fs::write(&path, out).unwrap();
    path
}

/// Project `name` (its label `y`) from `data`, with the model `m` and the test dataset `d`, and
/// the jobs of `kinds` run on them.
fn labelled_project(
    server: &Server,
    name: &str,
    task: &[&str],
    data: &std::path::Path,
    model: &std::path::Path,
    kinds: &[&str],
) {
    let data = data.to_str().unwrap();
    let mut create = vec!["project", "create", name];
    create.extend_from_slice(task);
    create.extend(["--label", "y", "--from-data", data]);
    server.cli_ok(&create);
    let model = model.to_str().unwrap();
    server.cli_ok(&["model", "add", name, model, "--name", "m"]);
    server.cli_ok(&["data", "add", name, data, "--name", "d", "--role", "test"]);
    for kind in kinds {
        server.cli_ok(&[
            "job",
            "run",
            name,
            "--kind",
            kind,
            "--model",
            "m",
            "--dataset",
            "d",
            "--wait",
        ]);
    }
}

#[test]
fn multiclass_and_regression_metrics_have_known_answers() {
    let dir = Server::temp_dir("tasks");
    let server = Server::start(&dir, &[]);
    let small = |f: &str| crate::support::data(&format!("small/{f}"));

    // Labels are the model's own argmax: accuracy 1, a diagonal confusion matrix.
    let mc = labelled_copy(&dir, "xgb_multiclass", |row| {
        (3..6).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap() as f64 - 3.0
    });
    labelled_project(
        &server,
        "mc",
        &["--task", "multiclass", "--classes", "3"],
        &mc,
        &small("xgb_multiclass.json"),
        &["predict", "influences"],
    );
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
    let reg = labelled_copy(&dir, "xgb_poisson", |row| row[1]);
    labelled_project(
        &server,
        "reg",
        &["--task", "regression"],
        &reg,
        &small("xgb_poisson.json"),
        &["predict"],
    );
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
    // Asking for shards of a predict job is refused as a request that does not fit its kind
    // (422), naming why.
    let (status, body) = server.post(
        "/api/v1/projects/credit/jobs",
        &json!({"kind": "predict", "model": "xgb", "dataset": "applicants", "shards": 2}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only influences")
    );
}

/// `sextant job list | head -3`: a client command whose reader goes away ends quietly (no
/// panic, no message), as Unix tools do.
#[test]
fn a_cli_whose_reader_goes_away_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let server = Server::start_fresh("closed-pipe", &[]);
    demo_project(&server);
    run_job(&server, "predict", &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["job", "list", "credit", "--server", &server.url])
        .env_remove("RUST_BACKTRACE")
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

/// A query gets the result it names — by default the whole dataset's, with the default
/// options — whatever smaller or other jobs ran since; a job answered from a stored result
/// reports that result's rows.
#[test]
fn results_are_chosen_by_what_the_query_names() {
    let server = Server::start_fresh("result-choice", &[]);
    demo_project(&server);
    let base = "/api/v1/projects/credit/models/xgb";
    let whole = run_job(&server, "influences", &[]);
    assert_eq!(whole["state"], "succeeded", "{whole}");
    // A smaller job after it does not hide it.
    let one = run_job(&server, "influences", &["--rows", "1"]);
    assert_eq!(one["state"], "succeeded", "{one}");
    let page = server.get_ok(&format!("{base}/influences?dataset=applicants&limit=2"));
    assert_eq!(
        (&page["source"]["rows_total"], &page["source"]["job"]),
        (&json!(1000), &whole["id"]),
        "{page}"
    );
    // The smaller one is there when asked for, by its rows or by its job.
    let page = server.get_ok(&format!("{base}/influences?dataset=applicants&rows=1"));
    assert_eq!(page["source"]["rows_total"], 1, "{page}");
    let page = server.get_ok(&format!(
        "{base}/influences?dataset=applicants&job={}",
        one["id"].as_str().unwrap()
    ));
    assert_eq!(page["source"]["job"], one["id"], "{page}");
    // Many newer jobs of another method, answered from one stored result, hide nothing either;
    // the default method is path-dependent, as for a job.
    let interventional = ["--background", "background", "--rows", "50"];
    for _ in 0..55 {
        let job = run_job(&server, "influences", &interventional);
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    let cached = run_job(&server, "influences", &interventional);
    assert_eq!(
        (&cached["cached"], &cached["progress"]["rows_done"]),
        (&json!(true), &json!(50)),
        "a job answered from a stored result reports its rows: {cached}"
    );
    let importance = server.get_ok(&format!("{base}/importance?dataset=applicants"));
    assert_eq!(
        (
            &importance["source"]["method"],
            &importance["source"]["job"]
        ),
        (&json!("path-dependent"), &whole["id"]),
        "{importance}"
    );
    let importance = server.get_ok(&format!(
        "{base}/importance?dataset=applicants&background=background&rows=50"
    ));
    assert_eq!(
        importance["source"]["method"], "interventional",
        "{importance}"
    );
    // What is not there is a 404 that names it.
    let (status, body) = server
        .get(&format!(
            "{base}/importance?dataset=applicants&method=interventional"
        ))
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("interventional"),
        "{body}"
    );
}
