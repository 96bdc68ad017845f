//! Reading results as a user would: quality metrics with known answers, a sharded job equal to
//! the whole, and the result a query names chosen whatever else ran since.

use serde_json::json;

use crate::platform::{MINUTE, demo_project, explain_demo, json_out, run_job};
use crate::server::{Server, wait_until};
use crate::support::{Table, repo};

/// Writes `features.csv` with a `y` column appended, taken from `label(prediction row)`.
pub(crate) fn labelled_copy(
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
pub(crate) fn labelled_project(
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
        // 1000 rows in three slices: 334, 334, 332. (The last shard to finish may still be
        // writing its last line when another has merged the parts.) A shard that failed under
        // load is run again by a later attempt, which keeps the parts done: its log is that
        // attempt's, `job-ID-ATTEMPT-shard-N.log`.
        let rows = if shard == 2 { 332 } else { 334 };
        let suffix = format!("-shard-{shard}.log");
        wait_until(&format!("shard {shard}'s log"), MINUTE, || {
            std::fs::read_dir(dir.join("logs"))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with(&format!("job-{id}-")) && name.ends_with(&suffix)
                })
                .any(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .contains(&format!("{rows} rows in"))
                })
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
    // The whole table: the parts joined in row order, equal to the reference.
    let file = dir.join("whole.parquet");
    server.cli_ok(&[
        "influences",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--output",
        file.to_str().unwrap(),
    ]);
    let whole = Table::read_parquet(&file);
    assert_eq!(whole.rows.len(), 1000);
    for (r, row) in whole.rows.iter().enumerate() {
        assert_eq!(row[0], r as f64, "rows in order across parts");
        for (j, name) in expected.columns.iter().enumerate() {
            let got = row[whole.columns.iter().position(|c| c == name).unwrap()];
            assert!(
                (got - expected.rows[r][j]).abs() < 1e-12,
                "row {r} {name}: {got}"
            );
        }
    }
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

/// A whole table (`--output FILE.parquet`, `GET …/table`) holds exactly what its pages hold,
/// every row, and names the job it comes from.
#[test]
fn a_whole_table_equals_its_pages() {
    let dir = Server::temp_dir("whole-table");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    let influences = run_job(&server, "influences", &[]);
    run_job(&server, "predict", &[]);
    for what in ["influences", "predictions"] {
        let page = server.get_ok(&format!(
            "/api/v1/projects/credit/models/xgb/{what}?dataset=applicants&limit=10000"
        ));
        let file = dir.join(format!("{what}.parquet"));
        let said = json_out(&server.cli_ok(&[
            what,
            "credit",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
            "--output",
            file.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(said["job"], page["source"]["job"]);
        let whole = Table::read_parquet(&file);
        let columns: Vec<String> = page["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_eq!(whole.columns, columns);
        let rows = page["rows"].as_array().unwrap();
        assert_eq!(whole.rows.len(), rows.len());
        assert_eq!(rows.len(), 1000);
        for (got, want) in whole.rows.iter().zip(rows) {
            for (g, w) in got.iter().zip(want.as_array().unwrap()) {
                // serde_json without `float_roundtrip` may read a shortest-form float one ulp
                // off; the Parquet values are the stored ones.
                match w.as_f64() {
                    Some(w) => assert!((g - w).abs() <= 1e-15 * w.abs().max(1.0), "{g} vs {w}"),
                    None => assert!(g.is_nan()),
                }
            }
        }
    }
    assert_eq!(
        influences["id"],
        json_out(&server.cli_ok(&[
            "influences",
            "credit",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
            "--output",
            dir.join("again.parquet").to_str().unwrap(),
            "--json",
        ]))["job"]
    );
    // What is not a table, or not Parquet, is refused before anything is written.
    let out = server.cli(&[
        "importance",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--output",
        "x.parquet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("importance is a document"));
    let out = server.cli(&[
        "influences",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--output",
        "x.csv",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("name a .parquet file"));
    // No result: the same 404 as a page's, and no file.
    let missing = dir.join("missing.parquet");
    let out = server.cli(&[
        "influences",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--method",
        "interventional",
        "--output",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no influences (interventional)"));
    assert!(!missing.exists());
    let (status, _) = server
        .get("/api/v1/projects/credit/models/xgb/influences/table?dataset=applicants&offset=3")
        .unwrap();
    assert_eq!(status, 400, "a table has no pages");
}
