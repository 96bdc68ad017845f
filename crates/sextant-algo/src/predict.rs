//! Batch prediction.

use rayon::prelude::*;
use sextant_model::{Forest, Rows};

/// Writes each row's margins (one per output) into `out` (`n_rows × n_outputs`).
pub fn predict_margins(forest: &Forest, rows: Rows<'_>, out: &mut [f64]) {
    let n_out = forest.n_outputs();
    assert_eq!(
        out.len(),
        rows.n_rows() * n_out,
        "output buffer has the wrong length"
    );
    assert_eq!(
        rows.n_features(),
        forest.n_features(),
        "rows do not have the model's features"
    );
    out.par_chunks_mut(n_out * crate::ROWS_PER_TASK)
        .enumerate()
        .for_each(|(chunk, out)| {
            let first = chunk * crate::ROWS_PER_TASK;
            for (i, o) in out.chunks_mut(n_out).enumerate() {
                forest.predict_margin_row(rows.row(first + i), o);
            }
        });
}

/// Writes each row's responses (probabilities, values, …; one per output) into `out`.
pub fn predict_responses(forest: &Forest, rows: Rows<'_>, out: &mut [f64]) {
    predict_margins(forest, rows, out);
    let link = forest.link();
    out.par_chunks_mut(forest.n_outputs())
        .for_each(|o| link.apply(o));
}
