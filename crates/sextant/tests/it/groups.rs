//! Feature groups as a user meets them: added from the CLI, checked against the project's
//! features, and their importance the mean |Σ φ| of their members computed from the stored
//! influences, over every row or a segment's.

use crate::platform::{demo_project, json_out, run_job};
use crate::server::Server;
use crate::support::Table;

#[test]
fn a_groups_importance_is_its_members_influences_summed_on_each_row() {
    let dir = Server::temp_dir("groups");
    let server = Server::start(&dir, &[]);
    demo_project(&server);
    run_job(&server, "influences", &[]);

    let out = server.cli_ok(&[
        "group",
        "add",
        "credit",
        "money",
        "--features",
        "income,debt_ratio",
    ]);
    assert!(
        out.contains("added feature group money to credit: income, debt_ratio"),
        "{out}"
    );
    server.cli_ok(&[
        "group",
        "add",
        "credit",
        "history",
        "--features",
        "late_payments,credit_lines,months_employed",
    ]);
    for (features, said) in [
        ("income,salary", "\"salary\" is not a feature"),
        ("income,income", "named twice"),
    ] {
        let bad = server.cli(&["group", "add", "credit", "bad", "--features", features]);
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(!bad.status.success() && stderr.contains(said), "{stderr}");
    }
    let again = server.cli(&["group", "add", "credit", "money", "--features", "age"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has a feature group"));
    let listed = json_out(&server.cli_ok(&["group", "list", "credit", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let whole = dir.join("influences.parquet");
    server.cli_ok(&[
        "influences",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--output",
        whole.to_str().unwrap(),
    ]);
    let table = Table::read_parquet(&whole);
    let id = table.column("applicant_id");
    let members = [table.column("income"), table.column("debt_ratio")];
    let expected = |keep: &dyn Fn(&[f64]) -> bool| {
        let sums: Vec<f64> = table
            .rows
            .iter()
            .filter(|r| keep(r))
            .map(|r| members.iter().map(|&j| r[j]).sum::<f64>())
            .collect();
        let n = sums.len() as f64;
        (
            sums.iter().map(|s| s.abs()).sum::<f64>() / n,
            sums.iter().sum::<f64>() / n,
        )
    };
    let report = |extra: &[&str]| {
        let mut args = vec![
            "importance",
            "credit",
            "--model",
            "xgb",
            "--dataset",
            "applicants",
            "--groups",
            "--json",
        ];
        args.extend_from_slice(extra);
        json_out(&server.cli_ok(&args))
    };
    for (extra, keep) in [
        (
            vec![],
            Box::new(|_: &[f64]| true) as Box<dyn Fn(&[f64]) -> bool>,
        ),
        (
            vec!["--segment", "applicant_id <= 400"],
            Box::new(move |r: &[f64]| r[id] <= 400.0),
        ),
    ] {
        let doc = report(&extra);
        let groups = doc["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "{doc}");
        let money = groups.iter().find(|g| g["group"] == "money").unwrap();
        let (mean_abs, mean) = expected(&*keep);
        assert!(
            (money["mean_abs"].as_f64().unwrap() - mean_abs).abs() < 1e-12,
            "{money} {mean_abs}"
        );
        assert!(
            (money["mean"].as_f64().unwrap() - mean).abs() < 1e-12,
            "{money} {mean}"
        );
        assert_eq!(
            money["features"],
            serde_json::json!(["income", "debt_ratio"])
        );
        // The signed sum adds up; the absolute one is at most its members'.
        let features = doc["result"]["features"].as_array().unwrap();
        let of = |name: &str| {
            features
                .iter()
                .find(|f| f["feature"] == name)
                .unwrap()
                .clone()
        };
        let (income, debt) = (of("income"), of("debt_ratio"));
        let added = income["mean"].as_f64().unwrap() + debt["mean"].as_f64().unwrap();
        assert!((money["mean"].as_f64().unwrap() - added).abs() < 1e-9);
        assert!(
            mean_abs
                <= income["mean_abs"].as_f64().unwrap()
                    + debt["mean_abs"].as_f64().unwrap()
                    + 1e-12
        );
    }
    let human = server.cli_ok(&[
        "importance",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--groups",
    ]);
    assert!(
        human.contains("feature groups") && human.contains("income, debt_ratio"),
        "{human}"
    );
    // Without --groups the document has none; the other reports refuse the option.
    let plain = json_out(&server.cli_ok(&[
        "importance",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--json",
    ]));
    assert!(plain.get("groups").is_none());
    let refused = server.cli(&[
        "metrics",
        "credit",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--groups",
    ]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("importance only"));

    server.cli_ok(&["group", "remove", "credit", "history"]);
    let listed = json_out(&server.cli_ok(&["group", "list", "credit", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
