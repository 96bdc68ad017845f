//! Prediction quality: classification and regression metrics from scores and labels, which
//! [`Metrics::of`](crate::Metrics::of) puts in the metrics document.

/// Quality of a classifier's probabilities against labels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ClassificationMetrics {
    /// Rows scored.
    pub rows: usize,
    /// Number of classes.
    pub classes: usize,
    /// The probability at or above which a binary prediction is class 1.
    pub threshold: f64,
    /// Share of rows whose predicted class is the label.
    pub accuracy: f64,
    /// Precision of class 1 (binary) or the mean over classes (multiclass, macro).
    pub precision: f64,
    /// Recall, likewise.
    pub recall: f64,
    /// F1, likewise.
    pub f1: f64,
    /// Area under the ROC curve (binary), or the mean of one-vs-rest AUCs (multiclass). `None`
    /// when a class is absent from the labels.
    pub roc_auc: Option<f64>,
    /// Mean negative log-likelihood (probabilities clipped to [1e-15, 1 − 1e-15]).
    pub log_loss: f64,
    /// Mean squared error of the probabilities against one-hot labels.
    pub brier: f64,
    /// `confusion[actual][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

/// Quality of a regression's predictions against labels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RegressionMetrics {
    /// Rows scored.
    pub rows: usize,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination; `None` when the labels are constant.
    pub r2: Option<f64>,
    /// Mean absolute percentage error over rows with a non-zero label, in percent; `None` when
    /// every label is zero.
    pub mape: Option<f64>,
}

const EPS: f64 = 1e-15;

/// Metrics of class probabilities. `probabilities` holds one value per row (binary: P(class 1))
/// or `classes` values per row (multiclass); `labels` holds class indices 0 … classes−1.
pub(crate) fn classification_metrics(
    probabilities: &[f64],
    labels: &[u32],
    classes: usize,
    threshold: f64,
) -> ClassificationMetrics {
    let rows = labels.len();
    let width = if classes == 2 { 1 } else { classes };
    assert_eq!(probabilities.len(), rows * width, "one score block per row");
    let prob = |row: usize, class: usize| -> f64 {
        if classes == 2 {
            let p1 = probabilities[row];
            if class == 1 { p1 } else { 1.0 - p1 }
        } else {
            probabilities[row * classes + class]
        }
    };
    let predicted = |row: usize| -> usize {
        if classes == 2 {
            usize::from(probabilities[row] >= threshold)
        } else {
            (0..classes)
                .max_by(|&a, &b| prob(row, a).total_cmp(&prob(row, b)).then(b.cmp(&a)))
                .unwrap_or(0)
        }
    };
    let mut confusion = vec![vec![0u64; classes]; classes];
    let (mut log_loss, mut brier) = (0.0, 0.0);
    for (row, &label) in labels.iter().enumerate() {
        let label = label as usize;
        confusion[label][predicted(row)] += 1;
        log_loss -= prob(row, label).clamp(EPS, 1.0 - EPS).ln();
        brier += (0..classes)
            .map(|c| (prob(row, c) - f64::from(u8::from(c == label))).powi(2))
            .sum::<f64>();
    }
    let n = rows.max(1) as f64;
    let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
    let per_class = |c: usize| {
        let tp = confusion[c][c] as f64;
        let predicted_c: u64 = (0..classes).map(|a| confusion[a][c]).sum();
        let actual_c: u64 = confusion[c].iter().sum();
        let precision = ratio(tp, predicted_c as f64);
        let recall = ratio(tp, actual_c as f64);
        let f1 = ratio(2.0 * precision * recall, precision + recall);
        (precision, recall, f1)
    };
    let (precision, recall, f1) = if classes == 2 {
        per_class(1)
    } else {
        let all: Vec<_> = (0..classes).map(per_class).collect();
        let mean = |f: fn(&(f64, f64, f64)) -> f64| all.iter().map(f).sum::<f64>() / classes as f64;
        (mean(|m| m.0), mean(|m| m.1), mean(|m| m.2))
    };
    let roc_auc = if classes == 2 {
        roc_auc(probabilities, labels.iter().map(|&l| l == 1))
    } else {
        (0..classes)
            .map(|c| {
                let scores: Vec<f64> = (0..rows).map(|r| prob(r, c)).collect();
                roc_auc(&scores, labels.iter().map(|&l| l as usize == c))
            })
            .sum::<Option<f64>>()
            .map(|s| s / classes as f64)
    };
    // Binary Brier is conventionally over the positive class only.
    let brier = if classes == 2 { brier / 2.0 } else { brier };
    ClassificationMetrics {
        rows,
        classes,
        threshold,
        accuracy: correct as f64 / n,
        precision,
        recall,
        f1,
        roc_auc,
        log_loss: log_loss / n,
        brier: brier / n,
        confusion,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Area under the ROC curve by the rank-sum formula, ties counted as half.
fn roc_auc(scores: &[f64], positive: impl Iterator<Item = bool>) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(positive).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n_pos = pairs.iter().filter(|p| p.1).count() as f64;
    let n_neg = pairs.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        // Ranks i+1 … j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += mean_rank * pairs[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Metrics of real-valued predictions.
pub(crate) fn regression_metrics(predictions: &[f64], labels: &[f64]) -> RegressionMetrics {
    assert_eq!(predictions.len(), labels.len(), "one prediction per label");
    let rows = labels.len();
    let n = rows.max(1) as f64;
    let mean_label = labels.iter().sum::<f64>() / n;
    let (mut se, mut ae, mut tot, mut ape, mut ape_rows) = (0.0, 0.0, 0.0, 0.0, 0usize);
    for (&p, &y) in predictions.iter().zip(labels) {
        se += (p - y).powi(2);
        ae += (p - y).abs();
        tot += (y - mean_label).powi(2);
        if y != 0.0 {
            ape += ((p - y) / y).abs();
            ape_rows += 1;
        }
    }
    RegressionMetrics {
        rows,
        rmse: (se / n).sqrt(),
        mae: ae / n,
        r2: (tot > 0.0).then(|| 1.0 - se / tot),
        mape: (ape_rows > 0).then(|| 100.0 * ape / ape_rows as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_metrics_match_hand_computed_values() {
        let p = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1];
        let y = [1, 1, 1, 0, 0, 0];
        let m = classification_metrics(&p, &y, 2, 0.5);
        assert_eq!(m.confusion, vec![vec![2, 1], vec![1, 2]]);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        // Positives 0.9, 0.8, 0.3 against negatives 0.6, 0.2, 0.1: 8 of 9 pairs ordered right.
        assert!((m.roc_auc.unwrap() - 8.0 / 9.0).abs() < 1e-12);
        let ll =
            -(0.9f64.ln() + 0.8f64.ln() + 0.3f64.ln() + 0.4f64.ln() + 0.8f64.ln() + 0.9f64.ln())
                / 6.0;
        assert!((m.log_loss - ll).abs() < 1e-12);
        let brier = (0.01 + 0.04 + 0.49 + 0.36 + 0.04 + 0.01) / 6.0;
        assert!((m.brier - brier).abs() < 1e-12);
    }

    #[test]
    fn ties_count_half_and_one_class_has_no_auc() {
        let m = classification_metrics(&[0.5, 0.5], &[1, 0], 2, 0.5);
        assert_eq!(m.roc_auc, Some(0.5));
        assert_eq!(
            classification_metrics(&[0.2, 0.7], &[1, 1], 2, 0.5).roc_auc,
            None
        );
    }

    #[test]
    fn multiclass_uses_argmax_and_macro_means() {
        let p = [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.3, 0.5, 0.6, 0.3, 0.1];
        let y = [0, 1, 2, 2];
        let m = classification_metrics(&p, &y, 3, 0.5);
        assert_eq!(
            m.confusion,
            vec![vec![1, 0, 0], vec![0, 1, 0], vec![1, 0, 1]]
        );
        assert!((m.accuracy - 0.75).abs() < 1e-12);
        assert!((m.recall - (1.0 + 1.0 + 0.5) / 3.0).abs() < 1e-12);
        assert!((m.precision - (0.5 + 1.0 + 1.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics_match_hand_computed_values() {
        let m = regression_metrics(&[1.0, 2.0, 4.0], &[1.0, 3.0, 0.0]);
        assert!((m.rmse - (17.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.mae - 5.0 / 3.0).abs() < 1e-12);
        let mean = 4.0 / 3.0;
        let tot = (1.0f64 - mean).powi(2) + (3.0f64 - mean).powi(2) + mean * mean;
        assert!((m.r2.unwrap() - (1.0 - 17.0 / tot)).abs() < 1e-12);
        assert!((m.mape.unwrap() - 100.0 * (0.0 + 1.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(regression_metrics(&[1.0], &[0.0]).mape, None);
    }
}
