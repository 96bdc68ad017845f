//! Error influences: the Shapley values of a row's loss against its label. Exact mode equals the
//! loss game enumerated over every permutation; sampled values stay within their error bars of
//! the exact ones; and each row's values add up to its loss minus its base value, the mean loss
//! of the background's predictions against the row's label.

use sextant_algo::{
    LabelLoss, ModelPredictor, Predictor, Sampled, SampledOptions, predict_margins,
};
use sextant_model::{Forest, Rows};

mod common;
use common::{csv, forest, permutations};

/// A row's loss from the model's margins and the row's label.
type Loss = fn(&[f64], f64) -> f64;

/// Squared error of a regression's margin.
fn squared(margins: &[f64], label: f64) -> f64 {
    (margins[0] - label).powi(2)
}

/// Log loss of a classifier's class probabilities.
fn log_loss(margins: &[f64], label: f64) -> f64 {
    -margins[label as usize].clamp(1e-15, 1.0 - 1e-15).ln()
}

/// The loss game's Shapley values by their permutation definition: per feature, the mean over
/// all M! orders of the change of `E_z loss(f(x_S, z), y)` as the feature joins; and the game's
/// value for the empty set.
fn brute_force(
    forest: &Forest,
    x: &[f64],
    y: f64,
    background: Rows<'_>,
    loss: Loss,
) -> (Vec<f64>, f64) {
    let (m, k) = (forest.n_features(), forest.n_outputs());
    let value = |set: u32| -> f64 {
        let mut hybrids = Vec::new();
        for z in 0..background.n_rows() {
            let zr = background.row(z);
            hybrids.extend((0..m).map(|j| if set >> j & 1 == 1 { x[j] } else { zr[j] }));
        }
        let mut out = vec![0.0; background.n_rows() * k];
        predict_margins(forest, Rows::new(&hybrids, m), &mut out);
        out.chunks(k).map(|o| loss(o, y)).sum::<f64>() / background.n_rows() as f64
    };
    let values: Vec<f64> = (0..1u32 << m).map(value).collect();
    let mut phi = vec![0.0; m];
    let mut orders = 0.0;
    let mut order: Vec<usize> = (0..m).collect();
    permutations(&mut order, 0, &mut |order| {
        orders += 1.0;
        let mut set = 0u32;
        for &j in order {
            phi[j] += values[(set | 1 << j) as usize] - values[set as usize];
            set |= 1 << j;
        }
    });
    phi.iter_mut().for_each(|v| *v /= orders);
    (phi, values[0])
}

/// The error influences of `n` rows (exact when `exact`, else sampled with `max_evals`).
fn explain(
    forest: &Forest,
    labels: &[f64],
    loss: Loss,
    exact: bool,
    max_evals: u64,
) -> (Vec<f64>, Vec<f64>) {
    let m = forest.n_features();
    let n = labels.len();
    let background = csv("background.csv");
    let rows = csv("rows.csv");
    let predictor = ModelPredictor::Trees(Predictor::new(forest));
    let options = SampledOptions {
        target_stderr: 0.0,
        max_evals,
        seed: 7,
        exact_max_features: if exact { 12 } else { 0 },
    };
    let sampled = Sampled::new(&predictor, Rows::new(&background, m), options).unwrap();
    assert_eq!(sampled.is_exact(), exact);
    let (mut phi, mut stderr) = (vec![0.0; n * (m + 1)], vec![0.0; n * m]);
    let payoff = LabelLoss { labels, loss };
    sampled
        .explain_payoff(
            Rows::new(&rows[..n * m], m),
            0,
            &payoff,
            &mut phi,
            &mut stderr,
        )
        .unwrap();
    (phi, stderr)
}

/// Checks that each row's values add up to its loss minus its base value, and that the base
/// value is the background's mean loss against the row's label.
fn adds_up(forest: &Forest, labels: &[f64], loss: Loss, phi: &[f64]) {
    let (m, k, n) = (forest.n_features(), forest.n_outputs(), labels.len());
    let rows = csv("rows.csv");
    let background = csv("background.csv");
    let nb = background.len() / m;
    let mut margins = vec![0.0; n * k];
    predict_margins(forest, Rows::new(&rows[..n * m], m), &mut margins);
    let mut background_margins = vec![0.0; nb * k];
    predict_margins(forest, Rows::new(&background, m), &mut background_margins);
    for r in 0..n {
        let block = &phi[r * (m + 1)..(r + 1) * (m + 1)];
        let row_loss = loss(&margins[r * k..(r + 1) * k], labels[r]);
        let base = background_margins
            .chunks(k)
            .map(|z| loss(z, labels[r]))
            .sum::<f64>()
            / nb as f64;
        assert!(
            (block[m] - base).abs() < 1e-12,
            "row {r}: base {} vs {base}",
            block[m]
        );
        let total: f64 = block[..m].iter().sum();
        assert!(
            (total - (row_loss - base)).abs() < 1e-9,
            "row {r}: influences sum to {total}, loss − base is {}",
            row_loss - base
        );
    }
}

#[test]
fn exact_error_influences_equal_the_loss_game_enumerated() {
    let regression = forest("rf_regression.onnx");
    let classes = forest("rf_multiclass.onnx");
    let m = regression.n_features();
    let rows = csv("rows.csv");
    let background = csv("background.csv");
    let background = Rows::new(&background, m);
    let cases: [(&Forest, Vec<f64>, Loss); 2] = [
        (&regression, vec![0.5, -1.0, 2.0, 0.0, 10.0], squared),
        (&classes, vec![0.0, 1.0, 2.0, 2.0, 1.0], log_loss),
    ];
    for (forest, labels, loss) in cases {
        let (phi, stderr) = explain(forest, &labels, loss, true, u64::MAX);
        assert!(
            stderr.iter().all(|&s| s == 0.0),
            "exact values have no error"
        );
        for (r, &y) in labels.iter().enumerate() {
            let (truth, base) = brute_force(forest, &rows[r * m..(r + 1) * m], y, background, loss);
            for j in 0..m {
                let ours = phi[r * (m + 1) + j];
                assert!(
                    (ours - truth[j]).abs() < 1e-9,
                    "row {r} feature {j}: {ours} vs {}",
                    truth[j]
                );
            }
            assert!((phi[r * (m + 1) + m] - base).abs() < 1e-12);
        }
        adds_up(forest, &labels, loss, &phi);
    }
}

#[test]
fn sampled_error_influences_add_up_and_stay_within_their_error_bars() {
    let forest = forest("rf_multiclass.onnx");
    let m = forest.n_features();
    let labels: Vec<f64> = (0..30).map(|r| (r % 3) as f64).collect();
    let (truth, _) = explain(&forest, &labels, log_loss, true, u64::MAX);
    let (phi, stderr) = explain(&forest, &labels, log_loss, false, 1_800);
    adds_up(&forest, &labels, log_loss, &phi);
    let (mut inside, mut total) = (0, 0);
    for r in 0..labels.len() {
        for j in 0..m {
            let error = (phi[r * (m + 1) + j] - truth[r * (m + 1) + j]).abs();
            total += 1;
            if error <= 4.0 * stderr[r * m + j] + 1e-12 {
                inside += 1;
            }
        }
    }
    assert!(
        inside as f64 >= 0.99 * total as f64,
        "{inside} of {total} values within 4 standard errors"
    );
    assert!(
        stderr.iter().any(|&s| s > 0.0),
        "sampled values have errors"
    );
}
