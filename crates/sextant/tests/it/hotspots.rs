//! Hotspots as a user meets them: on the demo applicants with a planted weak segment (the
//! labels flipped in `region == "east" and age < 25`, so the model is wrong there on purpose),
//! `sextant hotspots` finds that segment first; every hotspot's figures are `metrics
//! --segment` of its expression; and mistakes are named.

use std::path::Path;

use serde_json::Value;

use crate::platform::{cli_refuses, demo_project, json_out};
use crate::server::Server;
use crate::support::repo;

/// The demo applicants with ages 15 … 34, fifty rows each (so the deciles fall on 17, 19, …, 25,
/// …),
/// and the label flipped in `region == "east" and age < 25`; the number of rows flipped.
fn planted(to: &Path) -> usize {
    let text = std::fs::read_to_string(repo("demo/applicants.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (age, region, label) = (at("age"), at("region"), at("defaulted"));
    let mut out = vec![header.join(",")];
    let mut flipped = 0;
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        let years = 15 + i % 20;
        cells[age] = years.to_string();
        if years < 25 && cells[region] == "east" {
            cells[label] = if cells[label] == "1" { "0" } else { "1" }.into();
            flipped += 1;
        }
        out.push(cells.join(","));
    }
    std::fs::write(to, out.join("\n") + "\n").unwrap();
    flipped
}

fn hotspots(server: &Server, extra: &[&str]) -> Value {
    let mut args = vec![
        "hotspots",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "planted",
        "--json",
    ];
    args.extend_from_slice(extra);
    json_out(&server.cli_ok(&args))
}

fn metrics_of(server: &Server, segment: &str) -> Value {
    json_out(&server.cli_ok(&[
        "metrics",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "planted",
        "--segment",
        segment,
        "--json",
    ]))
}

#[test]
fn the_planted_weak_segment_is_found_first_and_each_hotspot_is_its_segments_metrics() {
    let dir = Server::temp_dir("hotspots");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    let file = dir.join("planted.csv");
    let flipped = planted(&file);
    assert!(flipped > 30, "{flipped} rows planted");
    let out = server.cli_ok(&[
        "data",
        "add",
        "credit",
        file.to_str().unwrap(),
        "--name",
        "planted",
        "--label",
        "defaulted",
    ]);
    assert!(out.contains("1000 rows"), "{out}");
    server.cli_ok(&[
        "job",
        "run",
        "credit",
        "--kind",
        "predict",
        "--model",
        "xgb",
        "--dataset",
        "planted",
        "--wait",
    ]);

    let report = hotspots(&server, &[]);
    assert_eq!(report["metric"], "error_rate");
    assert_eq!(report["interval"], "clopper_pearson");
    assert_eq!(report["rows"], 1000);
    assert_eq!(report["min_size"], 20);
    let found = report["hotspots"].as_array().unwrap();
    assert!(found.len() > 1, "{report}");
    let first = &found[0];
    let mut conditions: Vec<&str> = first["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    conditions.sort_unstable();
    assert_eq!(conditions, ["age < 25", "region == \"east\""], "{first}");
    assert_eq!(first["rows"], flipped as u64);
    assert!(first["lift"].as_f64().unwrap() > 2.0, "{first}");

    // Each hotspot's rows and error rate are those of its expression, asked as a segment; the
    // exact interval holds the value; excess ranks them.
    let overall = report["overall"].as_f64().unwrap();
    let whole = metrics_of(&server, "age >= 0");
    let accuracy = whole["result"]["accuracy"].as_f64().unwrap();
    assert!((overall - (1.0 - accuracy)).abs() < 1e-12, "{whole}");
    let mut last = f64::INFINITY;
    for h in found {
        let expression = h["expression"].as_str().unwrap();
        let m = metrics_of(&server, expression);
        let value = h["value"].as_f64().unwrap();
        assert_eq!(m["result"]["rows"], h["rows"], "{expression}");
        let error = 1.0 - m["result"]["accuracy"].as_f64().unwrap();
        assert!(
            (value - error).abs() < 1e-12,
            "{expression}: {value} against {error}"
        );
        let rows = h["rows"].as_f64().unwrap();
        let excess = h["excess"].as_f64().unwrap();
        assert!((excess - (value - overall) * rows).abs() < 1e-9, "{h}");
        assert!(excess > 0.0 && excess <= last, "{h}");
        last = excess;
        let (low, high) = (h["low"].as_f64().unwrap(), h["high"].as_f64().unwrap());
        assert!(low < value && value < high, "{h}");
        assert!(rows >= 20.0);
    }

    // A hotspot saves as a segment, and the segment holds its rows.
    let expression = first["expression"].as_str().unwrap();
    server.cli_ok(&["segment", "add", "credit", "weak", expression]);
    assert_eq!(metrics_of(&server, "weak")["result"]["rows"], first["rows"]);

    // Log loss: bootstrap intervals, seeded; values are the segment's log loss.
    let by_log_loss = hotspots(&server, &["--metric", "log_loss", "--limit", "3"]);
    assert_eq!(by_log_loss["interval"], "bootstrap");
    let top = &by_log_loss["hotspots"][0];
    let m = metrics_of(&server, top["expression"].as_str().unwrap());
    let value = top["value"].as_f64().unwrap();
    assert!((value - m["result"]["log_loss"].as_f64().unwrap()).abs() < 1e-9);
    let (low, high) = (top["low"].as_f64().unwrap(), top["high"].as_f64().unwrap());
    assert!(low < value && value < high, "{top}");
    assert_eq!(
        by_log_loss,
        hotspots(&server, &["--metric", "log_loss", "--limit", "3"])
    );
    assert_eq!(by_log_loss["hotspots"].as_array().unwrap().len(), 3);

    // Ranked by lift: the worst mean first.
    let by_lift = hotspots(&server, &["--rank", "lift"]);
    assert_eq!(by_lift["rank"], "lift");
    let lifts: Vec<f64> = by_lift["hotspots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["lift"].as_f64().unwrap())
        .collect();
    assert!(lifts.windows(2).all(|w| w[0] >= w[1]), "{lifts:?}");
    // The densest part of the planted segment: its youngest rows in the east.
    let top = by_lift["hotspots"][0]["expression"].as_str().unwrap();
    assert!(
        top.starts_with("age < ") && top.ends_with(" and region == \"east\""),
        "{top}"
    );
    assert!(lifts[0] >= first["lift"].as_f64().unwrap());
    assert_eq!(report["rank"], "excess");

    // Only the columns asked are searched; a larger minimum size leaves the planted one out.
    let regions = hotspots(&server, &["--columns", "region,income"]);
    let searched: Vec<&str> = regions["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(searched, ["region", "income"]);
    assert_eq!(regions["columns"][0]["kind"], "categorical");
    assert_eq!(regions["columns"][1]["kind"], "numeric");
    for h in regions["hotspots"].as_array().unwrap() {
        let e = h["expression"].as_str().unwrap();
        assert!(!e.contains("age"), "{e}");
    }
    let bigger = hotspots(&server, &["--min-size", "100"]);
    assert!(
        bigger["hotspots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["rows"].as_u64().unwrap() >= 100)
    );

    // The human table names the segment and how to save it.
    let table = server.cli_ok(&[
        "hotspots",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "planted",
    ]);
    assert!(table.contains("age < 25 and region == \"east\""), "{table}");
    assert!(table.contains("sextant segment add credit NAME"), "{table}");

    // Mistakes are named.
    let base = [
        "hotspots",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "planted",
    ];
    let with = |extra: &[&'static str]| [&base[..], extra].concat();
    cli_refuses(
        &server,
        &with(&["--metric", "absolute_error"]),
        "not a loss of a binary model; one of error_rate, log_loss, brier",
    );
    cli_refuses(
        &server,
        &with(&["--metric", "mse"]),
        "\"mse\" is not a loss",
    );
    cli_refuses(
        &server,
        &with(&["--rank", "size"]),
        "\"size\" is not a ranking",
    );
    cli_refuses(
        &server,
        &with(&["--columns", "age,nope"]),
        "dataset \"planted\" has no column \"nope\"",
    );
    cli_refuses(
        &server,
        &with(&["--columns", "defaulted"]),
        "\"defaulted\" is the project's label or id column",
    );
    cli_refuses(
        &server,
        &[
            "hotspots",
            "credit",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
        ],
        "run a predict job first",
    );
}
