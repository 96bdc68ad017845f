//! ONNX tree ensembles imported into Sextant's forest predict what onnxruntime predicts, and
//! interventional TreeSHAP on them equals shap's TreeExplainer on the original scikit-learn
//! models (fixtures from `tools/onnx_fixtures.py`).

use std::path::PathBuf;

use sextant_algo::{Interventional, ModelPredictor, explanation_len, predict_responses};
use sextant_import::load_model;
use sextant_model::{Model, Rows};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/onnx")
        .join(name)
}

/// A CSV of numbers: its header and its rows (empty fields are NaN).
fn csv(name: &str) -> (Vec<String>, Vec<f64>) {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let values = lines
        .flat_map(|l| {
            l.split(',').map(|c| {
                if c.is_empty() {
                    f64::NAN
                } else {
                    c.parse().unwrap()
                }
            })
        })
        .collect();
    (header, values)
}

fn model(name: &str) -> Model {
    load_model(&data(name), None).unwrap_or_else(|e| {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain += &format!(": {s}");
            source = s.source();
        }
        panic!("{name}: {chain}")
    })
}

/// Each model, the rows it was run on, and how closely float32 onnxruntime is matched (relative
/// to max(1, |value|)).
const MODELS: [(&str, &str); 16] = [
    ("rf_binary", "rows.csv"),
    ("rf_multiclass", "rows.csv"),
    ("rf_regression", "rows.csv"),
    ("et_regression", "rows.csv"),
    ("gb_binary", "rows.csv"),
    ("gb_multiclass", "rows.csv"),
    ("gb_regression", "rows.csv"),
    ("hgb_binary", "rows_missing.csv"),
    ("hgb_regression", "rows_missing.csv"),
    ("xgb_binary", "rows_missing.csv"),
    ("xgb_multiclass", "rows.csv"),
    ("lgb_binary", "rows_missing.csv"),
    ("lgb_regression", "rows_missing.csv"),
    ("modes_float", "modes_rows.csv"),
    ("modes_double", "modes_rows.csv"),
    ("modes_v5", "modes_rows.csv"),
];

#[test]
fn predictions_equal_onnxruntime() {
    for (name, rows) in MODELS {
        let m = model(&format!("{name}.onnx"));
        let forest = m
            .trees()
            .unwrap_or_else(|| panic!("{name} is not imported as trees"));
        assert!(!forest.has_covers(), "{name}: ONNX holds no covers");
        let (_, values) = csv(rows);
        let rows = Rows::new(&values, forest.n_features());
        let mut out = vec![0.0; rows.n_rows() * forest.n_outputs()];
        predict_responses(forest, rows, &mut out);
        let (header, expected) = csv(&format!("{name}.pred.csv"));
        assert_eq!(header.len(), forest.n_outputs(), "{name}: outputs");
        for (i, (ours, theirs)) in out.iter().zip(&expected).enumerate() {
            let tolerance = 1e-5 * theirs.abs().max(1.0);
            assert!(
                (ours - theirs).abs() <= tolerance,
                "{name}: row {}, output {}: ours {ours}, onnxruntime {theirs}",
                i / header.len(),
                i % header.len()
            );
        }
    }
}

#[test]
fn interventional_treeshap_equals_shap_on_the_original_forest() {
    let (_, background) = csv("background.csv");
    for name in ["rf_binary", "rf_regression"] {
        let m = model(&format!("{name}.onnx"));
        let forest = m.trees().unwrap();
        let nf = forest.n_features();
        let (_, reference) = csv(&format!("{name}.interventional.csv"));
        let n = reference.len() / (nf + 1);
        let (_, rows) = csv("rows.csv");
        let rows = Rows::new(&rows[..n * nf], nf);
        let mut phi = vec![0.0; explanation_len(forest, n)];
        Interventional::new(forest, Rows::new(&background, nf)).explain(rows, &mut phi);
        for (i, (ours, theirs)) in phi.iter().zip(&reference).enumerate() {
            assert!(
                (ours - theirs).abs() <= 1e-6,
                "{name}: row {}, column {}: ours {ours}, shap {theirs}",
                i / (nf + 1),
                i % (nf + 1)
            );
        }
    }
}

#[test]
fn covers_counted_from_data_make_path_dependent_possible() {
    let mut m = model("rf_regression.onnx");
    let Model::Trees(forest) = &mut m else {
        panic!("trees")
    };
    let (_, values) = csv("rows.csv");
    forest.count_covers(Rows::new(&values, 6));
    assert!(forest.has_covers());
    for tree in forest.trees() {
        let nodes = tree.nodes();
        assert_eq!(nodes[0].cover, 200.0, "every row passes the root");
        for n in nodes.iter().filter(|n| !n.is_leaf()) {
            let children = nodes[n.left as usize].cover + nodes[n.right as usize].cover;
            assert_eq!(n.cover, children, "a node's rows go to its children");
        }
    }
}

/// Checks a model's responses on `rows` against onnxruntime's.
fn matches_onnxruntime(name: &str, m: &Model, rows: &str) {
    let (_, values) = csv(rows);
    let rows = Rows::new(&values, m.n_features());
    let mut out = vec![0.0; rows.n_rows() * m.n_outputs()];
    ModelPredictor::new(m)
        .predict_margins(rows, &mut out)
        .unwrap();
    for row in out.chunks_mut(m.n_outputs()) {
        m.link().apply(row);
    }
    let (header, expected) = csv(&format!("{name}.pred.csv"));
    assert_eq!(header.len(), m.n_outputs(), "{name}: outputs");
    for (i, (ours, theirs)) in out.iter().zip(&expected).enumerate() {
        assert!(
            (ours - theirs).abs() <= 1e-5 * theirs.abs().max(1.0),
            "{name}: value {i}: ours {ours}, onnxruntime {theirs}"
        );
    }
}

#[test]
fn graphs_run_through_tract_as_onnxruntime_runs_them() {
    for (name, rows, features) in [
        ("mlp_regression", "rows.csv", 6),
        ("pipeline_binary", "rows.csv", 6),
        ("mlp_binary", "mlp_rows.csv", 20),
    ] {
        let m = model(&format!("{name}.onnx"));
        assert!(matches!(m, Model::Graph(_)), "{name} is a graph");
        assert_eq!(m.n_features(), features);
        assert_eq!(m.features()[0].name, "f0", "positional names");
        matches_onnxruntime(name, &m, rows);
    }
}

#[test]
fn a_zipmap_after_the_trees_is_read_past() {
    let m = model("rf_zipmap.onnx");
    assert!(m.trees().is_some());
    matches_onnxruntime("rf_binary", &m, "rows.csv");
}
