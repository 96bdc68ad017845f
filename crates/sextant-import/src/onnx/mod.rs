//! ONNX models: tree ensembles (`ai.onnx.ml` `TreeEnsembleClassifier`, `TreeEnsembleRegressor`,
//! `TreeEnsemble`) become Sextant's own [`Forest`], so that every tree algorithm runs on them;
//! other graphs run through tract ([`graph`]).
//!
//! The features are the input tensor's columns. ONNX files carry no feature names, so they come
//! from the model's `feature_names` metadata (a JSON list of strings) when the exporter wrote it,
//! from the inputs' names when the graph takes one column per input, and are otherwise `f0`,
//! `f1`, …, to be named by the project the model is added to.

mod attributes;
mod forest;
pub(crate) mod graph;
mod lowering;
mod proto;
mod trees;

use prost::Message;
use sextant_model::{Feature, FeatureKind, Forest, Model, ModelInfo};

use crate::ImportError;
use attributes::describe;
use proto::{GraphProto, ModelProto, NodeProto, ValueInfoProto, elem};

/// The ai.onnx.ml operator sets Sextant reads.
const ML_OPSETS: std::ops::RangeInclusive<i64> = 1..=5;
/// The standard operator sets Sextant reads (tract's range).
const ONNX_OPSETS: std::ops::RangeInclusive<i64> = 1..=22;
/// The ONNX IR versions Sextant reads.
const IR_VERSIONS: std::ops::RangeInclusive<i64> = 3..=11;
/// The tree operators.
const TREE_OPS: [&str; 3] = [
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "TreeEnsemble",
];

/// Whether an ONNX model's features carry the importer's positional names (`f0`, `f1`, …):
/// its file named none.
pub fn has_positional_names(model: &Model) -> bool {
    model.info().format == "onnx"
        && model
            .features()
            .iter()
            .enumerate()
            .all(|(i, f)| f.name == format!("f{i}"))
}

/// Gives an ONNX model whose file names no features (see [`has_positional_names`]) the names
/// `names`, in order, when there is one per input column; returns whether it did. A project's
/// features name the columns of such a model, as the data's columns do.
pub fn name_positional_features(model: &mut Model, names: &[String]) -> bool {
    if !has_positional_names(model) || names.len() != model.n_features() {
        return false;
    }
    model.rename_features(names);
    true
}

/// Parses an ONNX model.
pub fn parse_onnx(bytes: &[u8]) -> Result<Model, ImportError> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| ImportError::Onnx(format!("not a valid ONNX file: {e}")))?;
    check_versions(&model)?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| ImportError::Onnx("the file holds no graph".into()))?;
    let tree_nodes: Vec<&NodeProto> = graph
        .node
        .iter()
        .filter(|n| is_ml(&n.domain) && TREE_OPS.contains(&n.op_type.as_str()))
        .collect();
    match tree_nodes.as_slice() {
        [] => graph::parse_graph(bytes, &model),
        [tree] => trees_model(&model, graph, tree).map(Model::from),
        more => Err(ImportError::Unsupported(format!(
            "the graph holds {} tree ensembles; Sextant reads one per model",
            more.len()
        ))),
    }
}

fn is_ml(domain: &str) -> bool {
    domain == "ai.onnx.ml"
}

fn check_versions(model: &ModelProto) -> Result<(), ImportError> {
    if !IR_VERSIONS.contains(&model.ir_version) {
        return Err(ImportError::Onnx(format!(
            "IR version {} is not one Sextant reads ({} to {})",
            model.ir_version,
            IR_VERSIONS.start(),
            IR_VERSIONS.end()
        )));
    }
    for set in &model.opset_import {
        let (name, range) = match set.domain.as_str() {
            "" | "ai.onnx" => ("the standard", &ONNX_OPSETS),
            "ai.onnx.ml" => ("the ai.onnx.ml", &ML_OPSETS),
            other => {
                return Err(ImportError::Unsupported(format!(
                    "the model uses operators of domain {other:?}; Sextant reads the standard and ai.onnx.ml ones"
                )));
            }
        };
        if !range.contains(&set.version) {
            return Err(ImportError::Unsupported(format!(
                "the model uses {name} operator set {}; Sextant reads {} to {}",
                set.version,
                range.start(),
                range.end()
            )));
        }
    }
    Ok(())
}

/// The graph's inputs that are not constants.
fn data_inputs(graph: &GraphProto) -> Vec<&ValueInfoProto> {
    graph
        .input
        .iter()
        .filter(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .collect()
}

/// An input's element type and its columns (`None` when the width is not fixed).
fn input_shape(input: &ValueInfoProto) -> Result<(i32, Option<usize>), ImportError> {
    let tensor = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| {
            ImportError::Unsupported(format!("input {:?} is not a tensor", input.name))
        })?;
    let dims = tensor
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or(&[]);
    let width = match dims {
        [_] => Some(1),
        [_, d] => d.dim_value.and_then(|v| usize::try_from(v).ok()),
        _ => {
            return Err(ImportError::Unsupported(format!(
                "input {:?} has {} dimensions; Sextant feeds tables (rows × columns)",
                input.name,
                dims.len()
            )));
        }
    };
    Ok((tensor.elem_type, width))
}

/// The model's feature names: the `feature_names` metadata if present, else `f0`, `f1`, ….
fn feature_names(model: &ModelProto, width: usize) -> Result<Vec<String>, ImportError> {
    let Some(entry) = model
        .metadata_props
        .iter()
        .find(|p| p.key == "feature_names")
    else {
        return Ok((0..width).map(|i| format!("f{i}")).collect());
    };
    let names: Vec<String> = serde_json::from_str(&entry.value).map_err(|e| {
        ImportError::field(
            "metadata_props feature_names",
            format!("expected a JSON list of names: {e}"),
        )
    })?;
    if names.len() != width {
        return Err(ImportError::field(
            "metadata_props feature_names",
            format!(
                "names {} features and the input has {width} columns",
                names.len()
            ),
        ));
    }
    Ok(names)
}

fn numeric(names: Vec<String>) -> Vec<Feature> {
    names
        .into_iter()
        .map(|name| Feature {
            name,
            kind: FeatureKind::Numeric,
        })
        .collect()
}

fn info(model: &ModelProto, objective: String) -> ModelInfo {
    ModelInfo {
        format: "onnx",
        library_version: format!("{} {}", model.producer_name, model.producer_version)
            .trim()
            .to_string(),
        objective,
    }
}

/// A model whose graph is one tree ensemble, with at most casts before it and label or
/// formatting operators after it.
fn trees_model(
    model: &ModelProto,
    graph: &GraphProto,
    tree: &NodeProto,
) -> Result<Forest, ImportError> {
    let name = describe(tree);
    let inputs = data_inputs(graph);
    let [input] = inputs.as_slice() else {
        return Err(ImportError::Unsupported(format!(
            "the graph has {} inputs; a tree ensemble reads one table",
            inputs.len()
        )));
    };
    let (elem_type, width) = input_shape(input)?;
    if !matches!(elem_type, elem::FLOAT | elem::DOUBLE) {
        return Err(ImportError::Unsupported(format!(
            "input {:?} holds {}; Sextant feeds float or double tensors",
            input.name,
            elem::name(elem_type)
        )));
    }
    check_around_trees(graph, tree, &input.name)?;
    let ensemble = trees::read(tree)?;
    let width = width
        .unwrap_or(ensemble.features_read)
        .max(ensemble.features_read);
    // The operator sees the input as float unless a cast to double comes between.
    let f32_input = operator_input_type(graph, tree, elem_type) == elem::FLOAT;
    let features = numeric(feature_names(model, width)?);
    let objective = format!(
        "{} ({} trees, post_transform {:?})",
        tree.op_type,
        ensemble.roots.len(),
        ensemble.post_transform
    );
    forest::build(
        &ensemble,
        features,
        f32_input,
        info(model, objective),
        &name,
    )
}

/// The element type the tree operator reads: the graph input's, or the nearest cast's before it.
fn operator_input_type(graph: &GraphProto, tree: &NodeProto, input_type: i32) -> i32 {
    let mut value = tree.input.first().map(String::as_str).unwrap_or_default();
    for _ in 0..graph.node.len() {
        let Some(producer) = graph
            .node
            .iter()
            .find(|n| n.output.iter().any(|o| o == value))
        else {
            break;
        };
        if producer.op_type == "Cast" {
            return attributes::Attributes::of(producer).int("to", 0) as i32;
        }
        value = producer
            .input
            .first()
            .map(String::as_str)
            .unwrap_or_default();
    }
    input_type
}

/// Every other node must be a cast or identity between the input and the trees, or follow the
/// trees' outputs without changing the scores (or compute a label from them): otherwise the
/// graph computes something the forest would not.
fn check_around_trees(
    graph: &GraphProto,
    tree: &NodeProto,
    input: &str,
) -> Result<(), ImportError> {
    let classifier = tree.output.len() > 1;
    let mut inputs: Vec<&str> = vec![input];
    let mut scores: Vec<&str> = vec![tree.output.last().map(String::as_str).unwrap_or_default()];
    let mut labels: Vec<&str> = if classifier {
        vec![tree.output[0].as_str()]
    } else {
        vec![]
    };
    let constants: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    for node in &graph.node {
        if std::ptr::eq(node, tree) {
            continue;
        }
        let reads = |set: &[&str]| node.input.iter().any(|i| set.contains(&i.as_str()));
        let op = node.op_type.as_str();
        let (ok, into, what) = if reads(&scores) {
            let passthrough = matches!(op, "Identity" | "Cast" | "ZipMap")
                || (op == "Mul" && multiplies_by_one(graph, node, &constants));
            let label = matches!(op, "ArgMax" | "ArrayFeatureExtractor" | "Reshape");
            (
                passthrough || label,
                if passthrough {
                    &mut scores
                } else {
                    &mut labels
                },
                "scores",
            )
        } else if reads(&labels) {
            (true, &mut labels, "label")
        } else if reads(&inputs) {
            (matches!(op, "Cast" | "Identity"), &mut inputs, "input")
        } else {
            (
                op == "Constant" || node.input.iter().all(|i| constants.contains(&i.as_str())),
                &mut labels,
                "constants",
            )
        };
        if !ok {
            return Err(ImportError::Unsupported(format!(
                "{} ({what}) feeds {}: Sextant imports a graph that is one tree ensemble, with casts before it and label or ZipMap outputs after it",
                if what == "input" {
                    "the input".to_string()
                } else {
                    describe(tree)
                },
                describe(node)
            )));
        }
        into.extend(node.output.iter().map(String::as_str));
    }
    Ok(())
}

/// Whether a Mul node multiplies by a constant whose every value is 1.
fn multiplies_by_one(graph: &GraphProto, node: &NodeProto, constants: &[&str]) -> bool {
    node.input.iter().any(|i| {
        constants.contains(&i.as_str())
            && graph
                .initializer
                .iter()
                .find(|t| &t.name == i)
                .and_then(|t| attributes::tensor_numbers(t).ok())
                .is_some_and(|v| !v.is_empty() && v.iter().all(|&x| x == 1.0))
    })
}
