//! Two sketches of one column compared: the population stability index and Jensen–Shannon
//! distance over bins of the reference, the two-sample Kolmogorov–Smirnov statistic (with the
//! sample size of its asymptotic distribution, for the p-value) and the Wasserstein distance
//! over every value (numeric columns), or χ² and its degrees of freedom and the categories one
//! side has and the other lacks (categorical columns).

use super::sketch::Sketch;

/// Bins of a numeric column: the reference's deciles.
pub const BINS: usize = 10;

/// A share below this counts as this in the population stability index, so that an empty bin
/// on one side gives a large finite term instead of an infinite one.
pub const PSI_FLOOR: f64 = 1e-4;

/// One bin: `lower < value <= upper` (no bound: open on that side), and each side's share of
/// its values there.
#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    /// Exclusive lower bound.
    pub lower: Option<f64>,
    /// Inclusive upper bound.
    pub upper: Option<f64>,
    /// The reference's share of its (present) values in the bin.
    pub reference: f64,
    /// The current side's share.
    pub current: f64,
}

/// A numeric column compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Numeric {
    /// Population stability index over [`Numeric::bins`].
    pub psi: f64,
    /// Jensen–Shannon distance (base 2, between 0 and 1) over the same bins.
    pub jensen_shannon: f64,
    /// Largest gap between the two empirical distribution functions.
    pub ks: f64,
    /// `nm/(n+m)` of the two sides' present values: the asymptotic p-value of `ks` is
    /// `kstwobign.sf(√effective_rows · ks)`.
    pub effective_rows: f64,
    /// Area between the two distribution functions (earth mover's distance), in the column's
    /// units.
    pub wasserstein: f64,
    /// The bins: edges at the reference's deciles (each the smallest value at or below which a
    /// tenth, two tenths, … of the reference lie), repeated edges merged.
    pub bins: Vec<Bin>,
    /// Whether the statistics are exact: both sketches count every distinct value. When not,
    /// KS and Wasserstein are read at bucket boundaries and the KS statistic can be off by at
    /// most [`Numeric::resolution`].
    pub exact: bool,
    /// The largest share of either side one bucket holds (0 when exact).
    pub resolution: f64,
}

/// A categorical column compared, by category code.
#[derive(Clone, Debug, PartialEq)]
pub struct Categorical {
    /// Population stability index over the categories either side has.
    pub psi: f64,
    /// Jensen–Shannon distance (base 2) over them.
    pub jensen_shannon: f64,
    /// Pearson's χ² statistic of the 2 × k table of counts (no continuity correction).
    pub chi2: f64,
    /// Its degrees of freedom, k − 1.
    pub dof: f64,
    /// Each category: its code and the two sides' counts.
    pub categories: Vec<(f64, u64, u64)>,
}

/// The two sides' shares of their values in each bin.
fn psi_and_js(pairs: impl Iterator<Item = (f64, f64)> + Clone) -> (f64, f64) {
    let psi = pairs
        .clone()
        .map(|(r, c)| {
            let (r, c) = (r.max(PSI_FLOOR), c.max(PSI_FLOOR));
            (c - r) * (c / r).ln()
        })
        .sum();
    let kl = |p: f64, m: f64| if p > 0.0 { p * (p / m).log2() } else { 0.0 };
    let divergence: f64 = pairs
        .map(|(r, c)| {
            let m = (r + c) / 2.0;
            (kl(r, m) + kl(c, m)) / 2.0
        })
        .sum();
    (psi, divergence.max(0.0).sqrt())
}

/// The reference's decile edges, increasing, repeats merged.
fn decile_edges(reference: &[(f64, u64)], total: u64) -> Vec<f64> {
    let mut edges: Vec<f64> = Vec::with_capacity(BINS - 1);
    let mut cumulative = 0u64;
    let mut level = 1;
    for &(value, count) in reference {
        cumulative += count;
        // The k-th edge is the first value whose cumulative count reaches k/BINS of the total.
        while level < BINS && cumulative as u128 * BINS as u128 >= total as u128 * level as u128 {
            if edges.last() != Some(&value) {
                edges.push(value);
            }
            level += 1;
        }
    }
    edges
}

/// Compares a numeric column's sketches; `None` when either side has no present value.
pub fn compare_numeric(reference: &Sketch, current: &Sketch) -> Option<Numeric> {
    if reference.present == 0 || current.present == 0 {
        return None;
    }
    let (mut r, mut c) = (reference.clone(), current.clone());
    Sketch::align(&mut r, &mut c);
    let (nr, nc) = (r.present as f64, c.present as f64);
    let (rk, ck) = (r.sorted_keys(), c.sorted_keys());
    let union = match (r.range, c.range) {
        (Some((a, b)), Some((x, y))) => Some((a.min(x), b.max(y))),
        (range, None) | (None, range) => range,
    };
    let value_of = |key: u64| r.representative_within(key, union);
    // Walk the union of keys in order: the distribution functions after each.
    let (mut i, mut j) = (0, 0);
    let (mut cum_r, mut cum_c) = (0u64, 0u64);
    let (mut ks, mut wasserstein) = (0f64, 0f64);
    let mut previous: Option<(f64, f64)> = None;
    while i < rk.len() || j < ck.len() {
        let key = match (rk.get(i), ck.get(j)) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (Some(a), None) => a.0,
            (None, Some(b)) => b.0,
            (None, None) => unreachable!(),
        };
        let x = value_of(key);
        if let Some((px, gap)) = previous {
            wasserstein += gap * (x - px);
        }
        if rk.get(i).is_some_and(|a| a.0 == key) {
            cum_r += rk[i].1;
            i += 1;
        }
        if ck.get(j).is_some_and(|b| b.0 == key) {
            cum_c += ck[j].1;
            j += 1;
        }
        let gap = (cum_r as f64 / nr - cum_c as f64 / nc).abs();
        ks = ks.max(gap);
        previous = Some((x, gap));
    }
    // Bins at the reference's deciles, each side's share in each.
    let reference_values: Vec<(f64, u64)> = rk.iter().map(|&(k, n)| (value_of(k), n)).collect();
    let edges = decile_edges(&reference_values, r.present);
    let share_per_bin = |keys: &[(u64, u64)], n: f64| {
        let mut counts = vec![0u64; edges.len() + 1];
        let mut bin = 0;
        for &(k, count) in keys {
            let v = value_of(k);
            while bin < edges.len() && v > edges[bin] {
                bin += 1;
            }
            counts[bin] += count;
        }
        counts.into_iter().map(|c| c as f64 / n).collect::<Vec<_>>()
    };
    let (shares_r, shares_c) = (share_per_bin(&rk, nr), share_per_bin(&ck, nc));
    let bins: Vec<Bin> = (0..=edges.len())
        .map(|b| Bin {
            lower: b.checked_sub(1).map(|p| edges[p]),
            upper: edges.get(b).copied(),
            reference: shares_r[b],
            current: shares_c[b],
        })
        .collect();
    let (psi, jensen_shannon) = psi_and_js(bins.iter().map(|b| (b.reference, b.current)));
    Some(Numeric {
        psi,
        jensen_shannon,
        ks,
        effective_rows: nr * nc / (nr + nc),
        wasserstein,
        bins,
        exact: r.is_exact(),
        resolution: r.resolution().max(c.resolution()),
    })
}

/// Compares a categorical column's sketches (values are category codes); `None` when either
/// side has no present value.
pub fn compare_categorical(reference: &Sketch, current: &Sketch) -> Option<Categorical> {
    if reference.present == 0 || current.present == 0 {
        return None;
    }
    let (r, c) = (reference.sorted(), current.sorted());
    let mut categories: Vec<(f64, u64, u64)> = Vec::with_capacity(r.len().max(c.len()));
    let (mut i, mut j) = (0, 0);
    while i < r.len() || j < c.len() {
        let take_r = j >= c.len() || (i < r.len() && r[i].0 <= c[j].0);
        let take_c = i >= r.len() || (j < c.len() && c[j].0 <= r[i].0);
        let code = if take_r { r[i].0 } else { c[j].0 };
        let nr = if take_r { r[i].1 } else { 0 };
        let nc = if take_c { c[j].1 } else { 0 };
        i += usize::from(take_r);
        j += usize::from(take_c);
        categories.push((code, nr, nc));
    }
    let (nr, nc) = (reference.present as f64, current.present as f64);
    let (psi, jensen_shannon) = psi_and_js(
        categories
            .iter()
            .map(|&(_, a, b)| (a as f64 / nr, b as f64 / nc)),
    );
    let n = nr + nc;
    let chi2: f64 = categories
        .iter()
        .map(|&(_, a, b)| {
            let column = (a + b) as f64;
            let (er, ec) = (nr * column / n, nc * column / n);
            (a as f64 - er).powi(2) / er + (b as f64 - ec).powi(2) / ec
        })
        .sum();
    let dof = categories.len().saturating_sub(1) as f64;
    Some(Categorical {
        psi,
        jensen_shannon,
        chi2,
        dof,
        categories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(values: &[f64]) -> Sketch {
        let mut s = Sketch::default();
        values.iter().for_each(|v| s.add(*v));
        s
    }

    #[test]
    fn equal_samples_do_not_differ() {
        let values: Vec<f64> = (0..500).map(|i| f64::from(i % 37) * 0.5).collect();
        let n = compare_numeric(&sketch(&values), &sketch(&values)).unwrap();
        assert_eq!(
            (n.psi, n.ks, n.wasserstein, n.jensen_shannon),
            (0.0, 0.0, 0.0, 0.0)
        );
        assert!(n.exact);
        let shares: f64 = n.bins.iter().map(|b| b.reference).sum();
        assert!((shares - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_shift_is_the_wasserstein_distance() {
        let a: Vec<f64> = (0..1000).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|v| v + 3.0).collect();
        let n = compare_numeric(&sketch(&a), &sketch(&b)).unwrap();
        assert!((n.wasserstein - 3.0).abs() < 1e-9, "{}", n.wasserstein);
        assert!((n.ks - 0.003).abs() < 1e-12, "{}", n.ks);
    }

    /// KS and Wasserstein of two samples by sorting them.
    fn by_sorting(a: &[f64], b: &[f64]) -> (f64, f64) {
        let mut all: Vec<(f64, usize)> = a.iter().map(|v| (*v, 0)).collect();
        all.extend(b.iter().map(|v| (*v, 1)));
        all.sort_by(|x, y| x.0.total_cmp(&y.0));
        let (mut fa, mut fb, mut ks, mut w) = (0.0, 0.0, 0f64, 0.0);
        for (k, (v, side)) in all.iter().enumerate() {
            if *side == 0 {
                fa += 1.0 / a.len() as f64;
            } else {
                fb += 1.0 / b.len() as f64;
            }
            if all.get(k + 1).is_none_or(|n| n.0 != *v) {
                ks = f64::max(ks, (fa - fb).abs());
                if let Some(next) = all.get(k + 1) {
                    w += (fa - fb).abs() * (next.0 - v);
                }
            }
        }
        (ks, w)
    }

    #[test]
    fn bucketed_sketches_come_close_to_the_exact_statistics() {
        let a: Vec<f64> = (0..40_000)
            .map(|i| (f64::from(i) * 0.618).sin() * 3.0)
            .collect();
        let b: Vec<f64> = a.iter().map(|v| v * 1.1 + 0.2).collect();
        let bucketed = compare_numeric(&sketch(&a), &sketch(&b)).unwrap();
        assert!(!bucketed.exact);
        let (ks, wasserstein) = by_sorting(&a, &b);
        assert!(
            (bucketed.ks - ks).abs() <= bucketed.resolution,
            "{} {ks} {}",
            bucketed.ks,
            bucketed.resolution
        );
        assert!(
            (bucketed.wasserstein - wasserstein).abs() < 1e-3 * wasserstein,
            "{} {wasserstein}",
            bucketed.wasserstein
        );
        let small = compare_numeric(&sketch(&a[..3000]), &sketch(&b[..3000])).unwrap();
        assert!(small.exact);
        let (ks, wasserstein) = by_sorting(&a[..3000], &b[..3000]);
        assert!((small.ks - ks).abs() < 1e-12);
        assert!((small.wasserstein - wasserstein).abs() < 1e-9);
    }
}
