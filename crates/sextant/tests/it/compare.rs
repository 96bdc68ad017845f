//! Models compared as a user meets it: `sextant compare` on the demo project with a weaker
//! challenger (`tests/data/compare/credit_shallow.json`), every figure equal to what the same
//! CLI gives model by model, or to what the test computes from the prediction tables.

use serde_json::Value;

use crate::platform::{cli_refuses, demo_project, json_out, run_job};
use crate::server::Server;
use crate::support::repo;

fn compare(server: &Server, extra: &[&str]) -> Value {
    let mut args = vec![
        "compare",
        "credit",
        "--models",
        "xgb,shallow",
        "--dataset",
        "applicants",
        "--json",
    ];
    args.extend_from_slice(extra);
    json_out(&server.cli_ok(&args))
}

fn report(server: &Server, command: &str, model: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        command,
        "credit",
        "--model",
        model,
        "--dataset",
        "applicants",
        "--json",
    ];
    args.extend_from_slice(extra);
    json_out(&server.cli_ok(&args))
}

/// Every row's (row, id, probability, label) of a model's predictions.
fn scores(server: &Server, model: &str) -> Vec<(u64, f64, f64, f64)> {
    let page = report(server, "predictions", model, &["--limit", "1000"]);
    let columns: Vec<&str> = page["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let at = |name: &str| columns.iter().position(|c| *c == name).unwrap();
    let (row, id, p, y) = (at("row"), at("applicant_id"), at("prediction"), at("label"));
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let f = |i: usize| r[i].as_f64().unwrap();
            (f(row) as u64, f(id), f(p), f(y))
        })
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-9, "{what}: {a} != {b}");
}

#[test]
fn models_compared_on_the_demo_agree_with_their_own_reports() {
    let dir = Server::temp_dir("compare");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    let shallow = repo("tests/data/compare/credit_shallow.json");
    server.cli_ok(&[
        "model",
        "add",
        "credit",
        shallow.to_str().unwrap(),
        "--name",
        "shallow",
    ]);
    // A model without predictions cannot be compared.
    let out = server.cli(&[
        "compare",
        "credit",
        "--models",
        "xgb,shallow",
        "--dataset",
        "applicants",
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("run a predict job first"),
        "{said}"
    );
    run_job(&server, "predict", &[]);
    run_job(&server, "influences", &[]);
    server.cli_ok(&[
        "job",
        "run",
        "credit",
        "--kind",
        "predict",
        "--model",
        "shallow",
        "--dataset",
        "applicants",
        "--wait",
    ]);

    let both = compare(&server, &["--disagreements", "10"]);
    assert_eq!(both["metric"], "roc_auc");
    assert_eq!(both["higher_is_better"], true);
    assert_eq!(both["rows"], 1000);
    // The leaderboard: each model's own metrics, the better first.
    let board = both["leaderboard"].as_array().unwrap();
    let auc = |m: &str| {
        report(&server, "metrics", m, &[])["result"]["roc_auc"]
            .as_f64()
            .unwrap()
    };
    let (strong, weak) = (auc("xgb"), auc("shallow"));
    assert!(strong > weak, "{strong} {weak}");
    assert_eq!(board[0]["model"], "xgb");
    assert_eq!(board[0]["rank"], 1);
    assert_eq!(board[1]["rank"], 2);
    close(board[0]["value"].as_f64().unwrap(), strong, "xgb roc_auc");
    close(board[1]["value"].as_f64().unwrap(), weak, "shallow roc_auc");
    assert_eq!(
        board[1]["metrics"],
        report(&server, "metrics", "shallow", &[])["result"]
    );
    // A metric where lower is better ranks the other way round.
    let by_loss = compare(&server, &["--metric", "log_loss"]);
    assert_eq!(by_loss["higher_is_better"], false);
    let losses: Vec<f64> = by_loss["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_f64().unwrap())
        .collect();
    assert!(losses[0] < losses[1], "{losses:?}");

    // Importance: the xgb column is its own importance; the challenger has no influences yet.
    let own = report(&server, "importance", "xgb", &[]);
    for side in both["importance"].as_array().unwrap() {
        let feature = side["feature"].as_str().unwrap();
        let expected = own["result"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["feature"] == feature)
            .unwrap()["mean_abs"]
            .as_f64()
            .unwrap();
        close(side["mean_abs"][0].as_f64().unwrap(), expected, feature);
        assert_eq!(side["mean_abs"][1], Value::Null);
    }
    assert!(
        both["notes"][0]
            .as_str()
            .unwrap()
            .contains("no influences (path-dependent) of model \"shallow\""),
        "{}",
        both["notes"]
    );
    server.cli_ok(&[
        "job",
        "run",
        "credit",
        "--kind",
        "influences",
        "--model",
        "shallow",
        "--dataset",
        "applicants",
        "--wait",
    ]);
    let with_both = compare(&server, &[]);
    assert_eq!(with_both["notes"], serde_json::json!([]));
    let employed = with_both["importance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["feature"] == "months_employed")
        .unwrap();
    // The challenger never saw the feature: it has no importance for it.
    assert!(employed["mean_abs"][0].as_f64().unwrap() > 0.0);
    assert_eq!(employed["mean_abs"][1], Value::Null);
    assert!(with_both["importance"][0]["mean_abs"][1].as_f64().unwrap() > 0.0);

    // Agreement and disagreements, from the two prediction tables.
    let (a, b) = (scores(&server, "xgb"), scores(&server, "shallow"));
    let n = a.len() as f64;
    let same = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| (x.2 >= 0.5) == (y.2 >= 0.5))
        .count() as f64
        / n;
    let mean_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x.2 - y.2).abs())
        .sum::<f64>()
        / n;
    let (ma, mb) = (
        a.iter().map(|x| x.2).sum::<f64>() / n,
        b.iter().map(|x| x.2).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        sab += (x.2 - ma) * (y.2 - mb);
        saa += (x.2 - ma).powi(2);
        sbb += (y.2 - mb).powi(2);
    }
    let pair = &both["agreement"][0];
    assert_eq!(
        (&pair["a"], &pair["b"]),
        (&Value::from("xgb"), &Value::from("shallow"))
    );
    close(
        pair["decision_agreement"].as_f64().unwrap(),
        same,
        "agreement",
    );
    close(
        pair["mean_abs_difference"].as_f64().unwrap(),
        mean_diff,
        "mean |Δ|",
    );
    close(
        pair["score_correlation"].as_f64().unwrap(),
        sab / (saa * sbb).sqrt(),
        "correlation",
    );
    let mut spread: Vec<(u64, f64, f64, f64)> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x.0, x.1, x.3, (x.2 - y.2).abs()))
        .collect();
    spread.sort_by(|x, y| y.3.total_cmp(&x.3).then(x.0.cmp(&y.0)));
    let listed = both["disagreements"].as_array().unwrap();
    assert_eq!(listed.len(), 10);
    for (d, expected) in listed.iter().zip(&spread) {
        assert_eq!(d["row"], expected.0);
        close(d["id"].as_f64().unwrap(), expected.1, "id");
        close(d["label"].as_f64().unwrap(), expected.2, "label");
        close(d["spread"].as_f64().unwrap(), expected.3, "spread");
        assert_eq!(d["scores"].as_array().unwrap().len(), 2);
    }

    // Over a segment: the segment's metrics, model by model.
    let young = compare(&server, &["--segment", "age < 30"]);
    let rows = young["segment"]["rows"].as_u64().unwrap();
    assert_eq!(young["rows"], rows);
    assert!(rows > 50 && rows < 400, "{rows}");
    for entry in young["leaderboard"].as_array().unwrap() {
        let model = entry["model"].as_str().unwrap();
        let own = report(&server, "metrics", model, &["--segment", "age < 30"]);
        close(
            entry["value"].as_f64().unwrap(),
            own["result"]["roc_auc"].as_f64().unwrap(),
            model,
        );
    }

    let human = server.cli_ok(&[
        "compare",
        "credit",
        "--models",
        "xgb,shallow",
        "--dataset",
        "applicants",
    ]);
    for expected in [
        "2 models on applicants (1000 rows), ranked by roc_auc (higher is better)",
        "mean |influence| side by side",
        "xgb · shallow",
        "rows where they disagree most",
    ] {
        assert!(human.contains(expected), "{expected:?} not in:\n{human}");
    }

    let refused = |args: &[&str], expected: &str| {
        let mut all = vec!["compare", "credit", "--dataset", "applicants"];
        all.extend_from_slice(args);
        cli_refuses(&server, &all, expected);
    };
    refused(&["--models", "xgb"], "name 2 to 10 models");
    refused(&["--models", "xgb,nosuch"], "nosuch");
    refused(
        &["--models", "xgb,shallow", "--metric", "rmse"],
        "not a metric of a binary model; one of accuracy",
    );
    refused(
        &["--models", "xgb,shallow", "--segment", "age > 200"],
        "holds no row",
    );
}
