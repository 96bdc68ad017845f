//! Uploads through the platform: every bad one gets a 4xx naming the problem and leaves the
//! store as it was; what a job reads cannot be deleted while it runs.

use serde_json::json;

use crate::platform::*;
use crate::server::Server;
use crate::support::{repo, sextant_ok};

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
fn a_model_format_can_be_named_and_is_read_as_named() {
    let server = Server::start_fresh("model-format", &[]);
    demo_project(&server);
    let model = repo("demo/credit_model.json");
    let model = model.to_str().unwrap();
    let add = |name: &str, format: &str| {
        server.cli(&[
            "model", "add", "credit", model, "--name", name, "--format", format,
        ])
    };
    // A name Sextant does not know is a 400 that lists the ones it does.
    let out = add("odd", "pmml");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("unknown model format \"pmml\"")
            && stderr.contains("HTTP 400"),
        "{stderr}"
    );
    // XGBoost JSON read as LightGBM text is not a model: a 422 that says so.
    let out = add("wrong", "lightgbm-text");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("HTTP 422"),
        "{stderr}"
    );
    let names: Vec<String> = server
        .client
        .models("credit")
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["xgb"], "refused uploads leave nothing");

    // Named rightly, it is stored, and jobs read it in that format.
    let out = add("named", "xgboost-json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = json_out(&server.cli_ok(&[
        "job",
        "run",
        "credit",
        "--kind",
        "predict",
        "--model",
        "named",
        "--dataset",
        "applicants",
        "--wait",
        "--json",
    ]));
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["spec"]["inputs"]["models"][0]["format"], "xgboost-json",
        "{job}"
    );
    let shape = &server.client.model("credit", "named").unwrap().summary;
    assert_eq!(shape.trees.map(|t| t.trees), Some(100));
}

#[test]
fn requests_are_checked_as_the_openapi_document_says() {
    let server = Server::start_fresh("request-checks", &[]);
    demo_project(&server);
    let submit = |body: serde_json::Value| server.post("/api/v1/projects/credit/jobs", &body);
    // Well-formed, but the options do not fit the kind: 422, naming the option.
    let (status, body) = submit(json!({"kind": "influences", "model": "xgb",
        "dataset": "applicants", "options": {"threshold": 0.3}}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_input")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("threshold")
    );
    // Out of the documented range: 400.
    let (status, body) = submit(json!({"kind": "influences", "model": "xgb",
        "dataset": "applicants", "shards": 65}));
    assert_eq!(status, 400, "{body}");
    // A whole number written as a float is the integer it is (JSON Schema's reading).
    let (status, body) = submit(json!({"kind": "influences", "model": "xgb",
        "dataset": "applicants", "shards": 2.0, "options": {"rows": 10.0}}));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["spec"]["options"]["rows"], 10, "{body}");
    let (status, body) = submit(json!({"kind": "influences", "model": "xgb",
        "dataset": "applicants", "shards": 1.5}));
    assert_eq!(status, 400, "{body}");
    // A listing larger than the documented maximum is refused, not cut short.
    let (status, body) = server.get("/api/v1/jobs?limit=1001").unwrap();
    assert_eq!(status, 400, "{body}");
    // An upload with a field the form does not have is refused, naming it.
    let answer = server
        .client
        .upload::<serde_json::Value>(
            "/api/v1/projects/credit/datasets",
            &[("name", "extra"), ("colour", "blue")],
            &repo("demo/background.csv"),
        )
        .unwrap_err();
    assert_eq!(answer.status(), Some(400), "{answer}");
    assert!(answer.to_string().contains("\"colour\""), "{answer}");
    // Not multipart at all: the API's error shape, not plain text.
    let (status, body) = server.post("/api/v1/projects/credit/models", &json!({}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
}
