//! Sampled Shapley values against brute force: exact mode equals enumeration over permutations
//! (and interventional TreeSHAP) to 1e-9; sampling stays within its own error bars, which shrink
//! as one over the square root of the samples; every row adds up exactly; the values depend on
//! the seed and the row's position only.

use sextant_algo::{
    Interventional, ModelPredictor, Sampled, SampledOptions, explanation_len, predict_margins,
};
use sextant_model::{Forest, Rows};

mod common;
use common::{csv, forest, permutations};

fn options(exact_max_features: usize, max_evals: u64, target_stderr: f64) -> SampledOptions {
    SampledOptions {
        target_stderr,
        max_evals,
        seed: 42,
        exact_max_features,
    }
}

/// Shapley values by the permutation definition: the mean over all M! orders of each feature's
/// marginal contribution to the interventional game.
fn brute_force(forest: &Forest, x: &[f64], background: Rows<'_>) -> Vec<Vec<f64>> {
    let (m, k) = (forest.n_features(), forest.n_outputs());
    let value = |set: u32| -> Vec<f64> {
        let mut hybrids = Vec::new();
        for z in 0..background.n_rows() {
            let zr = background.row(z);
            hybrids.extend((0..m).map(|j| if set >> j & 1 == 1 { x[j] } else { zr[j] }));
        }
        let mut out = vec![0.0; background.n_rows() * k];
        predict_margins(forest, Rows::new(&hybrids, m), &mut out);
        (0..k)
            .map(|o| out.iter().skip(o).step_by(k).sum::<f64>() / background.n_rows() as f64)
            .collect()
    };
    let values: Vec<Vec<f64>> = (0..1u32 << m).map(value).collect();
    let mut phi = vec![vec![0.0; m]; k];
    let mut order: Vec<usize> = (0..m).collect();
    let mut count = 0.0;
    permutations(&mut order, 0, &mut |order| {
        count += 1.0;
        let mut set = 0u32;
        for &j in order {
            for o in 0..k {
                phi[o][j] += values[(set | 1 << j) as usize][o] - values[set as usize][o];
            }
            set |= 1 << j;
        }
    });
    phi.iter_mut().flatten().for_each(|v| *v /= count);
    phi
}

/// Checks that every row's values plus its base value give its margin.
fn adds_up(forest: &Forest, rows: Rows<'_>, phi: &[f64], tolerance: f64) {
    let (m, k) = (forest.n_features(), forest.n_outputs());
    let mut margins = vec![0.0; rows.n_rows() * k];
    predict_margins(forest, rows, &mut margins);
    for (block, margin) in phi.chunks(m + 1).zip(&margins) {
        let total: f64 = block.iter().sum();
        assert!(
            (total - margin).abs() <= tolerance,
            "sum {total} against margin {margin}"
        );
    }
}

#[test]
fn exact_mode_equals_brute_force_and_interventional_treeshap() {
    for name in ["rf_regression.onnx", "rf_multiclass.onnx"] {
        let forest = forest(name);
        let (m, k) = (forest.n_features(), forest.n_outputs());
        let background = csv("background.csv");
        let background = Rows::new(&background[..12 * m], m);
        let rows = csv("rows.csv");
        let rows = Rows::new(&rows[..5 * m], m);
        let predictor = ModelPredictor::Trees(sextant_algo::Predictor::new(&forest));
        let sampled = Sampled::new(&predictor, background, options(12, u64::MAX, 0.0)).unwrap();
        assert!(sampled.is_exact());
        let mut phi = vec![0.0; explanation_len(&forest, 5)];
        let mut stderr = vec![0.0; 5 * k * m];
        sampled.explain(rows, 0, &mut phi, &mut stderr).unwrap();
        assert!(
            stderr.iter().all(|&s| s == 0.0),
            "exact values have no error"
        );
        let mut treeshap = vec![0.0; explanation_len(&forest, 5)];
        Interventional::new(&forest, background).explain(rows, &mut treeshap);
        for r in 0..5 {
            let reference = brute_force(&forest, rows.row(r), background);
            for o in 0..k {
                for j in 0..=m {
                    let ours = phi[(r * k + o) * (m + 1) + j];
                    if j < m {
                        let truth = reference[o][j];
                        assert!(
                            (ours - truth).abs() < 1e-9,
                            "{name} row {r} output {o} feature {j}: {ours} vs {truth}"
                        );
                    }
                    let tree = treeshap[(r * k + o) * (m + 1) + j];
                    assert!(
                        (ours - tree).abs() < 1e-9,
                        "{name}: exact {ours} vs TreeSHAP {tree}"
                    );
                }
            }
        }
        adds_up(&forest, rows, &phi, 1e-9);
    }
}

/// Sampled values (exact mode off) of 30 rows against the exact ones, with `max_evals` each.
fn sample(forest: &Forest, max_evals: u64, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (m, k) = (forest.n_features(), forest.n_outputs());
    let background = csv("background.csv");
    let background = Rows::new(&background, m);
    let rows = csv("rows.csv");
    let rows = Rows::new(&rows[..30 * m], m);
    let predictor = ModelPredictor::Trees(sextant_algo::Predictor::new(forest));
    let exact = Sampled::new(&predictor, background, options(12, u64::MAX, 0.0)).unwrap();
    let mut truth = vec![0.0; explanation_len(forest, 30)];
    let mut zero = vec![0.0; 30 * k * m];
    exact.explain(rows, 0, &mut truth, &mut zero).unwrap();
    let sampler = Sampled::new(
        &predictor,
        background,
        SampledOptions {
            seed,
            ..options(0, max_evals, 0.0)
        },
    )
    .unwrap();
    assert!(!sampler.is_exact());
    let mut phi = vec![0.0; explanation_len(forest, 30)];
    let mut stderr = vec![0.0; 30 * k * m];
    let stats = sampler.explain(rows, 0, &mut phi, &mut stderr).unwrap();
    assert_eq!(stats.rows, 30);
    assert_eq!(stats.budget_stops, 30, "a target of zero is never reached");
    adds_up(forest, rows, &phi, 1e-9);
    (phi, stderr, truth)
}

#[test]
fn sampling_stays_within_its_error_bars_and_they_shrink_as_one_over_root_n() {
    let forest = forest("rf_multiclass.onnx");
    let (m, k) = (forest.n_features(), forest.n_outputs());
    // 180 pairs (10 model rows each): six whole passes over the 30 background rows.
    let (phi, stderr, truth) = sample(&forest, 1_800, 1);
    let (mut inside, mut total, mut squared_z) = (0, 0, 0.0);
    for r in 0..30 {
        for o in 0..k {
            for j in 0..m {
                let error =
                    (phi[(r * k + o) * (m + 1) + j] - truth[(r * k + o) * (m + 1) + j]).abs();
                let se = stderr[(r * k + o) * m + j];
                total += 1;
                squared_z += (error / se.max(f64::MIN_POSITIVE)).powi(2);
                if error <= 4.0 * se + 1e-12 {
                    inside += 1;
                }
            }
        }
    }
    assert!(
        inside as f64 >= 0.99 * total as f64,
        "{inside} of {total} values within 4 standard errors"
    );
    // The error bars are the error's size, not a bound far above it: errors in standard errors
    // have a root mean square near one (the background is visited in turn, a stratified
    // sample, and the standard errors are a stratified sample's).
    let rms = (squared_z / total as f64).sqrt();
    assert!(
        (0.6..1.6).contains(&rms),
        "errors are {rms} standard errors (root mean square), expected about 1"
    );
    // Four times the samples: half the standard error. (Both budgets are whole passes over the
    // background: an incomplete pass adds an error that falls faster, as 1/n.)
    let (_, stderr_4x, _) = sample(&forest, 7_200, 1);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&stderr) / mean(&stderr_4x);
    assert!(
        (1.7..2.3).contains(&ratio),
        "standard errors shrank by {ratio}, expected about 2"
    );
}

#[test]
fn values_depend_on_the_seed_and_row_position_only() {
    let forest = forest("rf_regression.onnx");
    let m = forest.n_features();
    let background = csv("background.csv");
    let background = Rows::new(&background, m);
    let rows = csv("rows.csv");
    let rows = Rows::new(&rows[..40 * m], m);
    let predictor = ModelPredictor::Trees(sextant_algo::Predictor::new(&forest));
    let sampler = Sampled::new(&predictor, background, options(0, 3_000, 0.0)).unwrap();
    let explain = |rows: Rows<'_>, first: u64| {
        let mut phi = vec![0.0; explanation_len(&forest, rows.n_rows())];
        let mut se = vec![0.0; rows.n_rows() * m];
        sampler.explain(rows, first, &mut phi, &mut se).unwrap();
        phi
    };
    let whole = explain(rows, 0);
    let mut parts = explain(rows.slice(0, 17), 0);
    parts.extend(explain(rows.slice(17, 40), 17));
    assert_eq!(whole, parts, "batching does not change the values");
    let other = Sampled::new(
        &predictor,
        background,
        SampledOptions {
            seed: 43,
            ..options(0, 3_000, 0.0)
        },
    )
    .unwrap();
    let mut phi = vec![0.0; explanation_len(&forest, 40)];
    let mut se = vec![0.0; 40 * m];
    other.explain(rows, 0, &mut phi, &mut se).unwrap();
    assert_ne!(whole, phi, "another seed draws other samples");
}

#[test]
fn a_target_stderr_stops_early() {
    let forest = forest("rf_regression.onnx");
    let m = forest.n_features();
    let background = csv("background.csv");
    let background = Rows::new(&background, m);
    let rows = csv("rows.csv");
    let rows = Rows::new(&rows[..10 * m], m);
    let predictor = ModelPredictor::Trees(sextant_algo::Predictor::new(&forest));
    let sampler = Sampled::new(&predictor, background, options(0, 10_000_000, 0.05)).unwrap();
    let mut phi = vec![0.0; explanation_len(&forest, 10)];
    let mut se = vec![0.0; 10 * m];
    let stats = sampler.explain(rows, 0, &mut phi, &mut se).unwrap();
    assert_eq!(stats.budget_stops, 0);
    assert!(
        se.iter().all(|&s| s <= 0.05),
        "every value within the target"
    );
    assert!(
        stats.evals < 10 * 10_000_000 / 10,
        "stopped long before the budget: {stats:?}"
    );
}
