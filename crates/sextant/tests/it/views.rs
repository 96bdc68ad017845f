//! The views reduced for plotting (quality curves, influence points, one row's explanation)
//! against the tables and documents they reduce, and their errors.

use serde_json::Value;

use crate::platform::{demo_project, json_out, run_job};
use crate::results::{labelled_copy, labelled_project};
use crate::server::Server;
use crate::support::repo;

const AT: &str = "/api/v1/projects/credit/models/xgb";

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_demo_views_agree_with_its_tables() {
    let server = Server::start_fresh("views", &[]);
    demo_project(&server);
    run_job(&server, "predict", &[]);
    run_job(&server, "influences", &[]);

    // Curves: the counts at 0.5 are the metrics' confusion matrix; the ROC runs from (0, 0) to
    // (1, 1) without turning back, and its area is the metrics' AUC.
    let metrics = &server.get_ok(&format!("{AT}/metrics?dataset=applicants"))["result"];
    let curves = server.get_ok(&format!("{AT}/curves?dataset=applicants"));
    assert_eq!(curves["labelled"], 1000);
    let binary = &curves["binary"];
    let half = &binary["thresholds"][50];
    assert_eq!(f(&half["threshold"]), 0.5);
    let confusion = &metrics["confusion_matrix"];
    assert_eq!(
        [&half["tn"], &half["fp"], &half["fn"], &half["tp"]],
        [
            &confusion[0][0],
            &confusion[0][1],
            &confusion[1][0],
            &confusion[1][1]
        ]
    );
    let roc = binary["roc"].as_array().unwrap();
    assert!(roc.len() <= 500 && roc.len() > 100, "{}", roc.len());
    assert_eq!((f(&roc[0]["x"]), f(&roc[0]["y"])), (0.0, 0.0));
    let last = &roc[roc.len() - 1];
    assert_eq!((f(&last["x"]), f(&last["y"])), (1.0, 1.0));
    let mut area = 0.0;
    for pair in roc.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(f(&b["x"]) >= f(&a["x"]) && f(&b["y"]) >= f(&a["y"]));
        area += (f(&b["x"]) - f(&a["x"])) * (f(&a["y"]) + f(&b["y"])) / 2.0;
    }
    let auc = f(&metrics["roc_auc"]);
    assert!((area - auc).abs() < 2e-3, "area {area} against AUC {auc}");
    let calibrated: u64 = binary["calibration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(calibrated, 1000);
    assert!(curves["regression"].is_null());

    // Points: every tenth row, the influences as the table has them, the values as the data.
    let points = server.get_ok(&format!(
        "{AT}/influences/points?dataset=applicants&points=100"
    ));
    let rows: Vec<u64> = points["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap())
        .collect();
    assert_eq!(rows, (0..100).map(|i| i * 10).collect::<Vec<u64>>());
    let features = points["features"].as_array().unwrap();
    let importance = server.get_ok(&format!("{AT}/importance?dataset=applicants"));
    let ranked: Vec<&Value> = importance["result"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["feature"])
        .collect();
    let named: Vec<&Value> = features.iter().map(|f| &f["feature"]).collect();
    assert_eq!(named, ranked, "the most important first");
    let page = server.get_ok(&format!(
        "{AT}/influences?dataset=applicants&offset=990&limit=1"
    ));
    let columns = page["columns"].as_array().unwrap();
    let text = std::fs::read_to_string(repo("demo/applicants.csv")).unwrap();
    let cells: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    let data_column = |name: &str| cells[0].iter().position(|c| *c == name).unwrap();
    for feature in features {
        let name = feature["feature"].as_str().unwrap();
        let at = columns.iter().position(|c| c == name).unwrap();
        assert_eq!(feature["influences"][99], page["rows"][0][at], "{name}");
        if feature["categories"].is_null() {
            assert_eq!(
                f(&feature["values"][99]),
                cells[991][data_column(name)].parse::<f64>().unwrap(),
                "{name}"
            );
        }
    }
    let region = features.iter().find(|f| f["feature"] == "region").unwrap();
    let names = region["categories"].as_array().unwrap();
    let code = f(&region["values"][0]) as usize;
    assert_eq!(names[code], cells[1][data_column("region")]);

    // Two features asked for, in the order asked.
    let two = server.get_ok(&format!(
        "{AT}/influences/points?dataset=applicants&points=5&features=income,age"
    ));
    let asked: Vec<&str> = two["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(asked, ["income", "age"]);

    // One row, by index and by id: the same explanation, adding up to the margin.
    let by_row = server.get_ok(&format!("{AT}/explanation?dataset=applicants&row=41"));
    let by_id = server.get_ok(&format!("{AT}/explanation?dataset=applicants&id=42"));
    assert_eq!(by_row, by_id);
    assert_eq!((by_row["row"].as_u64(), f(&by_row["id"])), (Some(41), 42.0));
    let contributions = by_row["contributions"].as_array().unwrap();
    assert_eq!(contributions.len(), 7);
    let total: f64 = contributions.iter().map(|c| f(&c["influence"])).sum();
    assert!((total + f(&by_row["base_value"]) - f(&by_row["margin"])).abs() < 1e-9);
    let sizes: Vec<f64> = contributions
        .iter()
        .map(|c| f(&c["influence"]).abs())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first");
    let region = contributions
        .iter()
        .find(|c| c["feature"] == "region")
        .unwrap();
    assert_eq!(
        region["value"],
        cells[42][data_column("region")],
        "a category by its name"
    );

    // The CLI shows the same documents, and tables of them.
    let on = ["credit", "--model", "xgb", "--dataset", "applicants"];
    let cli = |command: &str, extra: &[&str]| {
        let mut args = vec![command];
        args.extend_from_slice(&on);
        args.extend_from_slice(extra);
        server.cli_ok(&args)
    };
    assert_eq!(json_out(&cli("curves", &["--json"])), curves);
    assert_eq!(
        json_out(&cli("points", &["--points", "100", "--json"])),
        points
    );
    assert_eq!(
        json_out(&cli("explanation", &["--id", "42", "--json"])),
        by_id
    );
    let text = cli("explanation", &["--row", "41"]);
    assert!(
        text.starts_with("row 41 (id 42) of applicants: base value"),
        "{text}"
    );
    assert!(
        text.contains("FEATURE") && text.contains("RUNNING"),
        "{text}"
    );
    let text = cli("curves", &[]);
    assert!(
        text.contains("ROC: ") && text.contains("0.50       171"),
        "{text}"
    );
    let text = cli("points", &["--points", "3", "--features", "region"]);
    assert!(text.starts_with("FEATURE  ROW  VALUE  INFLUENCE"), "{text}");
    let region_lines = text.lines().filter(|l| l.starts_with("region")).count();
    assert_eq!(region_lines, 3, "{text}");
    assert!(text.contains("3 rows of 1000"), "{text}");
    let refused = server.cli(&[
        "explanation",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
    ]);
    assert!(!refused.status.success());
}

#[test]
fn views_refuse_what_they_cannot_answer() {
    let server = Server::start_fresh("views-errors", &[]);
    demo_project(&server);
    run_job(&server, "influences", &[]);
    let refused = |path: &str, status: u16, says: &str| {
        let (code, body) = server.get(path).unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(code, status, "{path}: {body}");
        assert!(message.contains(says), "{path}: {message}");
    };
    refused(
        &format!("{AT}/influences/points?dataset=applicants&features=age,nope"),
        400,
        "no feature \"nope\"",
    );
    refused(
        &format!("{AT}/influences/points?dataset=applicants&points=0"),
        400,
        "points must be between 1 and 5000",
    );
    refused(
        &format!("{AT}/influences/points?dataset=applicants&class=1"),
        400,
        "class 0",
    );
    refused(
        &format!("{AT}/explanation?dataset=applicants"),
        400,
        "give row or id",
    );
    refused(
        &format!("{AT}/explanation?dataset=applicants&row=1000"),
        404,
        "no row 1000",
    );
    refused(
        &format!("{AT}/explanation?dataset=applicants&id=99999"),
        404,
        "no id 99999",
    );
    refused(
        &format!("{AT}/curves?dataset=applicants"),
        404,
        "no predictions",
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
    refused(
        &format!("{AT}/curves?dataset=background"),
        404,
        "has no labels",
    );
    refused(
        &format!("{AT}/curves?dataset=applicants&page=2"),
        400,
        "page",
    );
}

#[test]
fn a_regression_has_residuals() {
    let dir = Server::temp_dir("views-regression");
    let server = Server::start(&dir, &[]);
    let reg = labelled_copy(&dir, "xgb_poisson", |row| row[1] + 0.5);
    let model = crate::support::data("small/xgb_poisson.json");
    labelled_project(
        &server,
        "reg",
        &["--task", "regression"],
        &reg,
        &model,
        &["predict"],
    );
    let curves = server.get_ok("/api/v1/projects/reg/models/m/curves?dataset=d");
    let rows = curves["labelled"].as_u64().unwrap();
    assert!(rows > 0 && curves["binary"].is_null());
    let residuals = &curves["regression"];
    let points = residuals["points"].as_array().unwrap();
    assert_eq!(points.len() as u64, rows.min(2000));
    for p in points {
        assert!(
            (f(&p["label"]) - f(&p["prediction"]) - 0.5).abs() < 1e-4,
            "{p}"
        );
    }
    let bins = residuals["residuals"].as_array().unwrap();
    assert_eq!(bins.len(), 40);
    let counted: u64 = bins.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, rows);
}
