//! Hostile model files: truncated, garbage, adversarial. Every one must give an error that says
//! what is wrong, never a panic, a hang or a huge allocation.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Value, json};
use sextant_import::{ImportError, parse_lightgbm, parse_model, parse_xgboost_json};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/small")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fuzz-found inputs kept as regression tests (see fuzz/README.md).
fn regressions() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect()
}

fn xgb_doc() -> Value {
    serde_json::from_slice(&fixture("xgb_poisson.json")).unwrap()
}

fn xgb_err(doc: &Value) -> String {
    parse_xgboost_json(doc.to_string().as_bytes())
        .expect_err("must be refused")
        .to_string()
}

fn first_tree(doc: &mut Value) -> &mut Value {
    &mut doc["learner"]["gradient_booster"]["model"]["trees"][0]
}

#[test]
fn fixtures_parse() {
    for name in [
        "xgb_poisson.json",
        "xgb_multiclass.json",
        "xgb_categorical.json",
        "xgb_dart.json",
    ] {
        parse_xgboost_json(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in [
        "lgb_multiclass.txt",
        "lgb_categorical.txt",
        "lgb_zero_as_missing.txt",
        "lgb_no_missing.txt",
    ] {
        parse_lightgbm(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_truncation_is_refused() {
    for name in [
        "xgb_categorical.json",
        "lgb_categorical.txt",
        "xgb_dart.json",
        "lgb_multiclass.txt",
    ] {
        let bytes = fixture(name);
        let end_of_trees = bytes
            .windows(12)
            .position(|w| w == b"end of trees")
            .map(|p| p + 12);
        for cut in (0..bytes.len()).step_by(37) {
            let result = parse_model(&bytes[..cut], None);
            if end_of_trees.is_some_and(|e| cut >= e) {
                continue; // A LightGBM model is complete once its trees have ended.
            }
            assert!(result.is_err(), "{name} cut at {cut} was accepted");
        }
    }
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = parse_xgboost_json(deep.as_bytes()).unwrap_err();
    assert!(matches!(err, ImportError::Json { .. }), "{err}");
    let deep = format!(
        "{{\"learner\": {}{}}}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_001)
    );
    assert!(parse_xgboost_json(deep.as_bytes()).is_err());
}

#[test]
fn huge_declared_sizes_are_checked_against_the_data() {
    let mut doc = xgb_doc();
    first_tree(&mut doc)["tree_param"]["num_nodes"] = json!("18446744073709551615");
    let e = xgb_err(&doc);
    assert!(
        e.contains("trees[0].left_children") && e.contains("num_nodes is 18446744073709551615"),
        "{e}"
    );

    let mut doc = xgb_doc();
    doc["learner"]["learner_model_param"]["num_feature"] = json!("4000000000");
    let e = xgb_err(&doc);
    assert!(e.contains("num_feature is 4000000000"), "{e}");

    let mut doc = xgb_doc();
    doc["learner"]["learner_model_param"]["num_class"] = json!("4000000000");
    let e = xgb_err(&doc);
    assert!(e.contains("base_score") || e.contains("outputs"), "{e}");

    let text = String::from_utf8(fixture("lgb_no_missing.txt")).unwrap();
    let huge = text.replacen(
        "num_leaves=",
        "num_leaves=4000000000\nignored_num_leaves=",
        1,
    );
    let e = parse_lightgbm(huge.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("tree 0: leaf_value has") && e.contains("expected 4000000000"),
        "{e}"
    );

    let huge = text.replacen(
        "num_tree_per_iteration=1",
        "num_tree_per_iteration=999999999999",
        1,
    );
    let e = parse_lightgbm(huge.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("num_tree_per_iteration"), "{e}");
}

#[test]
fn bad_thresholds_features_and_pointers_are_refused() {
    let text = String::from_utf8(fixture("lgb_no_missing.txt")).unwrap();
    let threshold_line = text.lines().find(|l| l.starts_with("threshold=")).unwrap();
    let nan = text.replacen(
        threshold_line,
        &format!(
            "threshold=nan {}",
            &threshold_line[10..].split_once(' ').unwrap().1
        ),
        1,
    );
    let e = parse_lightgbm(nan.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("tree 0, node 0: threshold is NaN"), "{e}");

    let feature_line = text
        .lines()
        .find(|l| l.starts_with("split_feature="))
        .unwrap();
    let out_of_range = text.replacen(
        feature_line,
        &format!(
            "split_feature=999 {}",
            feature_line[14..].split_once(' ').unwrap().1
        ),
        1,
    );
    let e = parse_lightgbm(out_of_range.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("feature index 999") && e.contains("3 features"),
        "{e}"
    );

    let mut doc = xgb_doc();
    first_tree(&mut doc)["split_indices"][0] = json!(77);
    let e = xgb_err(&doc);
    assert!(
        e.contains("tree 0, node 0: split on feature index 77"),
        "{e}"
    );

    let mut doc = xgb_doc();
    first_tree(&mut doc)["left_children"][1] = json!(0);
    let e = xgb_err(&doc);
    assert!(e.contains("reached more than once"), "{e}");

    let mut doc = xgb_doc();
    first_tree(&mut doc)["right_children"][0] = json!(123_456);
    let e = xgb_err(&doc);
    assert!(e.contains("child 123456 is outside the tree"), "{e}");

    let mut doc = xgb_doc();
    first_tree(&mut doc)["left_children"][0] = json!(-7);
    let e = xgb_err(&doc);
    assert!(e.contains("left_children[0]") && e.contains("-7"), "{e}");

    let mut doc = xgb_doc();
    first_tree(&mut doc)["split_conditions"][0] = json!("0.5");
    let e = xgb_err(&doc);
    assert!(
        e.contains("trees[0].split_conditions") && e.contains("item 0: expected a number"),
        "{e}"
    );

    let mut doc = xgb_doc();
    first_tree(&mut doc)["categories_nodes"] = json!([1]);
    first_tree(&mut doc)["categories_segments"] = json!([5]);
    first_tree(&mut doc)["categories_sizes"] = json!([9]);
    first_tree(&mut doc)["categories"] = json!([1]);
    let e = xgb_err(&doc);
    assert!(
        e.contains("categories_segments[0]") && e.contains("outside"),
        "{e}"
    );

    let bad_child = text.replacen("left_child=", "left_child=-99 ", 1);
    assert!(parse_lightgbm(bad_child.as_bytes()).is_err());
}

#[test]
fn unsupported_features_are_named() {
    let mut doc = xgb_doc();
    doc["learner"]["objective"]["name"] = json!("survival:cox");
    assert!(xgb_err(&doc).contains("XGBoost objective \"survival:cox\""));

    let mut doc = xgb_doc();
    doc["learner"]["gradient_booster"] = json!({"name": "gblinear", "model": {}});
    assert!(xgb_err(&doc).contains("gblinear"));

    let mut doc = xgb_doc();
    first_tree(&mut doc)["tree_param"]["size_leaf_vector"] = json!("3");
    assert!(xgb_err(&doc).contains("multi-target tree"));

    let text = String::from_utf8(fixture("lgb_no_missing.txt")).unwrap();
    let linear = text.replacen("is_linear=0", "is_linear=1", 1);
    let e = parse_lightgbm(linear.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("linear tree (is_linear=1"), "{e}");

    let e = parse_lightgbm(text.replacen("version=v4", "version=v9", 1).as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("format version \"v9\""), "{e}");
}

/// XGBoost 1.x wrote a scalar base_score, no split_type or category fields, no `cats`, and
/// booleans for default_left: such a file must give the same model.
#[test]
fn xgboost_1x_layout_gives_the_same_predictions() {
    let doc = xgb_doc();
    let mut old = doc.clone();
    old["version"] = json!([1, 7, 6]);
    let base = old["learner"]["learner_model_param"]["base_score"]
        .as_str()
        .unwrap()
        .trim_matches(['[', ']'])
        .to_string();
    old["learner"]["learner_model_param"]["base_score"] = json!(base);
    let model = old["learner"]["gradient_booster"]["model"]
        .as_object_mut()
        .unwrap();
    model.remove("cats");
    model.remove("iteration_indptr");
    for tree in model["trees"].as_array_mut().unwrap() {
        let tree = tree.as_object_mut().unwrap();
        for k in [
            "split_type",
            "categories",
            "categories_nodes",
            "categories_segments",
            "categories_sizes",
        ] {
            tree.remove(k);
        }
        let bools: Vec<bool> = tree["default_left"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64() == Some(1))
            .collect();
        tree.insert("default_left".into(), json!(bools));
    }
    old["learner"]
        .as_object_mut()
        .unwrap()
        .remove("feature_types");
    let new = parse_xgboost_json(doc.to_string().as_bytes()).unwrap();
    let old = parse_xgboost_json(old.to_string().as_bytes()).unwrap();
    assert_eq!(old.info().library_version, "1.7.6");
    for row in [
        [0.1, -0.3, 2.0],
        [f64::NAN, 0.0, -1.0],
        [1.5, f64::NAN, f64::NAN],
    ] {
        let (mut a, mut b) = ([0.0], [0.0]);
        new.predict_margin_row(&row, &mut a);
        old.predict_margin_row(&row, &mut b);
        assert_eq!(a, b);
    }
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let cases = regressions();
    assert!(cases.len() >= 2, "the regression folder is missing");
    for (name, bytes) in cases {
        if name.ends_with(".md") {
            continue;
        }
        // Each of these once crashed; every importer must now refuse it with an error.
        assert!(parse_model(&bytes, None).is_err(), "{name} was accepted");
        let _ = parse_xgboost_json(&bytes);
        let _ = parse_lightgbm(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn garbage_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(parse_xgboost_json(&bytes).is_err());
        prop_assert!(parse_lightgbm(&bytes).is_err());
    }

    #[test]
    fn mutated_models_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), which in 0usize..4) {
        let name = ["xgb_categorical.json", "lgb_categorical.txt", "xgb_multiclass.json", "lgb_zero_as_missing.txt"][which];
        let mut bytes = fixture(name);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = parse_model(&bytes, None);
    }
}
