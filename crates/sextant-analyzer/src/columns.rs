//! The result tables' columns, the explainer of either game, and the additivity verdict: shared
//! by the jobs and the numeric commands (`sextant predict`, `sextant explain`).

use sextant_algo::{Additivity, Interventional, PathDependent};
use sextant_model::{Model, Rows};

use crate::AnalyzerError;

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

/// TreeSHAP in either game.
pub enum Explainer<'a> {
    /// Absent features follow the training cover.
    PathDependent(PathDependent<'a>),
    /// Absent features take the background rows' values.
    Interventional(Interventional<'a>),
}

impl Explainer<'_> {
    /// Writes the influences of `rows` into `out` (see `sextant_algo::explanation_len`).
    pub fn explain(&self, rows: Rows<'_>, out: &mut [f64]) {
        match self {
            Explainer::PathDependent(e) => e.explain(rows, out),
            Explainer::Interventional(e) => e.explain(rows, out),
        }
    }
}

/// Passes an explanation whose every row added up; else fails it, saying what became of it.
/// Nothing that failed the check is kept.
pub fn additivity_verdict(a: Additivity, consequence: &str) -> Result<(), AnalyzerError> {
    if a.passed() {
        return Ok(());
    }
    Err(AnalyzerError::Check(format!(
        "additivity check failed on {} of {} rows (worst error {:.2e}); {consequence}",
        a.failing, a.checked, a.worst_abs
    )))
}
