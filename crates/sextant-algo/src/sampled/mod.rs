//! Shapley values of any model by sampling: the interventional game `v(S) = mean over background
//! rows z of f(x_S, z_not S)` (the game interventional TreeSHAP solves exactly for trees, and the
//! one QII plays), for a model known only by batch prediction.
//!
//! **Sampling.** One sample is a permutation of the features and one background row `z`: walking
//! the permutation from `z` to `x`, setting one feature at a time to `x`'s value, each feature is
//! credited with the change of the model's output at its step. Every sample is paired with the
//! reversed permutation on the same `z` (antithetic sampling: the pair's errors largely cancel),
//! and a pair's mean is one draw. Background rows are taken in turn from a random start, so that
//! every row of the background is used equally often. A pair costs `2·(M−1)` model rows (the ends
//! of each walk, `f(z)` and `f(x)`, are computed once).
//!
//! **Error bars.** Visiting the background rows in turn makes the draws a stratified sample (one
//! stratum per background row), whose error is smaller than that of independent draws: on a
//! small model, where the background row explains most of a draw's spread, five to seven times
//! smaller. So once some background rows have been drawn twice, a value's variance is estimated
//! as a stratified sample's: the spread of draws within a background row (pooled over the first
//! [`TRACKED_STRATA`] rows visited) over the draw count, plus the part the last, incomplete pass
//! over the background adds (its rows are drawn once more than the others). Before that, each
//! draw is treated as independent, which overstates the error, never understates it. A row is
//! done when every one of its values' standard errors is at most the target, or when its budget
//! of model rows is spent; at least [`MIN_PAIRS`] pairs are drawn so that the standard errors are
//! themselves estimated.
//!
//! **Efficiency and a control variate.** Each draw's credits add up to `f(x) − f(z)`; the values
//! must add up to `f(x) − E f(Z)`, and `E f(Z)` (the background's mean output) is known exactly.
//! So `f(z)` is a control variate: each value is its draws' mean, corrected by its regression on
//! `f(z)` for the drawn rows' distance from `E f(Z)`; its error is the residual's. The
//! coefficients sum to −1 over the features, so the corrected values add up to
//! `f(x) − E f(Z)`; what rounding leaves is shared out in proportion to the values' variances,
//! so that efficiency holds exactly whatever the number of draws.
//!
//! **Exact mode.** With few features (and `2^M` background sweeps within the budget), every
//! coalition is evaluated against every background row, and the Shapley formula is applied
//! exactly: no sampling error, standard errors of zero.
//!
//! **Reproducibility.** Each row's draws come from a generator seeded by the seed and the row's
//! position in the dataset, so the values do not depend on batching, sharding or thread count.
//!
//! Model calls are batched: a block of rows builds all its hybrid rows for a round of pairs and
//! predicts them in one call (thousands of rows); blocks run in parallel on every core.

use rayon::prelude::*;
use sextant_model::Rows;

use crate::payoff::{Margins, Payoff};

mod draws;
use draws::{Draws, estimate, share_out, worst_stderr};

/// Pairs drawn for every row before its standard errors are trusted.
pub const MIN_PAIRS: usize = 8;
/// Pairs drawn per row in one round (one model call per block of rows).
const PAIRS_PER_ROUND: usize = 8;
/// Rows sampled together: their hybrid rows go to the model in one call.
const ROWS_PER_BLOCK: usize = 16;
/// Hybrid rows per model call in exact mode.
const EXACT_ROWS_PER_CALL: usize = 16_384;
/// Background rows (the first visited) whose draws are summed apart, to estimate the spread of
/// draws within one background row.
pub const TRACKED_STRATA: usize = 32;
/// Degrees of freedom of that within-row spread below which draws are treated as independent.
const MIN_WITHIN_DOF: usize = 8;

/// How sampling stops and where it starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampledOptions {
    /// Stop a row once every value's standard error is at most this (margin units).
    pub target_stderr: f64,
    /// The most model rows spent on one explained row.
    pub max_evals: u64,
    /// Seeds every row's generator (with the row's position).
    pub seed: u64,
    /// Enumerate every coalition exactly when the model has at most this many features (and the
    /// enumeration fits `max_evals`).
    pub exact_max_features: usize,
}

/// The default budget of model rows per explained row.
pub const DEFAULT_MAX_EVALS: u64 = 100_000;
/// The default feature count up to which coalitions are enumerated.
pub const DEFAULT_EXACT_MAX_FEATURES: usize = 12;

/// What sampling did over some rows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SampledStats {
    /// Rows explained.
    pub rows: u64,
    /// Model rows evaluated for them (hybrids; the background's outputs are counted once).
    pub evals: u64,
    /// Antithetic pairs drawn, over all rows.
    pub pairs: u64,
    /// Rows that stopped on their budget before reaching the target.
    pub budget_stops: u64,
    /// The largest standard error of any value.
    pub worst_stderr: f64,
}

impl SampledStats {
    /// Folds another block's statistics in.
    pub fn merge(&mut self, other: SampledStats) {
        self.rows += other.rows;
        self.evals += other.evals;
        self.pairs += other.pairs;
        self.budget_stops += other.budget_stops;
        self.worst_stderr = self.worst_stderr.max(other.worst_stderr);
    }
}

/// A model as sampling sees it: rows in, `rows × outputs` margins out.
pub trait MarginModel: Sync {
    /// Outputs per row.
    fn n_outputs(&self) -> usize;
    /// Writes the margins of `rows` into `out`.
    fn margins(&self, rows: Rows<'_>, out: &mut [f64]) -> Result<(), String>;
}

impl MarginModel for crate::ModelPredictor<'_> {
    fn n_outputs(&self) -> usize {
        crate::ModelPredictor::n_outputs(self)
    }

    fn margins(&self, rows: Rows<'_>, out: &mut [f64]) -> Result<(), String> {
        self.predict_margins(rows, out)
    }
}

/// Sampled (or, for few features, exact) Shapley values of one model against one background.
pub struct Sampled<'a, M: MarginModel> {
    model: &'a M,
    background: Rows<'a>,
    /// The background rows' margins (`rows × outputs`).
    background_out: Vec<f64>,
    /// Mean background margin per output: the base values.
    base: Vec<f64>,
    options: SampledOptions,
    exact: bool,
}

impl<'a, M: MarginModel> Sampled<'a, M> {
    /// Prepares the explainer: the background's outputs and the base values. The background
    /// must have at least one row.
    pub fn new(
        model: &'a M,
        background: Rows<'a>,
        options: SampledOptions,
    ) -> Result<Self, String> {
        assert!(
            background.n_rows() > 0,
            "the background needs at least one row"
        );
        let n_out = model.n_outputs();
        let mut background_out = vec![0.0; background.n_rows() * n_out];
        model.margins(background, &mut background_out)?;
        let mut base = vec![0.0; n_out];
        for row in background_out.chunks(n_out) {
            for (b, v) in base.iter_mut().zip(row) {
                *b += v;
            }
        }
        base.iter_mut()
            .for_each(|b| *b /= background.n_rows() as f64);
        let m = background.n_features();
        let enumeration = (background.n_rows() as u64).saturating_mul(1u64 << m.min(63));
        let exact = m <= options.exact_max_features && enumeration <= options.max_evals;
        Ok(Sampled {
            model,
            background,
            background_out,
            base,
            options,
            exact,
        })
    }

    /// Whether every coalition is enumerated (exact values, no sampling).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// The base values (the mean background margin of each output).
    pub fn base_values(&self) -> &[f64] {
        &self.base
    }

    /// Explains `rows`, the first of which is row `first_row` of its dataset (for seeding).
    /// Writes influences in the crate's layout into `phi` and standard errors into `stderr`
    /// (`rows × outputs × features`).
    pub fn explain(
        &self,
        rows: Rows<'_>,
        first_row: u64,
        phi: &mut [f64],
        stderr: &mut [f64],
    ) -> Result<SampledStats, String> {
        self.explain_payoff(rows, first_row, &Margins, phi, stderr)
    }

    /// As [`Sampled::explain`], for the game `payoff` pays (the margins, or a loss against each
    /// row's label): `phi` is `rows × width × (features + 1)` and `stderr` `rows × width ×
    /// features`, `width` being the payoff's. A row's base value is its mean payoff over the
    /// background's margins, so the values add up to its payoff minus that.
    pub fn explain_payoff<P: Payoff>(
        &self,
        rows: Rows<'_>,
        first_row: u64,
        payoff: &P,
        phi: &mut [f64],
        stderr: &mut [f64],
    ) -> Result<SampledStats, String> {
        let m = rows.n_features();
        let w = payoff.width(self.model.n_outputs());
        assert_eq!(
            m,
            self.background.n_features(),
            "rows do not have the model's features"
        );
        assert_eq!(
            phi.len(),
            rows.n_rows() * w * (m + 1),
            "influence buffer has the wrong length"
        );
        assert_eq!(
            stderr.len(),
            rows.n_rows() * w * m,
            "stderr buffer has the wrong length"
        );
        let blocks = phi
            .par_chunks_mut(ROWS_PER_BLOCK * w * (m + 1))
            .zip(stderr.par_chunks_mut(ROWS_PER_BLOCK * w * m))
            .enumerate();
        blocks
            .map(|(b, (phi, stderr))| {
                let start = b * ROWS_PER_BLOCK;
                let block = rows.slice(start, start + phi.len() / (w * (m + 1)));
                let game = Game {
                    payoff,
                    offset: start,
                    width: w,
                };
                if self.exact {
                    self.exact_block(block, &game, phi, stderr)
                } else {
                    self.sample_block(block, first_row + start as u64, &game, phi, stderr)
                }
            })
            .try_reduce(SampledStats::default, |mut a, b| {
                a.merge(b);
                Ok(a)
            })
    }

    /// Row `r`'s base values: its mean payoff over the background's margins.
    fn base_of<P: Payoff>(&self, game: &Game<'_, P>, r: usize, base: &mut [f64]) {
        let k = self.model.n_outputs();
        let mut paid = vec![0.0; game.width];
        base.fill(0.0);
        for z in self.background_out.chunks(k) {
            game.pay(r, z, &mut paid);
            for (b, v) in base.iter_mut().zip(&paid) {
                *b += v;
            }
        }
        base.iter_mut()
            .for_each(|b| *b /= self.background.n_rows() as f64);
    }

    /// Enumerates every coalition for each row of the block.
    fn exact_block<P: Payoff>(
        &self,
        rows: Rows<'_>,
        game: &Game<'_, P>,
        phi: &mut [f64],
        stderr: &mut [f64],
    ) -> Result<SampledStats, String> {
        let (m, k, w, nb) = (
            rows.n_features(),
            self.model.n_outputs(),
            game.width,
            self.background.n_rows(),
        );
        let coalitions = 1usize << m;
        let weights = shapley_weights(m);
        stderr.fill(0.0);
        let mut stats = SampledStats::default();
        let mut value = vec![0.0; coalitions * w];
        let (mut paid, mut base) = (vec![0.0; w], vec![0.0; w]);
        let per_call = (EXACT_ROWS_PER_CALL / nb).max(1);
        let mut hybrids = Vec::new();
        let mut out = Vec::new();
        for r in 0..rows.n_rows() {
            let x = rows.row(r);
            value.fill(0.0);
            for first in (0..coalitions).step_by(per_call) {
                let last = (first + per_call).min(coalitions);
                hybrids.clear();
                for s in first..last {
                    for z in 0..nb {
                        let zr = self.background.row(z);
                        hybrids.extend((0..m).map(|j| if s >> j & 1 == 1 { x[j] } else { zr[j] }));
                    }
                }
                out.resize((last - first) * nb * k, 0.0);
                self.model.margins(Rows::new(&hybrids, m), &mut out)?;
                stats.evals += ((last - first) * nb) as u64;
                for (i, s) in (first..last).enumerate() {
                    for z in 0..nb {
                        game.pay(r, &out[(i * nb + z) * k..(i * nb + z + 1) * k], &mut paid);
                        for (v, p) in value[s * w..(s + 1) * w].iter_mut().zip(&paid) {
                            *v += p;
                        }
                    }
                }
            }
            value.iter_mut().for_each(|v| *v /= nb as f64);
            self.base_of(game, r, &mut base);
            for o in 0..w {
                let p = &mut phi[(r * w + o) * (m + 1)..(r * w + o + 1) * (m + 1)];
                p.fill(0.0);
                for s in 0..coalitions {
                    let size = (s as u64).count_ones() as usize;
                    for (j, pj) in p[..m].iter_mut().enumerate() {
                        if s >> j & 1 == 0 {
                            *pj += weights[size] * (value[(s | 1 << j) * w + o] - value[s * w + o]);
                        }
                    }
                }
                p[m] = base[o];
            }
        }
        stats.rows = rows.n_rows() as u64;
        Ok(stats)
    }

    /// Draws antithetic pairs for the block's rows, in rounds, until each row is done.
    fn sample_block<P: Payoff>(
        &self,
        rows: Rows<'_>,
        first_row: u64,
        game: &Game<'_, P>,
        phi: &mut [f64],
        stderr: &mut [f64],
    ) -> Result<SampledStats, String> {
        let (m, k, w, nb) = (
            rows.n_features(),
            self.model.n_outputs(),
            game.width,
            self.background.n_rows(),
        );
        let n = rows.n_rows();
        let tracked = TRACKED_STRATA.min(nb);
        // Each row's own payoff, from f(x): the end of every forward walk; and its base values.
        let mut margins = vec![0.0; n * k];
        self.model.margins(rows, &mut margins)?;
        let (mut own, mut base) = (vec![0.0; n * w], vec![0.0; n * w]);
        for r in 0..n {
            game.pay(
                r,
                &margins[r * k..(r + 1) * k],
                &mut own[r * w..(r + 1) * w],
            );
            self.base_of(game, r, &mut base[r * w..(r + 1) * w]);
        }
        let mut stats = SampledStats {
            evals: n as u64,
            ..SampledStats::default()
        };
        let mut draws: Vec<Draws> = (0..n)
            .map(|r| {
                let row = first_row + r as u64;
                Draws::new(self.options.seed, row, m * w, w, nb, tracked)
            })
            .collect();
        let pair_cost = 2 * (m.saturating_sub(1)) as u64;
        let budget_pairs =
            (self.options.max_evals / pair_cost.max(1)).max(MIN_PAIRS as u64) as usize;
        let mut hybrids = Vec::new();
        let (mut out, mut paid) = (Vec::new(), Vec::new());
        // Per pair in the round: its row, permutation and background row.
        let mut plan: Vec<(usize, Vec<usize>, usize)> = Vec::new();
        let (mut forward, mut backward) = (vec![0.0; m * w], vec![0.0; m * w]);
        let mut start = vec![0.0; w];
        let steps = 2 * m.saturating_sub(1);
        while draws.iter().any(|d| !d.done) {
            plan.clear();
            hybrids.clear();
            for (r, d) in draws.iter_mut().enumerate().filter(|(_, d)| !d.done) {
                let pairs = PAIRS_PER_ROUND.min(budget_pairs - d.pairs);
                for _ in 0..pairs {
                    let order = d.rng.permutation(m);
                    let z = d.next_background;
                    d.next_background = (z + 1) % nb;
                    let (x, zr) = (rows.row(r), self.background.row(z));
                    // The inner steps of the walk in `order` and of its reverse.
                    for reverse in [false, true] {
                        let mut h = zr.to_vec();
                        for step in 0..m - 1 {
                            let j = if reverse {
                                order[m - 1 - step]
                            } else {
                                order[step]
                            };
                            h[j] = x[j];
                            hybrids.extend_from_slice(&h);
                        }
                    }
                    plan.push((r, order, z));
                }
            }
            out.resize(hybrids.len() / m.max(1) * k, 0.0);
            if !hybrids.is_empty() {
                self.model.margins(Rows::new(&hybrids, m), &mut out)?;
            }
            stats.evals += (hybrids.len() / m.max(1)) as u64;
            // What each hybrid pays its row.
            paid.resize(plan.len() * steps * w, 0.0);
            for (p, (r, _, _)) in plan.iter().enumerate() {
                for h in p * steps..(p + 1) * steps {
                    game.pay(*r, &out[h * k..(h + 1) * k], &mut paid[h * w..(h + 1) * w]);
                }
            }
            let walk = m.saturating_sub(1) * w;
            for (p, (r, order, z)) in plan.iter().enumerate() {
                game.pay(*r, &self.background_out[z * k..(z + 1) * k], &mut start);
                let end = &own[r * w..(r + 1) * w];
                let inner = &paid[p * 2 * walk..(p + 1) * 2 * walk];
                credit(
                    &mut forward,
                    order.iter().copied(),
                    &start,
                    &inner[..walk],
                    end,
                    w,
                );
                credit(
                    &mut backward,
                    order.iter().rev().copied(),
                    &start,
                    &inner[walk..],
                    end,
                    w,
                );
                let d = &mut draws[*r];
                let stratum = (z + nb - d.first_background) % nb;
                let mw = m * w;
                for i in 0..mw {
                    let draw = 0.5 * (forward[i] + backward[i]);
                    d.sum[i] += draw;
                    d.sum_sq[i] += draw * draw;
                    d.cross[i] += draw * start[i % w];
                    if stratum < tracked {
                        d.stratum_sum[stratum * mw + i] += draw;
                        d.stratum_sq[stratum * mw + i] += draw * draw;
                    }
                }
                if stratum < tracked {
                    d.stratum_pairs[stratum] += 1;
                }
                for (o, &z) in start.iter().enumerate() {
                    d.background_sum[o] += z;
                    d.background_sq[o] += z * z;
                }
                d.pairs += 1;
            }
            for (r, d) in draws.iter_mut().enumerate().filter(|(_, d)| !d.done) {
                let base = &base[r * w..(r + 1) * w];
                if d.pairs >= budget_pairs {
                    d.done = true;
                    if worst_stderr(d, base, nb) > self.options.target_stderr {
                        stats.budget_stops += 1;
                    }
                } else if d.pairs >= MIN_PAIRS
                    && worst_stderr(d, base, nb) <= self.options.target_stderr
                {
                    d.done = true;
                }
            }
        }
        for (r, d) in draws.iter().enumerate() {
            stats.pairs += d.pairs as u64;
            for o in 0..w {
                let p = &mut phi[(r * w + o) * (m + 1)..(r * w + o + 1) * (m + 1)];
                let se = &mut stderr[(r * w + o) * m..(r * w + o + 1) * m];
                let base = base[r * w + o];
                let mut variances = vec![0.0; m];
                for j in 0..m {
                    let (value, variance) = estimate(d, j * w + o, w, base, nb);
                    p[j] = value;
                    variances[j] = variance;
                    se[j] = variance.sqrt();
                    stats.worst_stderr = stats.worst_stderr.max(se[j]);
                }
                // The adjusted values add up to the payoff minus the base but for rounding (or,
                // when every drawn z paid one value, for the drawn mean's distance from the
                // base): that rest is shared out so that efficiency holds exactly.
                let rest = own[r * w + o] - base - p[..m].iter().sum::<f64>();
                share_out(&mut p[..m], &variances, rest);
                p[m] = base;
            }
        }
        stats.rows = n as u64;
        Ok(stats)
    }
}

/// A payoff as one block of rows sees it: the block's row `r` is row `offset + r` of the rows
/// being explained.
struct Game<'p, P> {
    payoff: &'p P,
    offset: usize,
    width: usize,
}

impl<P: Payoff> Game<'_, P> {
    fn pay(&self, r: usize, margins: &[f64], out: &mut [f64]) {
        self.payoff.pay(self.offset + r, margins, out);
    }
}

/// Credits each feature of `order` with the change of the output at its step of a walk from
/// `start` (the background row's output) through the `inner` outputs to `end` (the row's own).
fn credit(
    credits: &mut [f64],
    order: impl Iterator<Item = usize>,
    start: &[f64],
    inner: &[f64],
    end: &[f64],
    k: usize,
) {
    let mut previous = start;
    let steps = inner.len() / k.max(1);
    for (step, j) in order.enumerate() {
        let current = if step < steps {
            &inner[step * k..(step + 1) * k]
        } else {
            end
        };
        for o in 0..k {
            credits[j * k + o] = current[o] - previous[o];
        }
        previous = current;
    }
}

/// `s!(M−s−1)!/M!` for coalition sizes `s` in `0..M`.
fn shapley_weights(m: usize) -> Vec<f64> {
    (0..m)
        .map(|s| {
            // 1 / (M · C(M−1, s)), computed without large factorials.
            let mut binomial = 1.0;
            for i in 0..s {
                binomial *= (m - 1 - i) as f64 / (i + 1) as f64;
            }
            1.0 / (m as f64 * binomial)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_over_coalitions() {
        for m in 1..10 {
            let w = shapley_weights(m);
            // Σ_s C(M−1, s) w(s) = 1 for each feature.
            let mut total = 0.0;
            let mut binomial = 1.0;
            for (s, ws) in w.iter().enumerate() {
                total += binomial * ws;
                binomial *= (m - 1 - s) as f64 / (s + 1) as f64;
            }
            assert!((total - 1.0).abs() < 1e-12, "m={m}: {total}");
        }
    }
}
