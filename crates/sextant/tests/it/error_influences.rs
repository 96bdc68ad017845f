//! Error influences on the demo project, as a user runs them: `sextant job run --kind
//! error-influences`, its table and importance read back with `--errors`. Every row's values add
//! up to its log loss (from the predict job's probability and the label) minus its base value,
//! the mean log loss of the background's predictions against the row's own label; importance,
//! over every row and over a segment, is the mean of the table's values.

use std::collections::HashMap;

use serde_json::Value;

use crate::platform::{cli_refuses, demo_project, json_out, run_job};
use crate::server::Server;
use crate::support::repo;

/// A page's rows as maps from column name to value.
fn rows(page: &Value) -> Vec<HashMap<String, f64>> {
    let columns: Vec<String> = page["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            columns
                .iter()
                .zip(r.as_array().unwrap())
                .map(|(c, v)| (c.clone(), v.as_f64().unwrap_or(f64::NAN)))
                .collect()
        })
        .collect()
}

fn page(
    server: &Server,
    command: &str,
    dataset: &str,
    extra: &[&str],
) -> Vec<HashMap<String, f64>> {
    let mut args = vec![
        command,
        "credit",
        "--model",
        "xgb",
        "--dataset",
        dataset,
        "--limit",
        "1000",
        "--json",
    ];
    args.extend_from_slice(extra);
    rows(&json_out(&server.cli_ok(&args)))
}

fn log_loss(p: f64, y: f64) -> f64 {
    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
}

const FEATURES: [&str; 7] = [
    "age",
    "income",
    "debt_ratio",
    "credit_lines",
    "late_payments",
    "months_employed",
    "region",
];

#[test]
fn error_influences_add_up_to_each_rows_loss_minus_its_base_value() {
    let server = Server::start_fresh("error-influences", &[]);
    demo_project(&server);
    let job = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "job",
            "run",
            "credit",
            "--kind",
            "error-influences",
            "--model",
            "xgb",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let refused = |extra: &[&str], expected: &str| {
        let args = job(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_refuses(&server, &args, expected);
    };
    refused(&["--dataset", "applicants"], "need a background dataset");
    let with_background = ["--dataset", "applicants", "--background", "background"];
    refused(
        &[&with_background[..], &["--loss", "squared_error"]].concat(),
        "options.loss squared_error does not apply to a binary project: use log_loss or brier",
    );
    refused(
        &[&with_background[..], &["--loss", "error_rate"]].concat(),
        "error_rate is 0 or 1",
    );
    refused(
        &[&with_background[..], &["--method", "interventional"]].concat(),
        "error influences are sampled (method sampled), not interventional",
    );
    refused(
        &["--dataset", "background", "--background", "background"],
        "error influences need the labels, and dataset \"background\" has no label column \"defaulted\"",
    );

    let done = run_job(
        &server,
        "error-influences",
        &["--background", "background", "--rows", "200"],
    );
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["spec"]["options"]["loss"], "log_loss",
        "the binary default"
    );
    run_job(&server, "predict", &[]);
    server.cli_ok(&[
        "job",
        "run",
        "credit",
        "--kind",
        "predict",
        "--model",
        "xgb",
        "--dataset",
        "background",
        "--wait",
    ]);
    let predicted = page(&server, "predictions", "applicants", &[]);
    let background: Vec<f64> = page(&server, "predictions", "background", &[])
        .iter()
        .map(|r| r["prediction"])
        .collect();
    assert_eq!(background.len(), 100);
    let base_of = |y: f64| background.iter().map(|&p| log_loss(p, y)).sum::<f64>() / 100.0;

    let errors = page(
        &server,
        "influences",
        "applicants",
        &["--errors", "--rows", "200"],
    );
    assert_eq!(errors.len(), 200, "the job's 200 rows");
    for (r, row) in errors.iter().enumerate() {
        let p = &predicted[r];
        assert_eq!(row["row"], p["row"]);
        assert_eq!(row["applicant_id"], p["applicant_id"]);
        assert_eq!(row["label"], p["label"]);
        let loss = log_loss(p["prediction"], p["label"]);
        assert!(
            (row["loss"] - loss).abs() < 1e-9,
            "row {r}: loss {} vs {loss}",
            row["loss"]
        );
        let base = base_of(p["label"]);
        assert!(
            (row["base_value"] - base).abs() < 1e-9,
            "row {r}: base {} vs {base}",
            row["base_value"]
        );
        let total: f64 = FEATURES.iter().map(|f| row[*f]).sum();
        assert!(
            (total - (loss - base)).abs() < 1e-9,
            "row {r}: influences sum to {total}, loss − base is {}",
            loss - base
        );
        // Seven features against 100 background rows: every coalition is enumerated (exact).
        for f in FEATURES {
            assert_eq!(row[&format!("{f}__stderr")], 0.0, "{f}");
        }
    }
    assert!(
        (base_of(0.0) - base_of(1.0)).abs() > 0.1,
        "the base value depends on the label"
    );

    // Importance: the mean influence and mean |influence| of the table's values.
    let mean = |rows: &[&HashMap<String, f64>], f: &str, abs: bool| {
        rows.iter()
            .map(|r| if abs { r[f].abs() } else { r[f] })
            .sum::<f64>()
            / rows.len() as f64
    };
    let check = |report: &Value, rows: &[&HashMap<String, f64>]| {
        let result = &report["result"];
        assert_eq!(result["scale"], "loss");
        assert_eq!(result["loss"], "log_loss");
        assert_eq!(result["rows"], rows.len() as u64);
        for entry in result["features"].as_array().unwrap() {
            let f = entry["feature"].as_str().unwrap();
            for (field, abs) in [("mean", false), ("mean_abs", true)] {
                let want = mean(rows, f, abs);
                let got = entry[field].as_f64().unwrap();
                assert!((got - want).abs() < 1e-9, "{f} {field}: {got} vs {want}");
            }
        }
    };
    let importance = |extra: &[&str]| {
        let mut args = vec![
            "importance",
            "credit",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
            "--errors",
            "--rows",
            "200",
            "--json",
        ];
        args.extend_from_slice(extra);
        json_out(&server.cli_ok(&args))
    };
    let all: Vec<&HashMap<String, f64>> = errors.iter().collect();
    check(&importance(&[]), &all);
    let data = std::fs::read_to_string(repo("demo/applicants.csv")).unwrap();
    let east: Vec<bool> = data
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(7) == Some("east"))
        .collect();
    let inside: Vec<&HashMap<String, f64>> =
        errors.iter().filter(|r| east[r["row"] as usize]).collect();
    assert!(inside.len() > 20 && inside.len() < 200);
    let report = importance(&["--segment", "region == \"east\""]);
    check(&report, &inside);
    assert_eq!(report["source"]["segment"]["rows"], inside.len() as u64);

    let text = server.cli_ok(&[
        "importance",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--errors",
        "--rows",
        "200",
    ]);
    assert!(text.contains("error importance: mean |influence| over 200 rows of applicants (sampled, on each row's log_loss)"), "{text}");
    cli_refuses(
        &server,
        &[
            "metrics",
            "credit",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
            "--errors",
        ],
        "--errors applies to influences and importance only",
    );

    // A second loss over the same rows: `--loss` picks either result, the newest by default.
    let brier = run_job(
        &server,
        "error-influences",
        &[
            "--background",
            "background",
            "--rows",
            "200",
            "--loss",
            "brier",
        ],
    );
    assert_eq!(brier["state"], "succeeded", "{brier}");
    assert_eq!(importance(&[])["result"]["loss"], "brier");
    assert_eq!(
        importance(&["--loss", "log_loss"])["result"]["loss"],
        "log_loss"
    );
    assert_eq!(
        importance(&["--loss", "brier"])["source"]["job"],
        brier["id"]
    );
    let squares = page(
        &server,
        "influences",
        "applicants",
        &["--errors", "--rows", "200", "--loss", "brier"],
    );
    for (row, p) in squares.iter().zip(&predicted) {
        let want = (p["prediction"] - p["label"]).powi(2);
        assert!(
            (row["loss"] - want).abs() < 1e-12,
            "{} vs {want}",
            row["loss"]
        );
    }

    // Sampled (a budget under the 2^7 × 100 of enumeration), the values depend on the seed and
    // the row's position only: two analyzers sharing 61 rows give the first 60 rows' values of
    // one analyzer over 60, each with its error bar, and each row still adds up.
    let sampled = |rows: &str, shards: &str| {
        let extra = [
            "--background",
            "background",
            "--rows",
            rows,
            "--max-evals",
            "2000",
            "--seed",
            "3",
            "--shards",
            shards,
        ];
        let done = run_job(&server, "error-influences", &extra);
        assert_eq!(done["state"], "succeeded", "{done}");
        let id = done["id"].as_str().unwrap().to_string();
        page(
            &server,
            "influences",
            "applicants",
            &["--errors", "--job", &id],
        )
    };
    let (one, two) = (sampled("60", "1"), sampled("61", "2"));
    assert_eq!((one.len(), two.len()), (60, 61));
    for (a, b) in one.iter().zip(&two) {
        for f in FEATURES {
            assert_eq!(a[f], b[f], "row {}: {f}", a["row"]);
            assert!(
                a[&format!("{f}__stderr")] > 0.0,
                "sampled values have errors"
            );
        }
        let total: f64 = FEATURES.iter().map(|f| a[*f]).sum();
        assert!((total + a["base_value"] - a["loss"]).abs() < 1e-9);
    }
}
