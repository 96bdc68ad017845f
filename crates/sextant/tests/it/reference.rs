//! The public bench workloads (xgb_cls, xgb_reg, lgb_cls): predictions and path-dependent SHAP of
//! the first 200 rows against XGBoost / LightGBM, interventional SHAP of 50 rows against shap,
//! and additivity over every explain row.

use crate::support::*;

const WORKLOADS: [(&str, &str); 3] = [
    ("xgb_cls", "model.json"),
    ("xgb_reg", "model.json"),
    ("lgb_cls", "model.txt"),
];

fn model(w: &str, file: &str) -> String {
    data(&format!("workloads/{w}/{file}")).display().to_string()
}

#[test]
fn predictions_match_the_libraries() {
    for (w, file) in WORKLOADS {
        let dir = scratch(&format!("pred-{w}"));
        let out = dir.join("pred.csv");
        let head = data(&format!("workloads/{w}/explain_head.csv"));
        sextant_ok(&[
            "predict",
            "--model",
            &model(w, file),
            "--data",
            head.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        let reference = Table::read(&data(&format!("workloads/{w}/predictions_head.csv")));
        // The workloads name the response `prob` / `pred` and the margin `margin` / `raw`.
        let rename = |c: &str| match c {
            "prob" | "pred" => "prediction".to_string(),
            "raw" => "margin".to_string(),
            other => other.to_string(),
        };
        let worst = assert_matches(&Table::read(&out), &reference, &rename, w);
        eprintln!("{w}: predictions, worst difference {worst:e}");
    }
}

#[test]
fn path_dependent_shap_matches_the_libraries_and_adds_up_on_every_row() {
    for (w, file) in WORKLOADS {
        let dir = scratch(&format!("shap-{w}"));
        let out = dir.join("shap.csv");
        let all_rows = data(&format!("workloads/{w}/explain.parquet"));
        let stderr = sextant_ok(&[
            "explain",
            "--model",
            &model(w, file),
            "--data",
            all_rows.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        let ours = Table::read(&out);
        let reference = Table::read(&data(&format!("workloads/{w}/shap_head.csv")));
        let rename = |c: &str| {
            if c == "bias" {
                "base_value".to_string()
            } else {
                c.to_string()
            }
        };
        let worst = assert_matches(&ours, &reference, &rename, w);
        eprintln!("{w}: path-dependent SHAP, worst difference {worst:e}");

        // Every row of the file, checked here independently of the binary's own check.
        let expected_rows = if w == "lgb_cls" { 5000 } else { 10_000 };
        assert_eq!(ours.rows.len(), expected_rows, "{w}");
        let margin = ours.column("margin");
        for (r, row) in ours.rows.iter().enumerate() {
            let total: f64 = row[..margin].iter().sum();
            let m = row[margin];
            assert!(
                (total - m).abs() <= 1e-4 * m.abs().max(1.0),
                "{w}: row {r} does not add up: {total} vs {m}"
            );
        }
        assert!(additivity_error(&stderr) < 1e-9, "{w}: {stderr}");
    }
}

#[test]
fn interventional_shap_matches_shap() {
    for w in ["xgb_cls", "xgb_reg"] {
        let dir = scratch(&format!("int-{w}"));
        let out = dir.join("int.csv");
        let head = data(&format!("workloads/{w}/explain_head.csv"));
        let background = data(&format!("workloads/{w}/background.csv"));
        let stderr = sextant_ok(&[
            "explain",
            "--model",
            &model(w, "model.json"),
            "--data",
            head.to_str().unwrap(),
            "--background",
            background.to_str().unwrap(),
            "--method",
            "interventional",
            "--rows",
            "50",
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(
            stderr.contains("interventional against 100 background rows"),
            "{stderr}"
        );
        let ours = Table::read(&out);
        assert_eq!(ours.rows.len(), 50);
        let reference = Table::read(&data(&format!("workloads/{w}/interventional_head.csv")));
        let worst = assert_matches(&ours, &reference, &|c| c.to_string(), w);
        eprintln!("{w}: interventional SHAP, worst difference {worst:e}");
    }
}
