//! Small models that cover what the workloads do not: multiclass, string categories, Poisson,
//! DART, LightGBM's Zero and None missing types; each against its library's own predictions and
//! `pred_contribs` / `pred_contrib`.

use crate::support::*;

const MODELS: [&str; 8] = [
    "xgb_multiclass.json",
    "xgb_categorical.json",
    "xgb_poisson.json",
    "xgb_dart.json",
    "lgb_multiclass.txt",
    "lgb_categorical.txt",
    "lgb_zero_as_missing.txt",
    "lgb_no_missing.txt",
];

#[test]
fn small_models_match_their_libraries() {
    let dir = scratch("small");
    for file in MODELS {
        let stem = file.rsplit_once('.').unwrap().0;
        let model = data(&format!("small/{file}"));
        let rows = data(&format!("small/{stem}.csv"));
        let (pred, shap) = (
            dir.join(format!("{stem}.pred.csv")),
            dir.join(format!("{stem}.shap.csv")),
        );
        let args = |cmd: &'static str, out: &std::path::Path| {
            vec![
                cmd.to_string(),
                "--model".into(),
                model.display().to_string(),
                "--data".into(),
                rows.display().to_string(),
                "--output".into(),
                out.display().to_string(),
            ]
        };
        let a = args("predict", &pred);
        sextant_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let a = args("explain", &shap);
        let stderr = sextant_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(additivity_error(&stderr) < 1e-9, "{file}: {stderr}");
        let same = |c: &str| c.to_string();
        let p = assert_matches(
            &Table::read(&pred),
            &Table::read(&data(&format!("small/{stem}.pred.csv"))),
            &same,
            file,
        );
        let s = assert_matches(
            &Table::read(&shap),
            &Table::read(&data(&format!("small/{stem}.shap.csv"))),
            &same,
            file,
        );
        eprintln!("{file}: predictions worst {p:e}, SHAP worst {s:e}");
    }
}

#[test]
fn multiclass_output_has_one_block_per_class() {
    let inspect = sextant(&[
        "inspect",
        "--model",
        data("small/lgb_multiclass.txt").to_str().unwrap(),
    ]);
    let inspect = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.contains("outputs      3") && inspect.contains("link: softmax"),
        "{inspect}"
    );
    let result = sextant(&[
        "explain",
        "--model",
        data("small/xgb_multiclass.json").to_str().unwrap(),
        "--data",
        data("small/xgb_multiclass.csv").to_str().unwrap(),
        "--rows",
        "3",
    ]);
    assert!(result.status.success());
    let table = Table::parse(&result.stdout);
    let expected: Vec<String> = (0..3)
        .flat_map(|k| {
            ["x0", "x1", "x2", "x3", "base_value", "margin"].map(|c| format!("{c}__class{k}"))
        })
        .collect();
    assert_eq!(table.columns, expected);
    assert_eq!(table.rows.len(), 3);
}
