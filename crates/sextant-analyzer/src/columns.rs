//! The result tables' columns, the explainer of either game (both from `sextant_algo`, where the
//! Python client's local mode finds them too), and the additivity verdict: shared by the jobs and
//! the numeric commands (`sextant predict`, `sextant explain`).

use sextant_algo::Additivity;
pub use sextant_algo::{Explainer, explanation_columns, prediction_columns};

use crate::AnalyzerError;

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
