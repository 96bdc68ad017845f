//! The arithmetic of the views: rows sampled evenly, a binary classifier's curves, a
//! regression's residuals, histograms. No IO.

use sextant_api::{
    BinaryCurves, CalibrationBin, CurvePoint, HistogramBin, RegressionCurves, ResidualPoint,
    ThresholdCounts,
};

/// Points of a thinned ROC or precision-recall curve at most.
const CURVE_POINTS: usize = 500;

/// Residual points sampled at most.
const RESIDUAL_POINTS: usize = 2_000;

/// `count` positions spread evenly over `0..total` (all of them when `total <= count`).
pub(super) fn evenly(total: u64, count: u64) -> Vec<u64> {
    if total <= count {
        return (0..total).collect();
    }
    let mut picked: Vec<u64> = (0..count).map(|i| i * total / count).collect();
    picked.dedup();
    picked
}

/// ROC, precision-recall, calibration and threshold counts of `(probability, label)` pairs.
pub(super) fn binary_curves(scored: &[(f64, f64)]) -> BinaryCurves {
    let mut by_score: Vec<(f64, bool)> = scored.iter().map(|&(p, y)| (p, y >= 0.5)).collect();
    by_score.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = by_score.iter().filter(|(_, y)| *y).count() as f64;
    let negatives = by_score.len() as f64 - positives;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut roc = vec![CurvePoint {
        x: 0.0,
        y: 0.0,
        threshold: None,
    }];
    let mut precision_recall = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &(score, positive)) in by_score.iter().enumerate() {
        if positive {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // A point after the last row of each distinct score.
        if by_score.get(i + 1).is_some_and(|next| next.0 == score) {
            continue;
        }
        roc.push(CurvePoint {
            x: ratio(fp, negatives),
            y: ratio(tp, positives),
            threshold: Some(score),
        });
        precision_recall.push(CurvePoint {
            x: ratio(tp, positives),
            y: ratio(tp, tp + fp),
            threshold: Some(score),
        });
    }
    let mut calibration = Vec::new();
    for bin in 0..10 {
        let (from, to) = (bin as f64 / 10.0, (bin + 1) as f64 / 10.0);
        let inside: Vec<&(f64, f64)> = scored
            .iter()
            .filter(|(p, _)| *p >= from && (*p < to || (bin == 9 && *p <= to)))
            .collect();
        if inside.is_empty() {
            continue;
        }
        let n = inside.len() as f64;
        calibration.push(CalibrationBin {
            from,
            to,
            predicted: inside.iter().map(|(p, _)| p).sum::<f64>() / n,
            observed: inside.iter().filter(|(_, y)| *y >= 0.5).count() as f64 / n,
            rows: inside.len() as u64,
        });
    }
    // Scores ascending per class: the rows at or above a threshold are a suffix.
    let mut pos: Vec<f64> = by_score.iter().filter(|r| r.1).map(|r| r.0).collect();
    let mut neg: Vec<f64> = by_score.iter().filter(|r| !r.1).map(|r| r.0).collect();
    pos.sort_by(f64::total_cmp);
    neg.sort_by(f64::total_cmp);
    let at_or_above =
        |sorted: &[f64], t: f64| (sorted.len() - sorted.partition_point(|&s| s < t)) as u64;
    let thresholds = (0..=100)
        .map(|i| {
            let threshold = i as f64 / 100.0;
            let (tp, fp) = (at_or_above(&pos, threshold), at_or_above(&neg, threshold));
            ThresholdCounts {
                threshold,
                tp,
                fp,
                tn: neg.len() as u64 - fp,
                fn_: pos.len() as u64 - tp,
            }
        })
        .collect();
    BinaryCurves {
        roc: thin(roc),
        precision_recall: thin(precision_recall),
        calibration,
        thresholds,
    }
}

/// At most [`CURVE_POINTS`] points of a curve, evenly spread, its ends kept.
fn thin(curve: Vec<CurvePoint>) -> Vec<CurvePoint> {
    if curve.len() <= CURVE_POINTS {
        return curve;
    }
    let last = curve.len() - 1;
    let keep: Vec<u64> = evenly(last as u64, (CURVE_POINTS - 1) as u64);
    let mut out: Vec<CurvePoint> = keep.iter().map(|&i| curve[i as usize].clone()).collect();
    out.push(curve[last].clone());
    out
}

/// Sampled residual points and the histogram of every residual.
pub(super) fn regression_curves(rows: &[u64], scored: &[(f64, f64)]) -> RegressionCurves {
    let points = evenly(scored.len() as u64, RESIDUAL_POINTS as u64)
        .into_iter()
        .map(|i| {
            let (prediction, label) = scored[i as usize];
            ResidualPoint {
                row: rows[i as usize],
                prediction,
                label,
            }
        })
        .collect();
    let residuals: Vec<f64> = scored.iter().map(|(p, y)| y - p).collect();
    RegressionCurves {
        points,
        residuals: histogram(&residuals, 40),
    }
}

/// `bins` bins of equal width from the smallest value to the largest.
fn histogram(values: &[f64], bins: usize) -> Vec<HistogramBin> {
    let Some(low) = values.iter().copied().reduce(f64::min) else {
        return Vec::new();
    };
    let high = values.iter().copied().fold(low, f64::max);
    let width = if high > low {
        (high - low) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0u64; bins];
    for v in values {
        let bin = (((v - low) / width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| HistogramBin {
            from: low + i as f64 * width,
            to: low + (i + 1) as f64 * width,
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_and_thresholds_of_a_small_case() {
        // Scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.2 (neg).
        let scored = [(0.9, 1.0), (0.8, 0.0), (0.7, 1.0), (0.2, 0.0)];
        let c = binary_curves(&scored);
        let roc: Vec<(f64, f64)> = c.roc.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(
            roc,
            [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        let at = |t: f64| c.thresholds.iter().find(|r| r.threshold == t).unwrap();
        let half = at(0.5);
        assert_eq!((half.tp, half.fp, half.tn, half.fn_), (2, 1, 1, 0));
        let zero = at(0.0);
        assert_eq!((zero.tp, zero.fp, zero.tn, zero.fn_), (2, 2, 0, 0));
        assert_eq!(c.calibration.iter().map(|b| b.rows).sum::<u64>(), 4);
        assert_eq!(c.precision_recall.last().unwrap().y, 0.5);
    }

    #[test]
    fn thinning_keeps_the_ends_and_the_cap() {
        let curve: Vec<CurvePoint> = (0..2000)
            .map(|i| CurvePoint {
                x: i as f64,
                y: i as f64,
                threshold: None,
            })
            .collect();
        let thin = thin(curve);
        assert_eq!(thin.len(), CURVE_POINTS);
        assert_eq!((thin[0].x, thin[CURVE_POINTS - 1].x), (0.0, 1999.0));
    }

    #[test]
    fn histogram_counts_every_value() {
        let h = histogram(&[0.0, 1.0, 2.0, 3.0, 4.0], 4);
        assert_eq!(h.iter().map(|b| b.count).collect::<Vec<_>>(), [1, 1, 1, 2]);
        assert!(histogram(&[], 4).is_empty());
        assert_eq!(histogram(&[2.0, 2.0], 3)[0].count, 2);
    }

    #[test]
    fn even_samples() {
        assert_eq!(evenly(3, 10), [0, 1, 2]);
        assert_eq!(evenly(10, 5), [0, 2, 4, 6, 8]);
    }
}
