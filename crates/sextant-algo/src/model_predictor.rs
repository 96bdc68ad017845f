//! Batch prediction for a model of any kind: the algorithm each kind of [`Model`] predicts with.

use rayon::prelude::*;
use sextant_model::{Graph, Model, Rows};

use crate::Predictor;

/// A model laid out for batch prediction.
pub enum ModelPredictor<'m> {
    /// A tree ensemble, walked in its compact layout.
    Trees(Predictor<'m>),
    /// A graph, run by its runtime.
    Graph(&'m Graph),
}

impl<'m> ModelPredictor<'m> {
    /// Prepares `model` for prediction.
    pub fn new(model: &'m Model) -> ModelPredictor<'m> {
        match model {
            Model::Trees(forest) => ModelPredictor::Trees(Predictor::new(forest)),
            Model::Graph(graph) => ModelPredictor::Graph(graph),
        }
    }

    /// Outputs per row.
    pub fn n_outputs(&self) -> usize {
        match self {
            ModelPredictor::Trees(p) => p.n_outputs(),
            ModelPredictor::Graph(g) => g.n_outputs(),
        }
    }

    /// Writes each row's margins (one per output) into `out` (`n_rows × n_outputs`); a graph's
    /// margins are its outputs. The error is the runtime's, for a person.
    pub fn predict_margins(&self, rows: Rows<'_>, out: &mut [f64]) -> Result<(), String> {
        match self {
            ModelPredictor::Trees(p) => {
                p.predict_margins(rows, out);
                Ok(())
            }
            ModelPredictor::Graph(g) => predict_graph(g, rows, out),
        }
    }
}

/// Rows a graph runs at a time on one core: large enough that the runtime's per-call cost
/// vanishes, small enough that every core gets blocks.
pub const GRAPH_BLOCK_ROWS: usize = 1024;

/// Runs a graph over `rows` in blocks spread across the cores.
pub fn predict_graph(graph: &Graph, rows: Rows<'_>, out: &mut [f64]) -> Result<(), String> {
    let n_out = graph.n_outputs();
    out.par_chunks_mut(GRAPH_BLOCK_ROWS * n_out)
        .enumerate()
        .try_for_each(|(b, block)| {
            let start = b * GRAPH_BLOCK_ROWS;
            graph.predict(rows.slice(start, start + block.len() / n_out), block)
        })
}
