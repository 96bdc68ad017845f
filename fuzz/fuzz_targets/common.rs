// Shared by both targets: whatever an importer accepts must also be safe to predict and explain.

use sextant_algo::{explanation_len, predict_margins, PathDependent};
use sextant_model::{Forest, Rows};

/// Keeps each input fast: large accepted models are only imported, not run.
const MAX_NODES: usize = 20_000;

pub fn exercise(forest: &Forest) {
    let nodes: usize = forest.trees().iter().map(|t| t.nodes().len()).sum();
    if nodes > MAX_NODES || forest.n_features() > 1000 {
        return;
    }
    let m = forest.n_features();
    let mut rows = vec![0.0; 3 * m];
    rows[m..2 * m].fill(f64::NAN);
    rows[2 * m..].iter_mut().enumerate().for_each(|(i, v)| *v = i as f64 - 1.5);
    let rows = Rows::new(&rows, m);
    let mut margins = vec![0.0; 3 * forest.n_outputs()];
    predict_margins(forest, rows, &mut margins);
    let mut phi = vec![0.0; explanation_len(forest, 3)];
    PathDependent::new(forest).explain(rows, &mut phi);
}
