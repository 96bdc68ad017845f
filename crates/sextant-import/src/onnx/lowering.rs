//! Rewrites the ai.onnx.ml preprocessing operators that tract does not implement into standard
//! ONNX operators it does, before tract reads the graph:
//!
//! | operator | becomes |
//! |---|---|
//! | `Scaler` (`offset`, `scale`) | `Mul(Sub(X, offset), scale)` |
//! | `OneHotEncoder` (`cats_int64s`) | `Cast(Equal(Reshape(Cast(X), [0, -1, 1]), cats))`: `[N, C, k]` |
//! | `Imputer` (`imputed_value_floats`, `replaced_value_float`) | `Where(IsNaN(X) or Equal(X, r), imputed, X)` |
//! | `Binarizer` (`threshold`) | `Cast(Greater(X, threshold))` |
//!
//! One difference: a `OneHotEncoder` with `zeros=0` fails on a category it does not know, and
//! the rewrite gives it all zeros, as `zeros=1` does.

use tract_onnx::pb::{self, attribute_proto::AttributeType};

use crate::ImportError;

const FLOAT: i32 = 1;
const INT64: i32 = 7;

fn attribute<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn constant_f32(name: &str, dims: Vec<i64>, values: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims,
        data_type: FLOAT,
        float_data: values,
        ..Default::default()
    }
}

fn node(
    op: &str,
    inputs: &[&str],
    output: &str,
    attributes: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        name: format!("sextant_{output}"),
        attribute: attributes,
        ..Default::default()
    }
}

fn cast_to(to: i32) -> Vec<pb::AttributeProto> {
    vec![pb::AttributeProto {
        name: "to".into(),
        r#type: AttributeType::Int as i32,
        i: to as i64,
        ..Default::default()
    }]
}

/// Rewrites every lowered operator of `graph` in place.
pub fn lower(graph: &mut pb::GraphProto) -> Result<(), ImportError> {
    let old = std::mem::take(&mut graph.node);
    for (i, n) in old.into_iter().enumerate() {
        let ml = n.domain == "ai.onnx.ml";
        let (Some(x), Some(y)) = (n.input.first().cloned(), n.output.first().cloned()) else {
            graph.node.push(n);
            continue;
        };
        let p = |part: &str| format!("sextant_{i}_{part}");
        match n.op_type.as_str() {
            "Scaler" if ml => {
                let floats = |name| {
                    attribute(&n, name)
                        .map(|a| a.floats.clone())
                        .unwrap_or_default()
                };
                let (offset, scale) = (floats("offset"), floats("scale"));
                let offset = if offset.is_empty() { vec![0.0] } else { offset };
                let scale = if scale.is_empty() { vec![1.0] } else { scale };
                graph.initializer.push(constant_f32(
                    &p("offset"),
                    vec![offset.len() as i64],
                    offset,
                ));
                graph
                    .initializer
                    .push(constant_f32(&p("scale"), vec![scale.len() as i64], scale));
                graph
                    .node
                    .push(node("Cast", &[&x], &p("x"), cast_to(FLOAT)));
                graph
                    .node
                    .push(node("Sub", &[&p("x"), &p("offset")], &p("centred"), vec![]));
                graph
                    .node
                    .push(node("Mul", &[&p("centred"), &p("scale")], &y, vec![]));
            }
            "OneHotEncoder" if ml => {
                let cats = attribute(&n, "cats_int64s")
                    .map(|a| a.ints.clone())
                    .unwrap_or_default();
                if cats.is_empty() {
                    return Err(ImportError::Unsupported(format!(
                        "node OneHotEncoder {:?} encodes strings; Sextant feeds numbers, so categories must be integer codes (cats_int64s)",
                        n.name
                    )));
                }
                let k = cats.len() as i64;
                graph.initializer.push(constant_f32(
                    &p("cats"),
                    vec![k],
                    cats.iter().map(|&c| c as f32).collect(),
                ));
                graph.initializer.push(pb::TensorProto {
                    name: p("shape"),
                    dims: vec![3],
                    data_type: INT64,
                    int64_data: vec![0, -1, 1],
                    ..Default::default()
                });
                graph
                    .node
                    .push(node("Cast", &[&x], &p("x"), cast_to(FLOAT)));
                graph.node.push(node(
                    "Reshape",
                    &[&p("x"), &p("shape")],
                    &p("column"),
                    vec![],
                ));
                graph.node.push(node(
                    "Equal",
                    &[&p("column"), &p("cats")],
                    &p("hits"),
                    vec![],
                ));
                graph
                    .node
                    .push(node("Cast", &[&p("hits")], &y, cast_to(FLOAT)));
            }
            "Imputer" if ml => {
                let values = attribute(&n, "imputed_value_floats")
                    .map(|a| a.floats.clone())
                    .unwrap_or_default();
                if values.is_empty() {
                    return Err(ImportError::Unsupported(format!(
                        "node Imputer {:?} imputes integers; Sextant reads imputed_value_floats",
                        n.name
                    )));
                }
                let replaced = attribute(&n, "replaced_value_float")
                    .map(|a| a.f)
                    .unwrap_or(f32::NAN);
                graph.initializer.push(constant_f32(
                    &p("values"),
                    vec![values.len() as i64],
                    values,
                ));
                graph
                    .node
                    .push(node("Cast", &[&x], &p("x"), cast_to(FLOAT)));
                if replaced.is_nan() {
                    graph
                        .node
                        .push(node("IsNaN", &[&p("x")], &p("replace"), vec![]));
                } else {
                    graph
                        .initializer
                        .push(constant_f32(&p("replaced"), vec![1], vec![replaced]));
                    graph.node.push(node(
                        "Equal",
                        &[&p("x"), &p("replaced")],
                        &p("replace"),
                        vec![],
                    ));
                }
                graph.node.push(node(
                    "Where",
                    &[&p("replace"), &p("values"), &p("x")],
                    &y,
                    vec![],
                ));
            }
            "Binarizer" if ml => {
                let threshold = attribute(&n, "threshold").map(|a| a.f).unwrap_or(0.0);
                graph
                    .initializer
                    .push(constant_f32(&p("threshold"), vec![1], vec![threshold]));
                graph
                    .node
                    .push(node("Cast", &[&x], &p("x"), cast_to(FLOAT)));
                graph.node.push(node(
                    "Greater",
                    &[&p("x"), &p("threshold")],
                    &p("above"),
                    vec![],
                ));
                graph
                    .node
                    .push(node("Cast", &[&p("above")], &y, cast_to(FLOAT)));
            }
            _ => graph.node.push(n),
        }
    }
    Ok(())
}
