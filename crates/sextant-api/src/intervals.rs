//! Confidence intervals of a mean: exact (Clopper–Pearson) for a proportion, a seeded
//! percentile bootstrap for any other mean.

use crate::special::ln_gamma;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The Clopper–Pearson interval of a proportion of `successes` in `trials` at `confidence`:
/// the `p` where a binomial tail beyond the count seen has probability (1 − confidence) / 2,
/// from the quantiles of the beta distribution.
pub fn clopper_pearson(successes: u64, trials: u64, confidence: f64) -> (f64, f64) {
    assert!(successes <= trials && trials > 0, "a proportion of trials");
    let alpha = 1.0 - confidence;
    let (k, n) = (successes as f64, trials as f64);
    let low = if successes == 0 {
        0.0
    } else {
        beta_quantile(alpha / 2.0, k, n - k + 1.0)
    };
    let high = if successes == trials {
        1.0
    } else {
        beta_quantile(1.0 - alpha / 2.0, k + 1.0, n - k)
    };
    (low, high)
}

/// The percentile bootstrap interval of the mean of `values`: `resamples` resamples of their
/// own size, drawn with a generator seeded by `seed`.
pub fn bootstrap_mean(values: &[f64], confidence: f64, resamples: u32, seed: u64) -> (f64, f64) {
    assert!(!values.is_empty(), "a mean of something");
    let mut rng = StdRng::seed_from_u64(seed);
    let n = values.len();
    let means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    percentiles(means, confidence).expect("at least one resample")
}

/// The `confidence` percentile interval of the defined values.
pub(crate) fn percentiles(mut values: Vec<f64>, confidence: f64) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    let at = |q: f64| {
        // Linear interpolation between order statistics (numpy's default).
        let h = q * (values.len() - 1) as f64;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        let (a, b) = (values[lo], values[hi]);
        if lo == hi || a == b {
            a
        } else {
            a + (h - lo as f64) * (b - a)
        }
    };
    Some((at(tail), at(1.0 - tail)))
}

/// The `q` quantile of Beta(a, b), by bisection of its distribution function (which is
/// increasing): 100 halvings bring the interval below the spacing of doubles.
fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if regularized_beta(mid, a, b) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The regularized incomplete beta function I_x(a, b), from its continued fraction (evaluated
/// by the modified Lentz method), on the side of `x` where the fraction converges fast.
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let log_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        log_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - log_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function.
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut fraction = d;
    for m in 1..=10_000 {
        let m = f64::from(m);
        // The even step, then the odd one.
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        fraction *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P(X = i) for X ~ Binomial(n, p), i = 0 … n, each from the one before in log space.
    fn binomial_pmf(n: u64, p: f64) -> Vec<f64> {
        let mut log = n as f64 * (1.0 - p).ln();
        let mut pmf = vec![log.exp()];
        for i in 1..=n {
            log += ((n - i + 1) as f64 / i as f64).ln() + (p / (1.0 - p)).ln();
            pmf.push(log.exp());
        }
        pmf
    }

    #[test]
    fn the_ends_leave_half_the_level_in_each_binomial_tail() {
        for (k, n, confidence) in [
            (5, 20, 0.95),
            (1, 7, 0.9),
            (37, 120, 0.99),
            (199, 200, 0.95),
        ] {
            let (low, high) = clopper_pearson(k, n, confidence);
            let tail = (1.0 - confidence) / 2.0;
            // P(X ≥ k | low) and P(X ≤ k | high) are each the tail.
            let above: f64 = binomial_pmf(n, low)[k as usize..].iter().sum();
            let below: f64 = binomial_pmf(n, high)[..=k as usize].iter().sum();
            assert!((above - tail).abs() < 1e-9, "{k}/{n}: {above}");
            assert!((below - tail).abs() < 1e-9, "{k}/{n}: {below}");
            let p = k as f64 / n as f64;
            assert!(low < p && p < high);
        }
    }

    #[test]
    fn no_success_or_every_one_ends_the_interval_at_zero_or_one() {
        let (low, high) = clopper_pearson(0, 10, 0.95);
        assert_eq!(low, 0.0);
        // (α/2)^(1/n) below 1: the classic closed form.
        assert!((high - (1.0 - 0.025_f64.powf(0.1))).abs() < 1e-12);
        let (low, high) = clopper_pearson(10, 10, 0.95);
        assert!((low - 0.025_f64.powf(0.1)).abs() < 1e-12);
        assert_eq!(high, 1.0);
    }

    #[test]
    fn gamma_is_the_factorial() {
        let mut factorial = 1.0_f64;
        for n in 1..30 {
            assert!((ln_gamma(n as f64) - factorial.ln()).abs() < 1e-12 * factorial.ln().max(1.0));
            factorial *= n as f64;
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn a_bootstrap_follows_its_seed_and_holds_the_mean() {
        let values: Vec<f64> = (0..500).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let (low, high) = bootstrap_mean(&values, 0.95, 1000, 7);
        assert_eq!((low, high), bootstrap_mean(&values, 0.95, 1000, 7));
        assert!(low < mean && mean < high);
        // Close to the normal approximation's half-width, 1.96 σ / √n.
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / (values.len() - 1) as f64)
            .sqrt();
        let normal = 1.96 * sd / (values.len() as f64).sqrt();
        assert!((((high - low) / 2.0) / normal - 1.0).abs() < 0.1);
        let (wide_low, wide_high) = bootstrap_mean(&values, 0.99, 1000, 7);
        assert!(wide_low < low && high < wide_high);
    }
}
