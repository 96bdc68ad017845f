//! Drift as a user meets it: `sextant drift` of the demo model from the demo applicants to new
//! applicants with drift planted in two features (`tests/data/drift/production.csv`) flags
//! those two and nothing else, each statistic equals SciPy's (the values in
//! `tests/data/drift/demo.json`, made by `tools/drift_fixtures.py`), the contributors add up
//! to the change of the mean margin, and what cannot be compared is named.

use std::path::Path;

use serde_json::Value;

use crate::platform::{cli_refuses, demo_project, json_out};
use crate::server::Server;
use crate::support::repo;

fn add_data(server: &Server, file: &Path, name: &str) -> String {
    server.cli_ok(&[
        "data",
        "add",
        "credit",
        file.to_str().unwrap(),
        "--name",
        name,
        "--label",
        "defaulted",
    ])
}

fn drift(server: &Server, dataset: &str, extra: &[&str]) -> Value {
    let mut args = args(dataset);
    args.push("--json");
    args.extend_from_slice(extra);
    json_out(&server.cli_ok(&args))
}

fn close(got: &Value, expected: &Value, tolerance: f64, what: &str) {
    let (g, e) = (got.as_f64(), expected.as_f64().unwrap());
    let g = g.unwrap_or_else(|| panic!("{what}: {got} against {e}"));
    assert!(
        (g - e).abs() <= tolerance * e.abs().max(1.0),
        "{what}: {g} against SciPy's {e}"
    );
}

/// A feature's (or the score's) statistics against the fixture's.
fn check_against_scipy(got: &Value, expected: &Value, tolerance: f64) {
    let name = got["feature"].as_str().unwrap();
    for key in ["psi", "jensen_shannon"] {
        close(
            &got[key],
            &expected[key],
            tolerance,
            &format!("{name} {key}"),
        );
    }
    if expected["kind"] == "numeric" {
        for key in ["ks", "ks_pvalue", "wasserstein"] {
            close(
                &got[key],
                &expected[key],
                tolerance,
                &format!("{name} {key}"),
            );
        }
        // The score's range is not the reference's to keep: only features count values outside.
        if name != "score" {
            close(
                &got["out_of_range"],
                &expected["out_of_range"],
                tolerance,
                name,
            );
        }
        // SciPy's own ks_2samp(method="asymp") takes the distribution of a one-sample
        // statistic over round(nm/(n+m)) rows; ours, its limit, is within 0.015 of it here.
        let (ours, scipy) = (
            got["ks_pvalue"].as_f64().unwrap(),
            expected["ks_pvalue_scipy"].as_f64().unwrap(),
        );
        assert!((ours - scipy).abs() <= 0.015, "{name}: {ours} {scipy}");
        assert_eq!(got["exact"], true, "{name}");
        let bins = got["bins"].as_array().unwrap();
        let edges = expected["edges"].as_array().unwrap();
        assert_eq!(bins.len(), edges.len() + 1, "{name} bins");
        for (b, bin) in bins.iter().enumerate() {
            close(
                &bin["reference"],
                &expected["reference_shares"][b],
                tolerance,
                &format!("{name} bin {b}"),
            );
            close(
                &bin["current"],
                &expected["current_shares"][b],
                tolerance,
                &format!("{name} bin {b}"),
            );
            if b < edges.len() {
                close(
                    &bin["upper"],
                    &edges[b],
                    tolerance,
                    &format!("{name} edge {b}"),
                );
            }
        }
    } else {
        for key in ["chi2", "chi2_pvalue"] {
            close(
                &got[key],
                &expected[key],
                tolerance,
                &format!("{name} {key}"),
            );
        }
        let new: Vec<&str> = got["new_categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["category"].as_str().unwrap())
            .collect();
        let expected_new: Vec<&str> = expected["new_categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(new, expected_new, "{name}");
    }
}

#[test]
fn a_planted_drift_is_flagged_alone_and_every_statistic_equals_scipys() {
    let dir = Server::temp_dir("drift");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    let out = add_data(
        &server,
        &repo("tests/data/drift/production.csv"),
        "production",
    );
    assert!(out.contains("1500 rows"), "{out}");
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("tests/data/drift/demo.json")).unwrap())
            .unwrap();
    // Every row of both explained, so that the contributors decompose the change of the whole
    // datasets' mean margin.
    let report = drift(&server, "production", &["--contributor-rows", "1500"]);
    let features = report["features"].as_array().unwrap();
    assert_eq!(features.len(), 7);
    let drifted: Vec<&str> = features
        .iter()
        .filter(|f| f["drifted"] == true)
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["income", "region"], "{report:#}");
    assert_eq!(report["drifted"], 2);
    for f in features {
        let name = f["feature"].as_str().unwrap();
        let expected = &fixture["features"][name];
        check_against_scipy(f, expected, 1e-9);
        for key in ["missing_reference", "missing_current"] {
            close(&f[key], &expected[key], 1e-12, &format!("{name} {key}"));
        }
    }
    let region = features.iter().find(|f| f["feature"] == "region").unwrap();
    assert!(
        region["reasons"].as_array().unwrap().len() >= 2,
        "psi and new categories: {region}"
    );
    // The score: Sextant's probabilities against XGBoost's, so to their precision.
    let score = &report["score"]["outputs"][0];
    check_against_scipy(score, &fixture["score"], 1e-5);
    let changes = report["score"]["metric_changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|m| m["metric"] == "roc_auc" && m["change"].is_f64()),
        "{changes:?}"
    );

    // The contributors add up to the change of the mean margin, which is the score's.
    let attribution = &report["attribution"];
    assert_eq!(attribution["rows_reference"], 1000);
    assert_eq!(attribution["rows_current"], 1500);
    let change = attribution["change"][0].as_f64().unwrap();
    let sum: f64 = report["contributors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contribution"].as_f64().unwrap())
        .sum();
    assert!((sum - change).abs() < 1e-9, "{sum} against {change}");
    assert!(attribution["residual"].as_f64().unwrap() < 1e-9);
    let whole = report["score"]["mean_margin_current"][0].as_f64().unwrap()
        - report["score"]["mean_margin_reference"][0]
            .as_f64()
            .unwrap();
    assert!((whole - change).abs() < 1e-9, "{whole} against {change}");
    let first = report["contributors"][0]["feature"].as_str().unwrap();
    assert!(["income", "region"].contains(&first), "{report:#}");

    // Thresholds apply on reading: a stricter PSI flags more, asking again computes nothing.
    let strict = drift(
        &server,
        "production",
        &["--contributor-rows", "1500", "--psi", "0.0"],
    );
    // A second drift job of the same inputs is answered from the stored result.
    assert_eq!(strict["features"][1]["psi"], report["features"][1]["psi"]);
    assert_eq!(strict["drifted"], 7);
    let mut table_args = args("production");
    table_args.extend(["--contributor-rows", "1500"]);
    let table = server.cli_ok(&table_args);
    assert!(table.contains("2 of 7 features drifted"), "{table}");
    assert!(table.contains("DRIFT"), "{table}");
    assert!(table.contains("mean margin changed by"), "{table}");
}

/// The demo applicants rewritten line by line.
fn rewrite(
    dir: &Path,
    name: &str,
    edit: impl Fn(usize, &str) -> Option<String>,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo("demo/applicants.csv")).unwrap();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| edit(i, l))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn args(dataset: &str) -> Vec<&str> {
    vec![
        "drift",
        "credit",
        "--model",
        "xgb",
        "--reference",
        "applicants",
        "--dataset",
        dataset,
    ]
}

/// A dataset the upload refuses, saying `expected`, or that drift then refuses, saying it.
fn refused_at_upload_or_drift(server: &Server, file: &Path, name: &str, expected: &str) {
    let out = server.cli(&[
        "data",
        "add",
        "credit",
        file.to_str().unwrap(),
        "--name",
        name,
    ]);
    if out.status.success() {
        cli_refuses(server, &args(name), expected);
    } else {
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(expected), "{expected:?} not in {said}");
    }
}

#[test]
fn what_cannot_be_compared_is_named() {
    let dir = Server::temp_dir("drift-refusals");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    // Without the feature debt_ratio (column 3).
    let narrower = rewrite(&dir, "narrower.csv", |_, l| {
        let mut cells: Vec<&str> = l.split(',').collect();
        cells.remove(3);
        Some(cells.join(","))
    });
    refused_at_upload_or_drift(&server, &narrower, "narrower", "debt_ratio");
    let header_only = rewrite(&dir, "empty.csv", |i, l| (i == 0).then(|| l.to_string()));
    refused_at_upload_or_drift(&server, &header_only, "empty", "no rows");
    cli_refuses(&server, &args("nowhere"), "nowhere");
    let mut psi = args("applicants");
    psi.extend(["--missing", "2"]);
    cli_refuses(&server, &psi, "missing must be between 0 and 1");
    cli_refuses(
        &server,
        &[
            "job",
            "run",
            "credit",
            "--kind",
            "predict",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
            "--reference",
            "applicants",
        ],
        "reference",
    );

    // A feature missing in every current row: its statistics cannot be computed, and the
    // report says why; the other features are compared as usual.
    let unemployed = rewrite(&dir, "unemployed.csv", |i, l| {
        let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
        if i > 0 {
            cells[6] = String::new();
        }
        Some(cells.join(","))
    });
    add_data(&server, &unemployed, "unemployed");
    let report = drift(&server, "unemployed", &[]);
    let months = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "months_employed")
        .unwrap();
    assert!(
        months["problem"]
            .as_str()
            .is_some_and(|p| p.contains("every value is missing in the current dataset")),
        "{months}"
    );
    assert_eq!(months["psi"], Value::Null);
    assert_eq!(months["missing_current"], 1.0);
    assert_eq!(
        months["drifted"], true,
        "the missing share crossed its threshold"
    );
    let age = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "age")
        .unwrap();
    assert_eq!(
        (age["psi"].as_f64(), age["drifted"].as_bool()),
        (Some(0.0), Some(false))
    );
}

/// A drift job over three analyzers (one scores both datasets, two sketch a share of the
/// features each) gives one analyzer's report, value for value.
#[test]
fn a_sharded_drift_job_reports_what_one_analyzer_does() {
    let dir = Server::temp_dir("drift-shards");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    add_data(
        &server,
        &repo("tests/data/drift/production.csv"),
        "production",
    );
    // Every row explained either way (so the contributors do not depend on the sample); the
    // two jobs differ in contributor_rows so that the second is not answered from the first's
    // stored result.
    let job = |extra: &[&'static str]| {
        let mut args = vec![
            "job",
            "run",
            "credit",
            "--kind",
            "drift",
            "--model",
            "xgb",
            "--dataset",
            "production",
            "--reference",
            "applicants",
        ];
        args.extend_from_slice(extra);
        args
    };
    let run = |contributor_rows: &'static str, shards: &'static str| {
        let args = job(&[
            "--contributor-rows",
            contributor_rows,
            "--shards",
            shards,
            "--wait",
            "--json",
        ]);
        let done = json_out(&server.cli_ok(&args));
        assert_eq!(done["state"], "succeeded", "{done}");
        let id = done["id"].as_str().unwrap().to_string();
        let mut report = server.get_ok(&format!(
            "/api/v1/projects/credit/models/xgb/drift?reference=applicants&dataset=production&job={id}"
        ));
        report.as_object_mut().unwrap().remove("job");
        report
    };
    let one = run("1500", "1");
    assert_eq!(part_manifests(&dir), 0);
    let three = run("1501", "3");
    assert_eq!(
        part_manifests(&dir),
        3,
        "three analyzers stored a part each"
    );
    assert_eq!(three["features"].as_array().unwrap().len(), 7);
    assert_eq!(three, one);
    assert_eq!(three["drifted"], 2);

    cli_refuses(&server, &job(&["--shards", "9"]), "at most 8 shards");
}

/// The parts' manifests stored under a data directory (`…/parts/<index>/manifest.json`).
fn part_manifests(dir: &Path) -> usize {
    let mut count = 0;
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.file_name().is_some_and(|n| n == "manifest.json")
                && path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == "parts")
            {
                count += 1;
            }
        }
    }
    count
}
