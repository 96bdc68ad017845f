//! One explained row's draws: its generator, the sums its antithetic pairs add to (overall, and
//! per tracked background row), and the estimates made from them: each value with the
//! control variate `f(z)`, its stratified standard error, and the sharing out that makes the
//! values add up exactly.

/// Pair-mean draws of one row: per output and feature, their sum, sum of squares and sum of
/// products with the pair's `f(z)`; per output, the sums of `f(z)` and of its square.
pub(super) struct Draws {
    pub(super) sum: Vec<f64>,
    pub(super) sum_sq: Vec<f64>,
    /// Σ draw · f(z) of the draw's output.
    pub(super) cross: Vec<f64>,
    /// Sum of `f(z)` over the pairs' background rows, per output.
    pub(super) background_sum: Vec<f64>,
    /// Sum of `f(z)²`, per output.
    pub(super) background_sq: Vec<f64>,
    pub(super) pairs: usize,
    pub(super) rng: SplitMix,
    /// The background row visited first; rows are visited in turn from it.
    pub(super) first_background: usize,
    pub(super) next_background: usize,
    /// Per tracked background row (in visiting order) and value: the sum of its draws and of
    /// their squares; and per tracked row, its draw count.
    pub(super) stratum_sum: Vec<f64>,
    pub(super) stratum_sq: Vec<f64>,
    pub(super) stratum_pairs: Vec<usize>,
    pub(super) done: bool,
}

impl Draws {
    /// No draws yet for row `row` (its position in the dataset) of `values` values (features ×
    /// payoff width) over `width` payoffs, against `nb` background rows of which the first
    /// `tracked` visited are summed apart; the generator is seeded by `seed` and the row.
    pub(super) fn new(
        seed: u64,
        row: u64,
        values: usize,
        width: usize,
        nb: usize,
        tracked: usize,
    ) -> Draws {
        let mut rng = SplitMix::new(seed, row);
        let first_background = (rng.next() % nb as u64) as usize;
        Draws {
            sum: vec![0.0; values],
            sum_sq: vec![0.0; values],
            cross: vec![0.0; values],
            background_sum: vec![0.0; width],
            background_sq: vec![0.0; width],
            pairs: 0,
            rng,
            first_background,
            next_background: first_background,
            stratum_sum: vec![0.0; tracked * values],
            stratum_sq: vec![0.0; tracked * values],
            stratum_pairs: vec![0; tracked],
            done: false,
        }
    }
}

/// The unbiased sample variance of `count` draws from their sum and sum of squares.
fn variance(sum: f64, sum_sq: f64, count: usize) -> f64 {
    if count < 2 {
        return 0.0;
    }
    let n = count as f64;
    ((sum_sq - sum * sum / n) / (n - 1.0)).max(0.0)
}

/// Value `i` (feature `i / k`, output `i % k`) with `f(z)` as a control variate of known mean
/// `base`: each draw adds up to `f(x) − f(z)`, so its error moves with `f(z)`'s distance from
/// `E f(Z)`, and the regression of the draws on `f(z)` takes that part out. Returns the value
/// and the residual variance of one draw (its error, were the draws independent). The regression
/// coefficients sum to −1 over the features, so the values still add up to `f(x) − E f(Z)`.
fn adjusted(d: &Draws, i: usize, k: usize, base: f64) -> (f64, f64) {
    let o = i % k;
    let n = d.pairs as f64;
    let mean = d.sum[i] / n;
    let var_draw = variance(d.sum[i], d.sum_sq[i], d.pairs);
    let var_z = variance(d.background_sum[o], d.background_sq[o], d.pairs);
    if d.pairs < 3 || var_z <= f64::EPSILON * var_draw.max(f64::MIN_POSITIVE) {
        return (mean, var_draw);
    }
    let cov = (d.cross[i] - d.sum[i] * d.background_sum[o] / n) / (n - 1.0);
    let beta = cov / var_z;
    let value = mean - beta * (d.background_sum[o] / n - base);
    // One coefficient estimated from the draws: n − 2 degrees of freedom, not n − 1.
    let residual = ((var_draw - cov * cov / var_z) * (n - 1.0) / (n - 2.0)).max(0.0);
    (value, residual)
}

/// Value `i` and its variance (the square of its standard error) from a row's draws over a
/// background of `nb` rows. The draws are a stratified sample: with `P = q·nb + r` pairs, `r`
/// background rows were drawn `q + 1` times and the others `q` times. The variance is
/// `s_w²/P + r(nb − r)/(nb·P²)·s_b²`: `s_w²` the spread of draws within one background row
/// (pooled over the tracked rows drawn at least twice), `s_b²` what the control variate's
/// residual spread holds beyond it (the background rows' own spread, which only the incomplete
/// pass contributes). Too few repeated rows for `s_w²`: the draws are taken as independent.
pub(super) fn estimate(d: &Draws, i: usize, k: usize, base: f64, nb: usize) -> (f64, f64) {
    let (value, per_draw) = adjusted(d, i, k, base);
    let n = d.pairs as f64;
    let mk = d.sum.len();
    let (mut within, mut dof) = (0.0, 0);
    for (s, &count) in d.stratum_pairs.iter().enumerate() {
        if count >= 2 {
            let at = s * mk + i;
            within += variance(d.stratum_sum[at], d.stratum_sq[at], count) * (count - 1) as f64;
            dof += count - 1;
        }
    }
    if dof < super::MIN_WITHIN_DOF {
        return (value, per_draw / n);
    }
    let within = within / dof as f64;
    let between = (per_draw - within).max(0.0);
    let r = (d.pairs % nb) as f64;
    let nb = nb as f64;
    (value, within / n + r * (nb - r) / (nb * n * n) * between)
}

/// The largest standard error among a row's values.
pub(super) fn worst_stderr(d: &Draws, base: &[f64], nb: usize) -> f64 {
    let k = base.len();
    (0..d.sum.len())
        .map(|i| estimate(d, i, k, base[i % k], nb).1.sqrt())
        .fold(0.0, f64::max)
}

/// Adds `gap` to the values in proportion to their variances (evenly when all are zero), so
/// that their sum moves by exactly `gap`.
pub(super) fn share_out(values: &mut [f64], variances: &[f64], gap: f64) {
    let total: f64 = variances.iter().sum();
    for (v, var) in values.iter_mut().zip(variances) {
        let share = if total > 0.0 {
            var / total
        } else {
            1.0 / variances.len() as f64
        };
        *v += gap * share;
    }
}

/// SplitMix64: a small, fast generator whose streams, seeded by (seed, row), do not overlap in
/// practice.
pub(super) struct SplitMix(u64);

impl SplitMix {
    pub(super) fn new(seed: u64, row: u64) -> SplitMix {
        let mut g = SplitMix(seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        g.next();
        g
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniformly random permutation of `0..m` (Fisher–Yates, with Lemire's unbiased range).
    pub(super) fn permutation(&mut self, m: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..m).collect();
        for i in (1..m).rev() {
            let bound = (i + 1) as u64;
            let j = ((self.next() as u128 * bound as u128) >> 64) as usize;
            order.swap(i, j);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_permutations_and_reproducible() {
        let mut a = SplitMix::new(7, 3);
        let mut b = SplitMix::new(7, 3);
        for _ in 0..100 {
            let p = a.permutation(9);
            assert_eq!(p, b.permutation(9));
            let mut sorted = p.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..9).collect::<Vec<_>>());
        }
        assert_ne!(SplitMix::new(7, 3).next(), SplitMix::new(7, 4).next());
    }

    #[test]
    fn sharing_out_moves_the_sum_exactly() {
        let mut v = [1.0, 2.0, 3.0];
        share_out(&mut v, &[0.0, 1.0, 3.0], 0.4);
        assert_eq!(v, [1.0, 2.1, 3.3]);
        let mut v = [0.0, 0.0];
        share_out(&mut v, &[0.0, 0.0], 1.0);
        assert_eq!(v, [0.5, 0.5]);
    }
}
