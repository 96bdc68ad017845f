//! Batch prediction for a model of any kind: the algorithm each kind of [`Model`] predicts with.

use sextant_model::{Model, Rows};

use crate::Predictor;

/// A model laid out for batch prediction.
pub enum ModelPredictor<'m> {
    /// A tree ensemble, walked in its compact layout.
    Trees(Predictor<'m>),
}

impl<'m> ModelPredictor<'m> {
    /// Prepares `model` for prediction.
    pub fn new(model: &'m Model) -> ModelPredictor<'m> {
        match model {
            Model::Trees(forest) => ModelPredictor::Trees(Predictor::new(forest)),
        }
    }

    /// Writes each row's margins (one per output) into `out` (`n_rows × n_outputs`).
    pub fn predict_margins(&self, rows: Rows<'_>, out: &mut [f64]) {
        match self {
            ModelPredictor::Trees(p) => p.predict_margins(rows, out),
        }
    }
}
