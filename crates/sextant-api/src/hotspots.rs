//! Hotspots: the segments of a dataset (one or two conditions on its columns) where a model's
//! per-row loss is worst, ranked by the loss they hold beyond the overall rate, each with a
//! confidence interval and the expression a user can save as a segment.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{Provenance, Task};

/// Hotspots listed when the query gives no number.
pub const DEFAULT_HOTSPOTS: u32 = 10;

/// Quantile bins a numeric column is cut into when the query gives no number.
pub const DEFAULT_BINS: u32 = 10;

/// The query of `GET /api/v1/projects/{project}/models/{model}/hotspots`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HotspotQuery {
    /// The dataset the model's predictions were computed on (a predict job's result, on
    /// labelled rows).
    pub dataset: String,
    /// The per-row loss whose mean is searched for its worst segments: `error_rate` (default
    /// for classifiers), `log_loss`, `brier`; `absolute_error` (default for a regression),
    /// `squared_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<RowLoss>,
    /// The fewest labelled rows a hotspot may hold (default 1 % of the labelled rows, at
    /// least 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1)]
    pub min_size: Option<u64>,
    /// What hotspots are ranked by: `excess` (default: the loss a segment holds beyond the
    /// overall rate) or `lift` (its mean loss over the overall mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<HotspotRank>,
    /// Hotspots listed (default 10, at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Quantile bins each numeric column is cut into (default 10: cuts at the deciles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 2, maximum = 50)]
    pub bins: Option<u32>,
    /// The columns searched, comma-separated (default: every column of the dataset but the
    /// label and the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<String>,
    /// Confidence level of the intervals (default 0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0.5, maximum = 0.999)]
    pub confidence: Option<f64>,
    /// Bootstrap resamples of a mean loss other than the error rate (default 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 100, maximum = 100000)]
    pub resamples: Option<u32>,
    /// Seed of the resampling (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0)]
    pub seed: Option<u64>,
    /// The result of this predict job (of this model and dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
}

/// What hotspots are ranked by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HotspotRank {
    /// (mean loss − overall) × rows: the loss a segment holds beyond the overall rate.
    #[default]
    Excess,
    /// Mean loss over the overall mean: how much worse than overall its rows are.
    Lift,
}

/// A per-row loss of a model's prediction against the row's label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowLoss {
    /// 1 where the predicted class is not the label, else 0 (classifiers).
    ErrorRate,
    /// −ln of the probability of the label, clipped to [1e-15, 1 − 1e-15] (classifiers).
    LogLoss,
    /// Squared error of the probabilities against the one-hot label, over the positive class
    /// for a binary model, summed over the classes for a multiclass one (classifiers).
    Brier,
    /// |prediction − label| (regressions).
    AbsoluteError,
    /// (prediction − label)² (regressions).
    SquaredError,
}

const EPS: f64 = 1e-15;

impl RowLoss {
    /// Its name in queries and reports.
    pub fn name(self) -> &'static str {
        match self {
            RowLoss::ErrorRate => "error_rate",
            RowLoss::LogLoss => "log_loss",
            RowLoss::Brier => "brier",
            RowLoss::AbsoluteError => "absolute_error",
            RowLoss::SquaredError => "squared_error",
        }
    }

    /// The task's default.
    pub fn default_for(task: Task) -> RowLoss {
        match task {
            Task::Regression => RowLoss::AbsoluteError,
            _ => RowLoss::ErrorRate,
        }
    }

    /// Whether a model of `task` has this loss.
    pub fn fits(self, task: Task) -> bool {
        let regression = matches!(self, RowLoss::AbsoluteError | RowLoss::SquaredError);
        regression == (task == Task::Regression)
    }

    /// Whether each row's loss is 0 or 1 (so a segment's mean is a binomial proportion).
    pub fn is_binary(self) -> bool {
        self == RowLoss::ErrorRate
    }

    /// One row's loss: `scores` are its prediction (a regression's value, a binary model's
    /// P(class 1), or a multiclass model's probability per class), `label` its label (a class
    /// index for classifiers), `threshold` a binary model's decision threshold.
    pub fn loss(self, scores: &[f64], label: f64, threshold: f64) -> f64 {
        let binary = scores.len() == 1;
        let class = label.round() as usize;
        let prob = |c: usize| -> f64 {
            if binary {
                if c == 1 { scores[0] } else { 1.0 - scores[0] }
            } else {
                scores.get(c).copied().unwrap_or(0.0)
            }
        };
        match self {
            RowLoss::ErrorRate => {
                let predicted = if binary {
                    usize::from(scores[0] >= threshold)
                } else {
                    (0..scores.len())
                        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
                        .unwrap_or(0)
                };
                f64::from(u8::from(predicted != class))
            }
            RowLoss::LogLoss => -prob(class).clamp(EPS, 1.0 - EPS).ln(),
            RowLoss::Brier => {
                if binary {
                    (scores[0] - f64::from(u8::from(class == 1))).powi(2)
                } else {
                    (0..scores.len())
                        .map(|c| (scores[c] - f64::from(u8::from(c == class))).powi(2))
                        .sum()
                }
            }
            RowLoss::AbsoluteError => (scores[0] - label).abs(),
            RowLoss::SquaredError => (scores[0] - label).powi(2),
        }
    }
}

/// The hotspots of a model on a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HotspotReport {
    /// The predict job and result the losses come from.
    pub source: Provenance,
    /// The loss searched.
    pub metric: RowLoss,
    /// What the hotspots are ranked by.
    pub rank: HotspotRank,
    /// Its mean over every labelled row.
    pub overall: f64,
    /// Labelled rows searched.
    pub rows: u64,
    /// The fewest rows a hotspot could hold.
    pub min_size: u64,
    /// Quantile bins of the numeric columns.
    pub bins: u32,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// How the intervals were made: `clopper_pearson` (exact binomial, for the error rate) or
    /// `bootstrap` (percentile, seeded).
    pub interval: String,
    /// The columns searched, with how each was cut.
    pub columns: Vec<SearchedColumn>,
    /// Candidate segments weighed (conditions and pairs of conditions of at least `min_size`
    /// rows).
    pub candidates: u64,
    /// The worst segments, best ranked first.
    pub hotspots: Vec<Hotspot>,
}

/// A column the search cut into conditions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchedColumn {
    /// Its name.
    pub column: String,
    /// `numeric` (cut at quantiles) or `categorical` (by value).
    pub kind: String,
    /// Its cut points (numeric) or the values tried (categorical: the most frequent).
    #[schema(value_type = Vec<Object>)]
    pub cuts: Vec<serde_json::Value>,
}

/// A segment where the loss is worse than overall.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Hotspot {
    /// The segment as an expression (its conditions joined by `and`), ready to save with
    /// `sextant segment add`.
    pub expression: String,
    /// Its conditions, one or two.
    pub conditions: Vec<String>,
    /// Labelled rows in it.
    pub rows: u64,
    /// Its share of the labelled rows.
    pub share: f64,
    /// The mean loss over its rows.
    pub value: f64,
    /// Lower end of the interval of `value`.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// `value` over the overall mean (null when that is 0).
    pub lift: Option<f64>,
    /// The loss it holds beyond the overall rate: (value − overall) × rows (the default
    /// ranking key).
    pub excess: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metrics;

    /// Scores and labels of `rows` rows for a model of `width` outputs (seeded, deterministic).
    fn rows(rows: usize, width: usize, classes: usize) -> (Vec<f64>, Vec<f64>) {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..rows {
            let raw: Vec<f64> = (0..width).map(|_| next() + 0.01).collect();
            let total: f64 = raw.iter().sum();
            match (width, classes) {
                (1, 0) => scores.push(next() * 10.0),
                (1, _) => scores.push(raw[0].min(0.999)),
                _ => scores.extend(raw.iter().map(|r| r / total)),
            }
            labels.push(match classes {
                0 => next() * 10.0,
                k => (next() * k as f64).floor(),
            });
        }
        (scores, labels)
    }

    fn mean(metric: RowLoss, scores: &[f64], labels: &[f64], width: usize) -> f64 {
        let losses: Vec<f64> = scores
            .chunks(width)
            .zip(labels)
            .map(|(s, &y)| metric.loss(s, y, 0.4))
            .collect();
        losses.iter().sum::<f64>() / losses.len() as f64
    }

    #[test]
    fn a_mean_loss_is_the_metric_of_the_same_rows() {
        let (scores, labels) = rows(500, 1, 2);
        let Metrics::Classification(m) = Metrics::of(Task::Binary, None, 0.4, &scores, &labels)
        else {
            panic!("binary metrics");
        };
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} against {b}");
        close(
            mean(RowLoss::ErrorRate, &scores, &labels, 1),
            1.0 - m.accuracy,
        );
        close(mean(RowLoss::LogLoss, &scores, &labels, 1), m.log_loss);
        close(mean(RowLoss::Brier, &scores, &labels, 1), m.brier);

        let (scores, labels) = rows(500, 3, 3);
        let Metrics::Classification(m) =
            Metrics::of(Task::Multiclass, Some(3), 0.4, &scores, &labels)
        else {
            panic!("multiclass metrics");
        };
        close(
            mean(RowLoss::ErrorRate, &scores, &labels, 3),
            1.0 - m.accuracy,
        );
        close(mean(RowLoss::LogLoss, &scores, &labels, 3), m.log_loss);
        close(mean(RowLoss::Brier, &scores, &labels, 3), m.brier);

        let (scores, labels) = rows(500, 1, 0);
        let Metrics::Regression(m) = Metrics::of(Task::Regression, None, 0.5, &scores, &labels)
        else {
            panic!("regression metrics");
        };
        close(mean(RowLoss::AbsoluteError, &scores, &labels, 1), m.mae);
        let mse = mean(RowLoss::SquaredError, &scores, &labels, 1);
        assert!((mse.sqrt() - m.rmse).abs() < 1e-12);
    }

    #[test]
    fn each_loss_belongs_to_its_task() {
        for task in [Task::Binary, Task::Multiclass, Task::Regression] {
            assert!(RowLoss::default_for(task).fits(task));
        }
        assert!(!RowLoss::LogLoss.fits(Task::Regression));
        assert!(!RowLoss::SquaredError.fits(Task::Binary));
        let name = serde_json::to_value(RowLoss::AbsoluteError).unwrap();
        assert_eq!(name, RowLoss::AbsoluteError.name());
    }
}
