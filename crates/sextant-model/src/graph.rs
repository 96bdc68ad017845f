//! A model Sextant can only run: rows in, outputs out (an ONNX graph through tract, say). Its
//! influences come from sampling, which needs nothing but batch prediction.

use std::fmt;
use std::sync::Arc;

use crate::{Feature, ModelInfo, Rows};

/// Runs a model on a batch of rows.
pub trait BatchPredict: Send + Sync {
    /// Writes each row's outputs into `out` (`rows × n_outputs`, row-major); the error says why
    /// the runtime failed, for a person.
    fn predict(&self, rows: Rows<'_>, out: &mut [f64]) -> Result<(), String>;
}

/// A model known only by what it computes.
#[derive(Clone)]
pub struct Graph {
    features: Vec<Feature>,
    n_outputs: usize,
    info: ModelInfo,
    /// Multiply-adds (or comparable steps) per row, for cost estimates.
    cost_per_row: f64,
    runner: Arc<dyn BatchPredict>,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("features", &self.features.len())
            .field("n_outputs", &self.n_outputs)
            .field("info", &self.info)
            .finish()
    }
}

impl Graph {
    /// A model of `features` with `n_outputs` outputs per row, run by `runner`.
    pub fn new(
        features: Vec<Feature>,
        n_outputs: usize,
        info: ModelInfo,
        cost_per_row: f64,
        runner: Arc<dyn BatchPredict>,
    ) -> Graph {
        Graph {
            features,
            n_outputs,
            info,
            cost_per_row,
            runner,
        }
    }

    /// The input features, in the order rows must hold them.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// Renames the features in order; `names` has one per feature.
    pub fn rename_features(&mut self, names: &[String]) {
        crate::forest::rename(&mut self.features, names);
    }

    /// Outputs per row.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Where the model came from.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Steps per row (multiply-adds for a neural network), for cost estimates.
    pub fn cost_per_row(&self) -> f64 {
        self.cost_per_row
    }

    /// Runs the model on `rows`, writing `rows × n_outputs` values into `out`.
    pub fn predict(&self, rows: Rows<'_>, out: &mut [f64]) -> Result<(), String> {
        assert_eq!(
            out.len(),
            rows.n_rows() * self.n_outputs,
            "output buffer has the wrong length"
        );
        self.runner.predict(rows, out)
    }
}
