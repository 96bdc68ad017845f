//! Sextant's algorithms over a [`sextant_model::Forest`]: batch prediction, exact path-dependent
//! TreeSHAP, exact interventional TreeSHAP, the additivity check every explanation passes, and prediction quality metrics.
//!
//! Every function reads borrowed inputs and writes into a caller-provided buffer; work is split
//! over rows with rayon, and scratch space is allocated once per chunk of rows, never per row.
//!
//! Explanations use one layout: for row `r`, output `k` and feature `j`, the influence is at
//! `out[(r * n_outputs + k) * (n_features + 1) + j]`, and the base value at `j = n_features`.

mod additivity;
mod columns;
pub mod drift;
mod interventional;
mod leaf_paths;
mod model_predictor;
mod path_dependent;
mod payoff;
mod predict;
mod sampled;

pub use additivity::{ADDITIVITY_TOLERANCE, Additivity, check_additivity};
pub use columns::{
    Explainer, explanation_columns, prediction_columns, push_explanations, push_predictions,
    push_sampled_explanations, stderr_columns,
};
pub use interventional::Interventional;
pub use model_predictor::{GRAPH_BLOCK_ROWS, ModelPredictor, predict_graph};
pub use path_dependent::{DEFAULT_TABLE_DEPTH, PathDependent, Strategy};
pub use payoff::{LabelLoss, Margins, Payoff};
pub use predict::{Predictor, predict_margins, predict_responses};
pub use sampled::{
    DEFAULT_EXACT_MAX_FEATURES, DEFAULT_MAX_EVALS, MIN_PAIRS, MarginModel, Sampled, SampledOptions,
    SampledStats,
};

/// Length of the explanation buffer for `n_rows` rows of a forest.
pub fn explanation_len(forest: &sextant_model::Forest, n_rows: usize) -> usize {
    n_rows * forest.n_outputs() * (forest.n_features() + 1)
}

/// Checks an explanation call's buffers against the forest; returns the values per row.
pub(crate) fn explanation_row_width(
    forest: &sextant_model::Forest,
    rows: sextant_model::Rows<'_>,
    out: &[f64],
) -> usize {
    let per_row = forest.n_outputs() * (forest.n_features() + 1);
    assert_eq!(
        out.len(),
        rows.n_rows() * per_row,
        "output buffer has the wrong length"
    );
    assert_eq!(
        rows.n_features(),
        forest.n_features(),
        "rows do not have the model's features"
    );
    per_row
}

/// Probability that a path-dependent walk that does not know a node's feature goes to `child`:
/// the share of the node's cover that went there. A node with no cover splits evenly, so that
/// the weights still sum to one.
#[inline]
pub(crate) fn cover_ratio(child_cover: f64, node_cover: f64) -> f64 {
    if node_cover > 0.0 {
        child_cover / node_cover
    } else {
        0.5
    }
}
