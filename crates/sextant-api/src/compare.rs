//! Models compared on one dataset: a leaderboard by a metric, importance side by side, how much
//! their predictions agree, and the rows where they disagree most.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{Metrics, SegmentScope};

/// Rows listed where the models disagree most, when the query gives no number.
pub const DEFAULT_DISAGREEMENTS: u32 = 20;

/// Models compared at most at once.
pub const MAX_COMPARED: usize = 10;

/// The query of `GET /api/v1/projects/{project}/compare`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    /// The models, comma-separated (2 to 10), each with a predict result on the dataset.
    #[param(pattern = r"^[^,]*[^,\s][^,]*(,[^,]*[^,\s][^,]*){1,9}$")]
    pub models: String,
    /// The dataset they are compared on.
    pub dataset: String,
    /// The metric the leaderboard ranks by (default `roc_auc` for classifiers, `rmse` for a
    /// regression): `accuracy`, `precision`, `recall`, `f1`, `roc_auc`, `log_loss`, `brier`;
    /// `rmse`, `mae`, `r2`, `mape`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^(accuracy|precision|recall|f1|roc_auc|log_loss|brier|rmse|mae|r2|mape)$")]
    pub metric: Option<String>,
    /// Only the rows of this segment (a segment's name, or an expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Rows listed where the models disagree most (default 20, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0, maximum = 1000)]
    pub disagreements: Option<u32>,
}

/// Whether a larger value of a metric is better.
pub fn higher_is_better(metric: &str) -> bool {
    !matches!(metric, "log_loss" | "brier" | "rmse" | "mae" | "mape")
}

/// The metrics a leaderboard can rank by, for classifiers and for regressions.
pub const CLASSIFICATION_METRICS: [&str; 7] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
];

/// Likewise for a regression.
pub const REGRESSION_METRICS: [&str; 4] = ["rmse", "mae", "r2", "mape"];

impl Metrics {
    /// The value of the metric named (as the leaderboard ranks by), if the task has it.
    pub fn named(&self, metric: &str) -> Option<Option<f64>> {
        let finite = |v: f64| Some(v.is_finite().then_some(v));
        match self {
            Metrics::Classification(m) => match metric {
                "accuracy" => finite(m.accuracy),
                "precision" => finite(m.precision),
                "recall" => finite(m.recall),
                "f1" => finite(m.f1),
                "roc_auc" => Some(m.roc_auc),
                "log_loss" => finite(m.log_loss),
                "brier" => finite(m.brier),
                _ => None,
            },
            Metrics::Regression(m) => match metric {
                "rmse" => finite(m.rmse),
                "mae" => finite(m.mae),
                "r2" => Some(m.r2),
                "mape" => Some(m.mape),
                _ => None,
            },
        }
    }
}

/// One model's place on the leaderboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardEntry {
    /// The model.
    pub model: String,
    /// Its place, from 1 (none when the metric is undefined for it, or the data has no label).
    pub rank: Option<u32>,
    /// Its value of the metric ranked by.
    pub value: Option<f64>,
    /// Every metric of its predictions (over the segment's rows with a segment); none when the
    /// data has no label.
    pub metrics: Option<Metrics>,
    /// The predict job whose result it is.
    pub job: Uuid,
}

/// One feature's importance in each model, side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportanceSide {
    /// The feature.
    pub feature: String,
    /// Mean |influence| in each model, in the order of `models` (null for a model without
    /// influences on the dataset, or without the feature).
    pub mean_abs: Vec<Option<f64>>,
}

/// How much two models' predictions agree, row by row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agreement {
    /// One model.
    pub a: String,
    /// The other.
    pub b: String,
    /// Share of rows where both predict the same class (classifiers; binary at each predict
    /// job's threshold, else 0.5).
    pub decision_agreement: Option<f64>,
    /// Pearson correlation of their scores (the probability of class 1, or the predicted
    /// value); null for multiclass models, or when a score is constant.
    pub score_correlation: Option<f64>,
    /// Mean |difference| of their scores (multiclass: the mean total variation distance of
    /// their class probabilities).
    pub mean_abs_difference: f64,
}

/// A row where the models disagree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Disagreement {
    /// The row's index in the dataset.
    pub row: u64,
    /// Its value of the project's id column, when the project has one.
    pub id: Option<f64>,
    /// Its label, if it has one.
    pub label: Option<f64>,
    /// Each model's score (binary: the probability of class 1; regression: the prediction);
    /// null for multiclass models.
    pub scores: Option<Vec<f64>>,
    /// Each model's predicted class (classifiers).
    pub decisions: Option<Vec<u32>>,
    /// How far apart they are: the largest score minus the smallest (multiclass: the largest
    /// total variation distance between two models' class probabilities).
    pub spread: f64,
}

/// Models compared on one dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareReport {
    /// The dataset.
    pub dataset: String,
    /// The models, in the order asked.
    pub models: Vec<String>,
    /// The metric the leaderboard ranks by.
    pub metric: String,
    /// Whether a larger value of it is better.
    pub higher_is_better: bool,
    /// The segment compared on, when the query named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentScope>,
    /// Rows compared.
    pub rows: u64,
    /// The models by the metric, best first (those it is undefined for last).
    pub leaderboard: Vec<LeaderboardEntry>,
    /// Every feature's importance in each model, by its largest mean |influence| in any.
    pub importance: Vec<ImportanceSide>,
    /// Every pair of models.
    pub agreement: Vec<Agreement>,
    /// The rows where the models disagree most, by `spread`.
    pub disagreements: Vec<Disagreement>,
    /// What is missing and why (a model without influences on the dataset, data without labels).
    pub notes: Vec<String>,
}

/// How two models' predictions agree, from their scores on the same rows: `width` scores per row
/// (1 for binary and regression, the class count for multiclass), and each row's decision
/// (classifiers).
pub fn agreement(
    (a, b): (&str, &str),
    scores: (&[f64], &[f64]),
    decisions: Option<(&[u32], &[u32])>,
    width: usize,
) -> Agreement {
    let rows = scores.0.len() / width.max(1);
    let n = rows.max(1) as f64;
    let decision_agreement =
        decisions.map(|(x, y)| x.iter().zip(y).filter(|(p, q)| p == q).count() as f64 / n);
    let (score_correlation, mean_abs_difference) = if width == 1 {
        let (x, y) = scores;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let (mut sxy, mut sxx, mut syy, mut diff) = (0.0, 0.0, 0.0, 0.0);
        for (p, q) in x.iter().zip(y) {
            sxy += (p - mx) * (q - my);
            sxx += (p - mx).powi(2);
            syy += (q - my).powi(2);
            diff += (p - q).abs();
        }
        let r = sxy / (sxx * syy).sqrt();
        (r.is_finite().then_some(r), diff / n)
    } else {
        let total: f64 = scores
            .0
            .chunks(width)
            .zip(scores.1.chunks(width))
            .map(|(p, q)| total_variation(p, q))
            .sum();
        (None, total / n)
    };
    Agreement {
        a: a.to_string(),
        b: b.to_string(),
        decision_agreement,
        score_correlation,
        mean_abs_difference,
    }
}

/// Half the L1 distance between two probability vectors.
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_of_two_scores() {
        let x = [0.1, 0.4, 0.8, 0.9];
        let y = [0.2, 0.6, 0.7, 0.95];
        let dx = [0, 0, 1, 1];
        let dy = [0, 1, 1, 1];
        let a = agreement(("x", "y"), (&x, &y), Some((&dx, &dy)), 1);
        assert_eq!(a.decision_agreement, Some(0.75));
        assert!((a.mean_abs_difference - (0.1 + 0.2 + 0.1 + 0.05) / 4.0).abs() < 1e-12);
        let r = a.score_correlation.unwrap();
        assert!(r > 0.9 && r < 1.0, "{r}");
        let same = agreement(("x", "x"), (&x, &x), None, 1);
        assert!((same.score_correlation.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(same.mean_abs_difference, 0.0);
        // A constant score has no correlation.
        let flat = agreement(("x", "c"), (&x, &[0.5; 4]), None, 1);
        assert_eq!(flat.score_correlation, None);
    }

    #[test]
    fn multiclass_agreement_is_the_total_variation_distance() {
        let p = [0.7, 0.2, 0.1, 0.1, 0.1, 0.8];
        let q = [0.5, 0.4, 0.1, 0.1, 0.1, 0.8];
        let a = agreement(("p", "q"), (&p, &q), Some((&[0, 2], &[0, 2])), 3);
        assert!((a.mean_abs_difference - 0.1).abs() < 1e-12);
        assert_eq!(a.decision_agreement, Some(1.0));
        assert_eq!(a.score_correlation, None);
    }

    #[test]
    fn metrics_by_name_and_direction() {
        assert!(higher_is_better("roc_auc") && !higher_is_better("rmse"));
        let m = Metrics::of(
            crate::Task::Binary,
            None,
            0.5,
            &[0.9, 0.2, 0.6, 0.4],
            &[1.0, 0.0, 0.0, 1.0],
        );
        assert_eq!(m.named("accuracy"), Some(Some(0.5)));
        assert_eq!(m.named("rmse"), None);
        for name in CLASSIFICATION_METRICS {
            assert!(m.named(name).is_some(), "{name}");
        }
    }
}
