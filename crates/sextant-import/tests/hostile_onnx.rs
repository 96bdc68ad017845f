//! Hostile ONNX files: truncated, of the wrong operator set, trees with cycles or children out of
//! range, graphs with operators nobody implements. Each is made by editing a real fixture
//! (`tests/data/onnx`, from `tools/onnx_fixtures.py`) through the protobuf schema, and each must
//! give an error that names the problem, never a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use proptest::prelude::*;
use prost::Message;
use sextant_import::{parse_model, parse_onnx};
use tract_onnx::pb;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/onnx")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decoded(name: &str) -> pb::ModelProto {
    pb::ModelProto::decode(fixture(name).as_slice()).unwrap()
}

/// The error `model` gives when imported (it must give one).
fn refused(model: &pb::ModelProto) -> String {
    let bytes = model.encode_to_vec();
    match catch_unwind(AssertUnwindSafe(|| parse_onnx(&bytes))) {
        Ok(Ok(_)) => panic!("accepted"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("the importer panicked"),
    }
}

fn tree_node(model: &mut pb::ModelProto) -> &mut pb::NodeProto {
    let graph = model.graph.as_mut().unwrap();
    graph
        .node
        .iter_mut()
        .find(|n| n.op_type.starts_with("TreeEnsemble"))
        .expect("a tree operator")
}

fn ints<'a>(node: &'a mut pb::NodeProto, name: &str) -> &'a mut Vec<i64> {
    &mut node
        .attribute
        .iter_mut()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no attribute {name}"))
        .ints
}

#[test]
fn the_fixtures_parse() {
    for name in ["modes_float.onnx", "modes_v5.onnx", "mlp_regression.onnx"] {
        parse_onnx(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_truncation_is_refused_or_reads_a_whole_field() {
    for name in [
        "modes_v5.onnx",
        "mlp_regression.onnx",
        "pipeline_binary.onnx",
    ] {
        let bytes = fixture(name);
        let mut refusals = 0;
        for len in 0..bytes.len() {
            let result = catch_unwind(|| parse_model(&bytes[..len], None))
                .unwrap_or_else(|_| panic!("{name} cut at {len}: the importer panicked"));
            if let Err(e) = result {
                assert!(!e.to_string().is_empty());
                refusals += 1;
            }
        }
        // A cut can fall between two top-level fields and leave a valid, smaller file; all
        // others are refused.
        assert!(
            refusals >= bytes.len() - 8,
            "{name}: only {refusals} of {} truncations refused",
            bytes.len()
        );
        let half = parse_onnx(&bytes[..bytes.len() / 2])
            .unwrap_err()
            .to_string();
        assert!(half.contains("ONNX"), "{name}: {half}");
    }
}

#[test]
fn versions_sextant_does_not_read_are_named() {
    let mut m = decoded("modes_v5.onnx");
    for set in &mut m.opset_import {
        if set.domain == "ai.onnx.ml" {
            set.version = 99;
        }
    }
    let e = refused(&m);
    assert!(e.contains("ai.onnx.ml operator set 99"), "{e}");

    let mut m = decoded("mlp_regression.onnx");
    m.ir_version = 2;
    let e = refused(&m);
    assert!(e.contains("IR version 2"), "{e}");

    let mut m = decoded("mlp_regression.onnx");
    m.opset_import.push(pb::OperatorSetIdProto {
        domain: "com.microsoft".into(),
        version: 1,
    });
    let e = refused(&m);
    assert!(e.contains("com.microsoft"), "{e}");
}

#[test]
fn a_tree_with_a_cycle_is_refused() {
    // The root's "true" child pointed back at the root: no node is left without a parent.
    let mut m = decoded("modes_float.onnx");
    let node = tree_node(&mut m);
    let root = ints(node, "nodes_nodeids")[0];
    ints(node, "nodes_truenodeids")[0] = root;
    let e = refused(&m);
    assert!(e.contains("cycle"), "{e}");

    // A deeper branch pointing at its tree's root: the root is reached twice.
    let mut m = decoded("modes_float.onnx");
    let node = tree_node(&mut m);
    let trees = ints(node, "nodes_treeids").clone();
    let modes: Vec<Vec<u8>> = node
        .attribute
        .iter()
        .find(|a| a.name == "nodes_modes")
        .unwrap()
        .strings
        .clone();
    let ids = ints(node, "nodes_nodeids").clone();
    let children: Vec<(i64, i64)> = {
        let yes = ints(node, "nodes_truenodeids").clone();
        let no = ints(node, "nodes_falsenodeids").clone();
        (0..trees.len())
            .filter(|&i| modes[i] != b"LEAF")
            .flat_map(|i| [(trees[i], yes[i]), (trees[i], no[i])])
            .collect()
    };
    let branches_of = |t: i64| -> Vec<usize> {
        (0..trees.len())
            .filter(|&i| trees[i] == t && modes[i] != b"LEAF")
            .collect()
    };
    let tree = *trees
        .iter()
        .find(|&&t| branches_of(t).len() >= 2)
        .expect("a tree with two branches");
    let root = branches_of(tree)
        .into_iter()
        .find(|&i| !children.contains(&(tree, ids[i])))
        .unwrap();
    let inner = *branches_of(tree).iter().find(|&&i| i != root).unwrap();
    let root_id = ids[root];
    ints(node, "nodes_falsenodeids")[inner] = root_id;
    let e = refused(&m);
    assert!(e.contains("cycle") || e.contains("reached twice"), "{e}");

    // The opset-5 operator: a branch made its own child.
    let mut m = decoded("modes_v5.onnx");
    let node = tree_node(&mut m);
    ints(node, "nodes_trueleafs")[0] = 0;
    ints(node, "nodes_truenodeids")[0] = 0;
    let e = refused(&m);
    assert!(e.contains("reached twice"), "{e}");
}

#[test]
fn a_child_out_of_range_is_named() {
    let mut m = decoded("modes_float.onnx");
    ints(tree_node(&mut m), "nodes_truenodeids")[0] = 9_999;
    let e = refused(&m);
    assert!(e.contains("nodes_truenodeids") && e.contains("9999"), "{e}");

    let mut m = decoded("modes_v5.onnx");
    let node = tree_node(&mut m);
    ints(node, "nodes_falseleafs")[0] = 1;
    ints(node, "nodes_falsenodeids")[0] = 9_999;
    let e = refused(&m);
    assert!(
        e.contains("nodes_falsenodeids") && e.contains("9999"),
        "{e}"
    );

    let mut m = decoded("modes_float.onnx");
    ints(tree_node(&mut m), "nodes_featureids")[0] = -3;
    let e = refused(&m);
    assert!(e.contains("nodes_featureids") && e.contains("-3"), "{e}");

    // Attribute lists of different lengths.
    let mut m = decoded("modes_float.onnx");
    ints(tree_node(&mut m), "nodes_falsenodeids").pop();
    let e = refused(&m);
    assert!(e.contains("nodes_falsenodeids"), "{e}");
}

#[test]
fn an_unsupported_operator_is_named() {
    let mut m = decoded("mlp_regression.onnx");
    let graph = m.graph.as_mut().unwrap();
    let first = &mut graph.node[0];
    first.op_type = "FrobnicateTensor".into();
    let e = refused(&m);
    assert!(e.contains("FrobnicateTensor"), "{e}");

    // A tree ensemble combined with another operator that changes its scores.
    let mut m = decoded("rf_binary.onnx");
    let graph = m.graph.as_mut().unwrap();
    let scores = graph
        .node
        .iter()
        .find(|n| n.op_type.starts_with("TreeEnsemble"))
        .unwrap()
        .output
        .last()
        .unwrap()
        .clone();
    graph.node.push(pb::NodeProto {
        op_type: "Sqrt".into(),
        input: vec![scores],
        output: vec!["rooted".into()],
        name: "after_trees".into(),
        ..Default::default()
    });
    let e = refused(&m);
    assert!(e.contains("Sqrt"), "{e}");
}

#[test]
fn a_zipmap_output_of_a_graph_gets_the_hint() {
    // A graph whose only output is a map: nothing to read scores from.
    let mut m = decoded("mlp_regression.onnx");
    let graph = m.graph.as_mut().unwrap();
    for output in &mut graph.output {
        output.r#type = None;
    }
    let e = refused(&m);
    assert!(e.contains("zipmap=False"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_files_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), which in 0usize..3) {
        let name = ["modes_v5.onnx", "modes_float.onnx", "mlp_regression.onnx"][which];
        let mut bytes = fixture(name);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let outcome = catch_unwind(|| parse_onnx(&bytes).map(|_| ()));
        prop_assert!(outcome.is_ok(), "the importer panicked");
    }
}
