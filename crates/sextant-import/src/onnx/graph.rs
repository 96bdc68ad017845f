//! ONNX graphs without tree operators (neural networks, linear and logistic models, scalers,
//! one-hot encoders, whole scikit-learn pipelines) run through tract.
//!
//! - **Inputs.** One table input (`[N, F]`, float or double), or one input per column (`[N, 1]`,
//!   float, double or int64: scikit-learn pipelines over a DataFrame). Their width and names are
//!   the model's features.
//! - **The output.** The graph's one float tensor output: a classifier's probabilities or a
//!   regressor's values; label outputs are dropped, with the nodes only they need. A ZipMap (a
//!   list of dictionaries, which no table can hold) is taken off and the probability tensor
//!   before it is read. A binary classifier's two probability columns become one output, the
//!   positive class's probability, as for tree ensembles.
//! - **Running.** The graph is optimised once for a symbolic batch size; each call runs one
//!   batch of rows on the calling thread (callers spread blocks over cores). The graph runs once on
//!   a row of zeros at import, so that a graph tract cannot run is refused when it is added, not
//!   when a job first needs it.

use std::sync::Arc;

use prost::Message;
use sextant_model::{BatchPredict, Feature, FeatureKind, Graph, Model, ModelInfo, Rows};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::proto::{ModelProto, elem};
use crate::ImportError;

/// How one graph input is fed from a row.
#[derive(Clone, Copy, Debug)]
struct InputSpec {
    /// The element type the graph expects.
    datum: DatumType,
    /// The row's first column for this input.
    first: usize,
    /// Its columns.
    width: usize,
}

/// A graph ready to run.
struct Runner {
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<InputSpec>,
    /// Output columns per row in the graph's output.
    columns: usize,
    /// The columns kept (all, or the positive class's for a binary classifier).
    keep: Vec<usize>,
}

impl BatchPredict for Runner {
    fn predict(&self, rows: Rows<'_>, out: &mut [f64]) -> Result<(), String> {
        let n = rows.n_rows();
        if n == 0 {
            return Ok(());
        }
        let mut inputs = TVec::with_capacity(self.inputs.len());
        for spec in &self.inputs {
            let column = |r: usize| &rows.row(r)[spec.first..spec.first + spec.width];
            let shape = [n, spec.width];
            let tensor = match spec.datum {
                DatumType::F64 => Tensor::from_shape(&shape, &(0..n).flat_map(|r| column(r).to_vec()).collect::<Vec<f64>>()),
                DatumType::I64 => {
                    let mut codes = Vec::with_capacity(n * spec.width);
                    for r in 0..n {
                        for &v in column(r) {
                            if !(v.is_finite() && v.fract() == 0.0) {
                                return Err(format!("row {r}: {v} is not an integer, and the graph reads integer codes"));
                            }
                            codes.push(v as i64);
                        }
                    }
                    Tensor::from_shape(&shape, &codes)
                }
                _ => Tensor::from_shape(
                    &shape,
                    &(0..n).flat_map(|r| column(r).iter().map(|&v| v as f32)).collect::<Vec<f32>>(),
                ),
            }
            .map_err(|e| e.to_string())?;
            inputs.push(tensor.into_tvalue());
        }
        let outputs = self.plan.run(inputs).map_err(|e| format!("{e:#}"))?;
        let output = outputs[0].cast_to::<f64>().map_err(|e| e.to_string())?;
        let view = output
            .to_plain_array_view::<f64>()
            .map_err(|e| e.to_string())?;
        if view.len() != n * self.columns {
            return Err(format!(
                "the graph gave {} values for {n} rows of {} columns",
                view.len(),
                self.columns
            ));
        }
        let values: Vec<f64> = view.iter().copied().collect();
        for (r, row) in out.chunks_mut(self.keep.len()).enumerate() {
            for (o, &c) in row.iter_mut().zip(&self.keep) {
                *o = values[r * self.columns + c];
            }
        }
        Ok(())
    }
}

fn tract_error(what: &str, e: impl std::fmt::Display) -> ImportError {
    ImportError::Unsupported(format!("{what}: {e}"))
}

/// Parses a graph that holds no tree ensemble.
pub fn parse_graph(bytes: &[u8], model: &ModelProto) -> Result<Model, ImportError> {
    let mut proto = pb::ModelProto::decode(bytes)
        .map_err(|e| ImportError::Onnx(format!("not a valid ONNX file: {e}")))?;
    let graph = proto
        .graph
        .as_mut()
        .ok_or_else(|| ImportError::Onnx("the file holds no graph".into()))?;
    let initializers: Vec<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let data_inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(&i.name))
        .collect();
    if data_inputs.is_empty() {
        return Err(ImportError::Unsupported("the graph has no input".into()));
    }
    let ours = model.graph.as_ref().expect("checked by the caller");
    let mut specs = Vec::new();
    let mut first = 0;
    for input in &data_inputs {
        let info = ours
            .input
            .iter()
            .find(|i| i.name == input.name)
            .expect("same file");
        let (elem_type, width) = super::input_shape(info)?;
        let datum = match elem_type {
            elem::FLOAT => DatumType::F32,
            elem::DOUBLE => DatumType::F64,
            elem::INT64 => DatumType::I64,
            other => {
                return Err(ImportError::Unsupported(format!(
                    "input {:?} holds {}; Sextant feeds numbers (float, double or int64)",
                    input.name,
                    elem::name(other)
                )));
            }
        };
        let width = width.ok_or_else(|| {
            ImportError::Unsupported(format!(
                "input {:?} has no fixed number of columns",
                input.name
            ))
        })?;
        if data_inputs.len() > 1 && width != 1 {
            return Err(ImportError::Unsupported(format!(
                "input {:?} has {width} columns; a graph with several inputs must take one column per input",
                input.name
            )));
        }
        specs.push(InputSpec {
            datum,
            first,
            width,
        });
        first += width;
    }
    let names = if data_inputs.len() == 1 {
        super::feature_names(model, first)?
    } else {
        data_inputs.iter().map(|i| i.name.clone()).collect()
    };
    let features: Vec<Feature> = names
        .into_iter()
        .map(|name| Feature {
            name,
            kind: FeatureKind::Numeric,
        })
        .collect();

    let (output, classifier) = choose_output(graph, ours)?;
    keep_only(graph, &output);
    super::lowering::lower(graph)?;
    check_wiring(graph, &output)?;
    let cost_per_row: f64 = proto_weights(&proto);
    // tract is a large parser of untrusted input: a panic inside it is a refused file, not a
    // crashed service.
    let runner = guarded(|| build_runner(&proto, specs, &output, classifier))?;
    let n_outputs = runner.keep.len();
    let info = ModelInfo {
        format: "onnx",
        library_version: format!("{} {}", model.producer_name, model.producer_version)
            .trim()
            .to_string(),
        objective: format!("graph of {} operators, output {output:?}", ours.node.len()),
    };
    Ok(Model::Graph(Graph::new(
        features,
        n_outputs,
        info,
        cost_per_row,
        Arc::new(runner),
    )))
}

/// Has tract read, optimise and probe the graph.
fn build_runner(
    proto: &pb::ModelProto,
    specs: Vec<InputSpec>,
    output: &str,
    classifier: bool,
) -> Result<Runner, ImportError> {
    let onnx = tract_onnx::onnx()
        .with_ignore_output_shapes(true)
        .with_ignore_output_types(true);
    let mut inference = onnx
        .model_for_proto_model(proto)
        .map_err(|e| tract_error("tract cannot read the graph", format!("{e:#}")))?;
    let batch = inference.sym("N");
    for (i, spec) in specs.iter().enumerate() {
        inference
            .set_input_fact(
                i,
                InferenceFact::dt_shape(spec.datum, [batch.to_dim(), spec.width.to_dim()]),
            )
            .map_err(|e| tract_error("tract cannot type the graph's input", format!("{e:#}")))?;
    }
    let typed = inference
        .into_optimized()
        .map_err(|e| tract_error("tract cannot run the graph", format!("{e:#}")))?;
    let plan = typed
        .into_runnable()
        .map_err(|e| tract_error("tract cannot run the graph", format!("{e:#}")))?;
    let mut runner = Runner {
        plan,
        inputs: specs,
        columns: 0,
        keep: Vec::new(),
    };
    // One row of zeros: the output's width, and proof that the graph runs.
    let probe = runner
        .plan
        .run(
            runner
                .inputs
                .iter()
                .map(zeros)
                .collect::<TractResult<TVec<_>>>()
                .map_err(|e| tract_error("tract", e))?,
        )
        .map_err(|e| tract_error("the graph fails on a row of zeros", format!("{e:#}")))?;
    let shape = probe[0].shape().to_vec();
    runner.columns = match shape.as_slice() {
        [1] => 1,
        [1, c] => *c,
        other => {
            return Err(ImportError::Unsupported(format!(
                "output {output:?} has shape {other:?} for one row; Sextant reads one row of values per row"
            )));
        }
    };
    runner.keep = if classifier && runner.columns == 2 {
        vec![1]
    } else {
        (0..runner.columns).collect()
    };
    Ok(runner)
}

/// Runs `f`, turning a panic into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, ImportError>) -> Result<T, ImportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(ImportError::Onnx(format!(
            "the graph is malformed: tract failed reading it ({message})"
        )))
    })
}

/// Every value a node reads must come from an input, a constant or an earlier node, and the
/// output from one of them: tract assumes so (and makes an unknown name an extra input).
fn check_wiring(graph: &pb::GraphProto, output: &str) -> Result<(), ImportError> {
    let mut defined: std::collections::HashSet<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .collect();
    for node in &graph.node {
        if let Some(missing) = node
            .input
            .iter()
            .find(|i| !i.is_empty() && !defined.contains(i.as_str()))
        {
            return Err(ImportError::Onnx(format!(
                "node {} {:?} reads {missing:?}, which no input, constant or earlier node provides",
                node.op_type, node.name
            )));
        }
        defined.extend(node.output.iter().map(String::as_str));
    }
    if !defined.contains(output) {
        return Err(ImportError::Onnx(format!(
            "the output {output:?} is computed by no node"
        )));
    }
    Ok(())
}

fn zeros(spec: &InputSpec) -> TractResult<TValue> {
    Ok(Tensor::zero_dt(spec.datum, &[1, spec.width])?.into_tvalue())
}

/// The output Sextant reads: the one float tensor, after taking off any ZipMap. Returns its name
/// and whether the graph is a classifier (it also outputs a label).
fn choose_output(
    graph: &mut pb::GraphProto,
    ours: &super::proto::GraphProto,
) -> Result<(String, bool), ImportError> {
    // A ZipMap's output is read as the tensor it maps.
    let zipmaps: Vec<(String, String)> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "ZipMap")
        .filter_map(|n| Some((n.output.first()?.clone(), n.input.first()?.clone())))
        .collect();
    let mut floats = Vec::new();
    let mut labels = false;
    for output in &ours.output {
        if let Some((_, before)) = zipmaps.iter().find(|(after, _)| after == &output.name) {
            floats.push(before.clone());
            continue;
        }
        match output
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .map(|t| t.elem_type)
        {
            Some(elem::FLOAT | elem::DOUBLE) => floats.push(output.name.clone()),
            Some(_) => labels = true,
            None => {
                return Err(ImportError::Unsupported(format!(
                    "output {:?} is not a tensor; export classifiers with zipmap=False (skl2onnx: options={{id(model): {{'zipmap': False}}}})",
                    output.name
                )));
            }
        }
    }
    match floats.as_slice() {
        [one] => Ok((one.clone(), labels)),
        [] => Err(ImportError::Unsupported(
            "the graph has no float output to read scores from".into(),
        )),
        many => Err(ImportError::Unsupported(format!(
            "the graph has {} float outputs ({}); Sextant reads a model with one",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// Makes `output` the graph's only output and drops the nodes it does not need.
fn keep_only(graph: &mut pb::GraphProto, output: &str) {
    graph.output = vec![pb::ValueInfoProto {
        name: output.to_string(),
        ..Default::default()
    }];
    let mut needed = vec![output.to_string()];
    let mut keep = vec![false; graph.node.len()];
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(node.input.iter().cloned());
        }
    }
    let mut i = 0;
    graph.node.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Weights in the graph: about the multiply-adds one row costs.
fn proto_weights(proto: &pb::ModelProto) -> f64 {
    let Some(graph) = &proto.graph else {
        return 1.0;
    };
    graph
        .initializer
        .iter()
        .map(|t| t.dims.iter().product::<i64>().max(1) as f64)
        .sum::<f64>()
        .max(1.0)
}
