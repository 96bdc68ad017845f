//! Fairness as a user meets it: `sextant fairness` on the demo project equals fairlearn on the
//! same decisions (the values in `tests/data/fairness/demo.json`, made by
//! `tools/fairness_fixtures.py`), every interval holds its value, and mistakes are named.

use serde_json::Value;

use crate::platform::{cli_refuses, demo_project, json_out, run_job};
use crate::server::Server;
use crate::support::repo;

/// The rates of a group as fairlearn's `MetricFrame` names them, and ours.
const RATES: [(&str, &str); 6] = [
    ("selection_rate", "selection_rate"),
    ("true_positive_rate", "true_positive_rate"),
    ("false_positive_rate", "false_positive_rate"),
    ("false_negative_rate", "false_negative_rate"),
    ("precision", "precision"),
    ("accuracy", "accuracy"),
];

fn fairness(server: &Server, extra: &[&str]) -> Value {
    let mut args = vec![
        "fairness",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--json",
    ];
    args.extend_from_slice(extra);
    json_out(&server.cli_ok(&args))
}

#[test]
fn fairness_equals_fairlearn_on_the_demo_and_every_interval_holds_its_value() {
    let dir = Server::temp_dir("fairness");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    run_job(&server, "predict", &[]);
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("tests/data/fairness/demo.json")).unwrap(),
    )
    .unwrap();
    // The first case's protected group is a stored, protected segment; the others inline.
    server.cli_ok(&[
        "segment",
        "add",
        "credit",
        "south",
        "region == \"south\"",
        "--protected",
    ]);
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let threshold = case["threshold"].as_f64().unwrap().to_string();
        let protected = match case["protected"].as_str().unwrap() {
            "region == \"south\"" => "south",
            other => other,
        };
        let mut args = vec!["--protected", protected, "--threshold", &threshold];
        if let Some(reference) = case["reference"].as_str() {
            args.extend(["--reference", reference]);
        }
        let report = fairness(&server, &args);
        for (measure, expected) in case["fairlearn"].as_object().unwrap() {
            let got = &report[measure];
            let value = got["value"]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} {measure}: {got}"));
            let expected = expected.as_f64().unwrap();
            assert!(
                (value - expected).abs() < 1e-9,
                "{name} {measure}: {value} against fairlearn's {expected}"
            );
            let (low, high) = (got["low"].as_f64().unwrap(), got["high"].as_f64().unwrap());
            assert!(
                low <= value && value <= high && low < high,
                "{name} {measure}: {value} outside [{low}, {high}]"
            );
        }
        for side in ["protected", "reference"] {
            let theirs = &case["by_group"][side];
            let ours = &report["groups"][side];
            assert_eq!(ours["rows"], theirs["rows"], "{name} {side}");
            assert_eq!(report[side]["rows"], theirs["rows"], "{name} {side}");
            for (fairlearn_name, our_name) in RATES {
                let (a, b) = (
                    ours[our_name].as_f64().unwrap(),
                    theirs[fairlearn_name].as_f64().unwrap(),
                );
                assert!(
                    (a - b).abs() < 1e-12,
                    "{name} {side} {our_name}: {a} against {b}"
                );
            }
        }
        assert_eq!(report["threshold"].as_f64().unwrap().to_string(), threshold);
        let ratio = report["demographic_parity_ratio"]["value"]
            .as_f64()
            .unwrap();
        assert_eq!(report["four_fifths_rule_violated"], ratio < 0.8, "{name}");
    }

    // The stored segment is named; the complement is written out.
    let south = fairness(&server, &["--protected", "south"]);
    assert_eq!(south["protected"]["name"], "south");
    assert_eq!(
        south["reference"]["expression"],
        "not (region == \"south\")"
    );
    assert_eq!(south["reference"]["name"], Value::Null);
    assert_eq!(south["resamples"], 1000);
    assert_eq!(south["confidence"], 0.95);
    // The same seed gives the same intervals; another seed other ones, and more resamples
    // narrow none by much.
    assert_eq!(south, fairness(&server, &["--protected", "south"]));
    let other = fairness(&server, &["--protected", "south", "--seed", "9"]);
    assert_ne!(
        south["demographic_parity_difference"],
        other["demographic_parity_difference"]
    );
    assert_eq!(
        south["demographic_parity_difference"]["value"],
        other["demographic_parity_difference"]["value"]
    );
    let wider = fairness(
        &server,
        &[
            "--protected",
            "south",
            "--confidence",
            "0.99",
            "--resamples",
            "2000",
        ],
    );
    let width = |r: &Value| {
        let m = &r["demographic_parity_difference"];
        m["high"].as_f64().unwrap() - m["low"].as_f64().unwrap()
    };
    assert!(width(&wider) > width(&south), "{wider} {south}");

    let human = server.cli_ok(&[
        "fairness",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--protected",
        "south",
    ]);
    for expected in [
        "protected: south: region == \"south\" (261 of 1000 rows)",
        "reference: not (region == \"south\") (739 of 1000 rows)",
        "demographic_parity_ratio",
        "four-fifths rule: violated (selection-rate ratio 0.771027 < 0.8)",
    ] {
        assert!(human.contains(expected), "{expected:?} not in:\n{human}");
    }

    // Mistakes are named, and nothing is computed from them.
    let refused = |args: &[&str], expected: &str| {
        let mut all = vec![
            "fairness",
            "credit",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
        ];
        all.extend_from_slice(args);
        cli_refuses(&server, &all, expected);
    };
    refused(
        &["--protected", "age < 30", "--reference", "age < 40"],
        "a row must be in one group only",
    );
    refused(&["--protected", "age > 200"], "holds no row");
    refused(&["--protected", "soth"], "no segment named \"soth\"");
    refused(
        &["--protected", "regoin == 'x'"],
        "unknown column \"regoin\"",
    );
    refused(
        &["--protected", "south", "--confidence", "1.5"],
        "confidence",
    );
    let out = server.cli(&[
        "fairness",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "background",
        "--protected",
        "south",
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("run a predict job first"), "{said}");
}
