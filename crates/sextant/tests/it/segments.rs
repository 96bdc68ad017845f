//! Segments as a user meets them: added and listed from the CLI, checked against the project's
//! columns, and every report over a segment equal to the same report over a dataset that holds
//! only the segment's rows.

use serde_json::Value;

use crate::platform::{demo_project, json_out, run_job};
use crate::server::Server;
use crate::support::repo;

/// The demo applicants whose row passes `keep` (given the header and the row's cells), as a
/// dataset file of their own; answers it and the rows kept (0-based, in the file's order).
fn applicants_where(
    dir: &std::path::Path,
    name: &str,
    keep: impl Fn(&[&str], &[&str]) -> bool,
) -> (std::path::PathBuf, Vec<u64>) {
    let text = std::fs::read_to_string(repo("demo/applicants.csv")).unwrap();
    let mut lines = text.lines();
    let header_line = lines.next().unwrap();
    let header: Vec<&str> = header_line.split(',').collect();
    let mut out = format!("{header_line}\n");
    let mut kept = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        if keep(&header, &cells) {
            out.push_str(line);
            out.push('\n');
            kept.push(i as u64);
        }
    }
    let path = dir.join(format!("{name}.csv"));
    std::fs::write(&path, out).unwrap();
    (path, kept)
}

fn cell<'a>(header: &[&str], cells: &[&'a str], column: &str) -> &'a str {
    cells[header.iter().position(|h| *h == column).unwrap()]
}

fn close(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * (1.0 + x.abs()),
                "{path}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                close(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: Vec<&String> = x.keys().filter(|k| *k != "dataset").collect();
            assert_eq!(
                keys,
                y.keys().filter(|k| *k != "dataset").collect::<Vec<_>>(),
                "{path}"
            );
            for k in keys {
                close(&x[k], &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn reports_over_a_segment_equal_reports_over_its_rows() {
    let dir = Server::temp_dir("segments");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    run_job(&server, "predict", &[]);
    run_job(&server, "influences", &[]);

    let expression = "age < 35 and region in (\"west\", 'south')";
    let out = server.cli_ok(&[
        "segment",
        "add",
        "credit",
        "young-ws",
        expression,
        "--group",
        "age",
        "--protected",
    ]);
    assert!(out.contains("added segment young-ws"), "{out}");
    server.cli_ok(&["segment", "add", "credit", "no-income", "income is missing"]);

    // Mistakes name the column and the position, and store nothing.
    let bad = server.cli(&[
        "segment",
        "add",
        "credit",
        "bad",
        "age < 35 and regoin == 'x'",
    ]);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        said.contains("position 14") && said.contains("unknown column \"regoin\""),
        "{said}"
    );
    let bad = server.cli(&["segment", "add", "credit", "bad", "age == 'old'"]);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("holds numbers"), "{said}");
    let bad = server.cli(&["segment", "add", "credit", "bad", "age >= 30 and"]);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("position 14") && said.contains("expected a column"),
        "{said}"
    );
    let again = server.cli(&["segment", "add", "credit", "young-ws", "age < 20"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has a segment"));
    let listed = json_out(&server.cli_ok(&["segment", "list", "credit", "--json"]));
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["no-income", "young-ws"]);
    assert_eq!(listed[1]["protected"], true);
    assert_eq!(listed[1]["group"], "age");

    // The same rows as a dataset of their own, analysed as the whole was.
    let (only, kept) = applicants_where(&dir, "young-ws", |h, c| {
        cell(h, c, "age").parse::<f64>().unwrap() < 35.0
            && ["west", "south"].contains(&cell(h, c, "region"))
    });
    assert!(kept.len() > 20 && kept.len() < 900, "{} rows", kept.len());
    server.cli_ok(&[
        "data",
        "add",
        "credit",
        only.to_str().unwrap(),
        "--name",
        "only",
        "--role",
        "test",
    ]);
    for kind in ["predict", "influences"] {
        server.cli_ok(&[
            "job",
            "run",
            "credit",
            "--kind",
            kind,
            "--model",
            "xgb",
            "--dataset",
            "only",
            "--wait",
        ]);
    }
    let report = |command: &str, dataset: &str, segment: Option<&str>| {
        let mut args = vec![
            command,
            "credit",
            "--model",
            "xgb",
            "--dataset",
            dataset,
            "--json",
        ];
        if let Some(s) = segment {
            args.extend(["--segment", s]);
        }
        json_out(&server.cli_ok(&args))
    };
    for command in ["metrics", "importance"] {
        let over_segment = report(command, "applicants", Some("young-ws"));
        let over_rows = report(command, "only", None);
        close(&over_segment["result"], &over_rows["result"], command);
        let scope = &over_segment["source"]["segment"];
        assert_eq!(scope["name"], "young-ws", "{over_segment}");
        assert_eq!(scope["rows"], kept.len() as u64);
        assert_eq!(scope["of_rows"], 1000);
        assert!(over_rows["source"].get("segment").is_none());
        // An expression given inline is the same segment.
        let inline = report(command, "applicants", Some(expression));
        close(&inline["result"], &over_rows["result"], command);
        assert_eq!(inline["source"]["segment"]["name"], Value::Null);
    }
    let human = server.cli_ok(&[
        "metrics",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--segment",
        "young-ws",
    ]);
    assert!(
        human.contains(&format!(
            "segment young-ws: {expression} ({} of 1000 rows)",
            kept.len()
        )),
        "{human}"
    );

    // Pages hold the segment's rows, in order, keyed by their row in the dataset.
    let page = report("predictions", "applicants", Some("young-ws"));
    let rows: Vec<u64> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_f64().unwrap() as u64)
        .collect();
    assert_eq!(rows, kept[..20]);
    let encoded = sextant_api::url_component(expression);
    let page = server.get_ok(&format!(
        "/api/v1/projects/credit/models/xgb/influences?dataset=applicants&segment={encoded}&offset=10&limit=5"
    ));
    let rows: Vec<u64> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_f64().unwrap() as u64)
        .collect();
    assert_eq!(rows, kept[10..15]);
    let whole = server
        .get_ok("/api/v1/projects/credit/models/xgb/influences?dataset=only&offset=10&limit=5");
    let columns = whole["columns"].as_array().unwrap().len();
    for (segment_row, own_row) in page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(whole["rows"].as_array().unwrap())
    {
        // Past `row` and the id, the influences are the same numbers.
        close(
            &Value::Array(segment_row.as_array().unwrap()[2..columns].to_vec()),
            &Value::Array(own_row.as_array().unwrap()[2..columns].to_vec()),
            "page",
        );
    }
    let curves = server.get_ok(&format!(
        "/api/v1/projects/credit/models/xgb/curves?dataset=applicants&segment={encoded}"
    ));
    assert_eq!(curves["labelled"], kept.len() as u64);
    let own = server.get_ok("/api/v1/projects/credit/models/xgb/curves?dataset=only");
    close(&curves["binary"], &own["binary"], "curves");
    let points = server.get_ok(
        "/api/v1/projects/credit/models/xgb/influences/points?dataset=applicants&segment=young-ws&points=5000",
    );
    let sampled: Vec<u64> = points["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap())
        .collect();
    assert_eq!(sampled, kept);

    // A segment with no rows, a name that is not one, a column the data lacks.
    let (status, body) = server
        .get("/api/v1/projects/credit/models/xgb/metrics?dataset=applicants&segment=no-income")
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no labelled row"),
        "{body}"
    );
    let (status, body) = server
        .get("/api/v1/projects/credit/models/xgb/metrics?dataset=applicants&segment=nosuch")
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no segment named \"nosuch\"")
    );
    let bad = server.cli(&[
        "importance",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--segment",
        "age >> 3",
    ]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("position 6"),
        "{bad:?}"
    );

    let out = server.cli_ok(&["segment", "remove", "credit", "no-income"]);
    assert!(out.contains("removed segment no-income"), "{out}");
    let listed = json_out(&server.cli_ok(&["segment", "list", "credit", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
