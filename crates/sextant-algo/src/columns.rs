//! The result tables' column names, and every influence method behind one type (TreeSHAP in
//! either game, sampled Shapley): what every caller that writes influences or predictions shares
//! (the jobs, the numeric commands and the Python client's local mode), so their tables agree
//! column for column.

use sextant_model::{Model, Rows};

use crate::{Interventional, ModelPredictor, PathDependent, Sampled, SampledStats};

/// The suffix of output `k`'s columns: `__class<k>` for multi-output models, none otherwise.
fn output_suffix(model: &Model, k: usize) -> String {
    if model.n_outputs() > 1 {
        format!("__class{k}")
    } else {
        String::new()
    }
}

/// `margin` and `prediction`, with a `__class<k>` suffix for multi-output models.
pub fn prediction_columns(model: &Model) -> Vec<String> {
    let mut columns: Vec<String> = (0..model.n_outputs())
        .map(|k| format!("margin{}", output_suffix(model, k)))
        .collect();
    columns
        .extend((0..model.n_outputs()).map(|k| format!("prediction{}", output_suffix(model, k))));
    columns
}

/// One column per feature, then `base_value` and `margin`; for multi-output models one such
/// block per output with a `__class<k>` suffix.
pub fn explanation_columns(model: &Model) -> Vec<String> {
    let mut columns = Vec::new();
    for k in 0..model.n_outputs() {
        let suffix = output_suffix(model, k);
        columns.extend(
            model
                .features()
                .iter()
                .map(|f| format!("{}{suffix}", f.name)),
        );
        columns.push(format!("base_value{suffix}"));
        columns.push(format!("margin{suffix}"));
    }
    columns
}

/// One `<feature>__stderr` column per feature (`<feature>__class<k>__stderr` per output of a
/// multi-output model): the standard errors of sampled influences, after the influence blocks.
pub fn stderr_columns(model: &Model) -> Vec<String> {
    let mut columns = Vec::new();
    for k in 0..model.n_outputs() {
        let suffix = output_suffix(model, k);
        columns.extend(
            model
                .features()
                .iter()
                .map(|f| format!("{}{suffix}__stderr", f.name)),
        );
    }
    columns
}

/// An influence method ready to run.
pub enum Explainer<'a> {
    /// TreeSHAP: absent features follow the training cover.
    PathDependent(PathDependent<'a>),
    /// TreeSHAP: absent features take the background rows' values.
    Interventional(Interventional<'a>),
    /// Sampled Shapley values of the interventional game, for any model, with standard errors.
    Sampled(Sampled<'a, ModelPredictor<'a>>),
}

impl Explainer<'_> {
    /// Whether the method's values carry standard errors (the table has `stderr_columns`).
    pub fn has_stderr(&self) -> bool {
        matches!(self, Explainer::Sampled(_))
    }

    /// Writes the influences of `rows` (the first being row `first_row` of its dataset, which
    /// seeds sampling) into `out` (`rows × outputs × (features + 1)`), and for sampling their
    /// standard errors into `stderr` (`rows × outputs × features`; untouched otherwise). The
    /// statistics are sampling's (empty for TreeSHAP); the error is the model's.
    pub fn explain(
        &self,
        rows: Rows<'_>,
        first_row: u64,
        out: &mut [f64],
        stderr: &mut [f64],
    ) -> Result<SampledStats, String> {
        match self {
            Explainer::PathDependent(e) => e.explain(rows, out),
            Explainer::Interventional(e) => e.explain(rows, out),
            Explainer::Sampled(e) => return e.explain(rows, first_row, out, stderr),
        }
        Ok(SampledStats::default())
    }
}

/// Appends one row's cells of the prediction table (`prediction_columns`): its margins (one per
/// output), then its responses. Returns where the responses start in `table`.
pub fn push_predictions(model: &Model, margins: &[f64], table: &mut Vec<f64>) -> usize {
    table.extend_from_slice(margins);
    let start = table.len();
    table.extend_from_slice(margins);
    model.link().apply(&mut table[start..]);
    start
}

/// Appends rows of influences (layout of `explanation_len`) with their margins (`rows ×
/// outputs`) as the influence table lays them out (`explanation_columns`): per row and output,
/// the influences, the base value, the margin.
pub fn push_explanations(phi: &[f64], margins: &[f64], n_features: usize, table: &mut Vec<f64>) {
    for (block, margin) in phi.chunks(n_features + 1).zip(margins) {
        table.extend_from_slice(block);
        table.push(*margin);
    }
}

/// As [`push_explanations`], each row followed by its standard errors (`rows × outputs ×
/// features`, as [`Explainer::explain`] writes them): the layout of `explanation_columns` then
/// `stderr_columns`.
pub fn push_sampled_explanations(
    phi: &[f64],
    margins: &[f64],
    stderr: &[f64],
    n_features: usize,
    n_outputs: usize,
    table: &mut Vec<f64>,
) {
    let n_out = n_outputs;
    let (per_row, per_row_se) = (n_out * (n_features + 1), n_out * n_features);
    for r in 0..margins.len() / n_out {
        push_explanations(
            &phi[r * per_row..(r + 1) * per_row],
            &margins[r * n_out..(r + 1) * n_out],
            n_features,
            table,
        );
        table.extend_from_slice(&stderr[r * per_row_se..(r + 1) * per_row_se]);
    }
}
