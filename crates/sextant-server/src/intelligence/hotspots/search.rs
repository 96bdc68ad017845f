//! The hotspot search over the labelled rows' codes and losses ([`super::survey`] makes them
//! in two passes over the columns searched). Every condition is a range of codes, so a
//! condition's rows and loss are a difference of prefix sums of the column's histogram, and a
//! pair's a rectangle of a joint histogram's two-dimensional prefix sums.
//!
//! Pairs are searched among the [`PAIR_COLUMNS`] columns whose best single condition holds the
//! most excess loss; two conditions on one numeric column make an interval.

use sextant_data::segment::{column_reference, text_literal};

use sextant_api::HotspotRank;

use super::survey::{Coded, Cut};

/// Columns whose conditions are paired: those whose best single condition ranks highest.
const PAIR_COLUMNS: usize = 12;

/// A condition on one column: its code lies in `low..=high`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Test {
    column: usize,
    low: usize,
    high: usize,
    text: String,
}

/// A candidate segment: one or two conditions, with its rows and summed loss.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Candidate {
    pub(super) tests: Vec<Test>,
    pub(super) rows: u64,
    pub(super) sum: f64,
    pub(super) excess: f64,
    /// What it is ranked by: its excess, or its mean loss (by lift).
    score: f64,
}

impl Candidate {
    pub(super) fn conditions(&self) -> Vec<String> {
        self.tests.iter().map(|t| t.text.clone()).collect()
    }
}

/// A column's conditions, as code ranges.
fn tests_of(column: usize, name: &str, cut: &Cut, with_missing: bool) -> Vec<Test> {
    let named = column_reference(name);
    let test = |low, high, text: String| Test {
        column,
        low,
        high,
        text,
    };
    let mut tests = Vec::new();
    match cut {
        Cut::Numeric(cuts) => {
            let m = cuts.len();
            for (k, c) in cuts.iter().enumerate() {
                tests.push(test(0, k, format!("{named} < {c}")));
                tests.push(test(k + 1, m, format!("{named} >= {c}")));
            }
        }
        Cut::Categorical(values) => {
            for (i, v) in values.iter().enumerate() {
                tests.push(test(i, i, format!("{named} == {}", text_literal(v))));
            }
        }
    }
    if with_missing {
        let code = cut.missing_code();
        tests.push(test(code, code, format!("{named} is missing")));
    }
    tests
}

/// The intervals between two cuts of a numeric column (the two conditions on one column).
fn intervals_of(column: usize, name: &str, cuts: &[f64]) -> Vec<Test> {
    let named = column_reference(name);
    let mut tests = Vec::new();
    for (i, low) in cuts.iter().enumerate() {
        for (j, high) in cuts.iter().enumerate().skip(i + 1) {
            tests.push(Test {
                column,
                low: i + 1,
                high: j,
                text: format!("{named} >= {low} and {named} < {high}"),
            });
        }
    }
    tests
}

/// What the search found: the candidates weighed, and the best, most excess first.
pub(super) struct Found {
    pub(super) candidates: u64,
    pub(super) best: Vec<Candidate>,
}

/// Prefix sums of (rows, loss) over a column's codes.
fn prefix(counts: &[(u64, f64)]) -> Vec<(u64, f64)> {
    let mut sums = vec![(0, 0.0); counts.len() + 1];
    for (i, &(n, s)) in counts.iter().enumerate() {
        sums[i + 1] = (sums[i].0 + n, sums[i].1 + s);
    }
    sums
}

/// The hotspots: the best candidate per column or pair of columns by `rank`, of at least
/// `min_size` rows and positive excess, at most `limit`, best first. A pair (or an interval)
/// must rank above each of its conditions alone.
pub(super) fn search(
    coded: &Coded,
    names: &[String],
    min_size: u64,
    limit: usize,
    rank: HotspotRank,
) -> Found {
    let total = coded.rows() as u64;
    let overall = coded.overall();
    let columns = coded.cuts.len();
    let mut weighed = 0u64;
    let mut judge = |tests: Vec<Test>, rows: u64, sum: f64| -> Option<Candidate> {
        if rows < min_size || rows >= total {
            return None;
        }
        weighed += 1;
        Some(Candidate {
            tests,
            rows,
            sum,
            excess: sum - overall * rows as f64,
            score: match rank {
                HotspotRank::Excess => sum - overall * rows as f64,
                HotspotRank::Lift => sum / rows as f64,
            },
        })
    };
    // Singles (and intervals), from each column's histogram.
    let mut singles: Vec<Vec<(Test, Option<Candidate>)>> = Vec::with_capacity(columns);
    let mut intervals: Vec<Candidate> = Vec::new();
    for (c, (cut, name)) in coded.cuts.iter().zip(names).enumerate() {
        let mut counts = vec![(0u64, 0.0); cut.codes()];
        for (&code, &loss) in coded.codes[c].iter().zip(&coded.losses) {
            let cell = &mut counts[code as usize];
            cell.0 += 1;
            cell.1 += loss;
        }
        let sums = prefix(&counts);
        let range = |t: &Test| {
            (
                sums[t.high + 1].0 - sums[t.low].0,
                sums[t.high + 1].1 - sums[t.low].1,
            )
        };
        let with_missing = counts[cut.missing_code()].0 > 0;
        let mut column = Vec::new();
        for test in tests_of(c, name, cut, with_missing) {
            let (n, s) = range(&test);
            let judged = judge(vec![test.clone()], n, s);
            column.push((test, judged));
        }
        if let Cut::Numeric(cuts) = cut {
            for test in intervals_of(c, name, cuts) {
                let (n, s) = range(&test);
                // An interval is worth more than its two ends alone: `x >= low` (codes from
                // its lowest to the last bin) and `x < high` (codes from 0 to its highest).
                let m = cuts.len();
                let ends = column
                    .iter()
                    .filter(|(t, _)| {
                        (t.low, t.high) == (test.low, m) || (t.low, t.high) == (0, test.high)
                    })
                    .filter_map(|(_, j)| j.as_ref().map(|j| j.score))
                    .fold(0.0_f64, f64::max);
                if let Some(candidate) = judge(vec![test], n, s).filter(|j| j.score > ends) {
                    intervals.push(candidate);
                }
            }
        }
        singles.push(column);
    }
    // The columns paired: those whose best condition holds the most excess.
    let best_of = |column: &[(Test, Option<Candidate>)]| {
        column
            .iter()
            .filter_map(|(_, j)| j.as_ref().map(|j| j.excess))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let mut ranked: Vec<usize> = (0..columns)
        .filter(|&c| best_of(&singles[c]).is_finite())
        .collect();
    ranked.sort_by(|&a, &b| {
        best_of(&singles[b])
            .total_cmp(&best_of(&singles[a]))
            .then(a.cmp(&b))
    });
    ranked.truncate(PAIR_COLUMNS);
    ranked.sort_unstable();
    let mut pairs: Vec<Candidate> = Vec::new();
    for (i, &a) in ranked.iter().enumerate() {
        for &b in &ranked[i + 1..] {
            let (wa, wb) = (coded.cuts[a].codes(), coded.cuts[b].codes());
            // A joint histogram, then its two-dimensional prefix sums.
            let mut sums = vec![(0u64, 0.0); (wa + 1) * (wb + 1)];
            let at = |x: usize, y: usize| x * (wb + 1) + y;
            for r in 0..coded.rows() {
                let cell = &mut sums[at(
                    coded.codes[a][r] as usize + 1,
                    coded.codes[b][r] as usize + 1,
                )];
                cell.0 += 1;
                cell.1 += coded.losses[r];
            }
            for x in 1..=wa {
                for y in 1..=wb {
                    let (up, left, corner) = (
                        sums[at(x - 1, y)],
                        sums[at(x, y - 1)],
                        sums[at(x - 1, y - 1)],
                    );
                    let cell = &mut sums[at(x, y)];
                    cell.0 += up.0 + left.0 - corner.0;
                    cell.1 += up.1 + left.1 - corner.1;
                }
            }
            let rect = |ta: &Test, tb: &Test| {
                let (x0, x1, y0, y1) = (ta.low, ta.high + 1, tb.low, tb.high + 1);
                let (p, q, r, s) = (
                    sums[at(x1, y1)],
                    sums[at(x0, y1)],
                    sums[at(x1, y0)],
                    sums[at(x0, y0)],
                );
                (p.0 + s.0 - q.0 - r.0, p.1 + s.1 - q.1 - r.1)
            };
            let mut best: Option<Candidate> = None;
            for (ta, ja) in &singles[a] {
                for (tb, jb) in &singles[b] {
                    let (n, s) = rect(ta, tb);
                    // A pair is worth more than either of its conditions alone.
                    let alone = [ja, jb]
                        .iter()
                        .filter_map(|j| j.as_ref().map(|j| j.score))
                        .fold(0.0_f64, f64::max);
                    if let Some(candidate) =
                        judge(vec![ta.clone(), tb.clone()], n, s).filter(|j| j.score > alone)
                        && best.as_ref().is_none_or(|b| better(&candidate, b))
                    {
                        best = Some(candidate);
                    }
                }
            }
            pairs.extend(best);
        }
    }
    // The best candidate per column (singles and intervals) and per pair of columns.
    let mut best: Vec<Candidate> = Vec::new();
    for (c, column) in singles.iter().enumerate() {
        let of_column = column
            .iter()
            .filter_map(|(_, j)| j.clone())
            .chain(intervals.iter().filter(|j| j.tests[0].column == c).cloned())
            .filter(|j| j.excess > 0.0)
            .reduce(|a, b| if better(&b, &a) { b } else { a });
        best.extend(of_column);
    }
    best.extend(pairs.into_iter().filter(|j| j.excess > 0.0));
    best.sort_by(|a, b| {
        if better(a, b) {
            std::cmp::Ordering::Less
        } else if better(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    best.truncate(limit);
    Found {
        candidates: weighed,
        best,
    }
}

impl Coded {
    /// The losses of the rows a candidate holds.
    pub(super) fn losses_of(&self, candidate: &Candidate) -> Vec<f64> {
        (0..self.rows())
            .filter(|&r| {
                candidate
                    .tests
                    .iter()
                    .all(|t| (t.low..=t.high).contains(&(self.codes[t.column][r] as usize)))
            })
            .map(|r| self.losses[r])
            .collect()
    }
}

/// Whether `a` ranks before `b`: a higher score, then fewer conditions, then by text.
fn better(a: &Candidate, b: &Candidate) -> bool {
    match a.score.total_cmp(&b.score) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => {
            (a.tests.len(), a.conditions()) < (b.tests.len(), b.conditions())
        }
    }
}

#[cfg(test)]
mod tests;
