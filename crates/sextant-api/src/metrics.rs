//! Quality metrics: the document a predict job on labelled data stores beside its table.
//!
//! Fields are declared in alphabetical order: documents written before this type existed were
//! JSON maps with sorted keys, and the API answers byte for byte as it did. A value that is not
//! a number (a ratio over nothing) is stored as `null` and read back as NaN.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// Quality of a model's predictions, by task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Metrics {
    /// A regression's errors.
    Regression(RegressionQuality),
    /// A classifier's (binary or multiclass).
    Classification(ClassificationQuality),
}

/// The `task` of a regression's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegressionTask {
    /// Always `regression`.
    Regression,
}

/// The `task` of a classifier's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClassificationTask {
    /// Two classes.
    Binary,
    /// More than two.
    Multiclass,
}

fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A regression's quality against its labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegressionQuality {
    /// Mean absolute error.
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub mae: f64,
    /// Mean absolute percentage error over rows with a non-zero label, in percent; null when
    /// every label is zero.
    pub mape: Option<f64>,
    /// Coefficient of determination; null when the labels are constant.
    pub r2: Option<f64>,
    /// Root mean squared error.
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub rmse: f64,
    /// Labelled rows scored.
    pub rows: u64,
    /// `regression`.
    pub task: RegressionTask,
}

/// A classifier's quality against its labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClassificationQuality {
    /// Share of rows whose predicted class is the label.
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub accuracy: f64,
    /// Mean squared error of the probabilities against one-hot labels.
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub brier: f64,
    /// Number of classes.
    pub classes: u32,
    /// `confusion_matrix[actual][predicted]` counts.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// F1 of class 1 (binary) or the mean over classes (multiclass, macro).
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub f1: f64,
    /// Mean negative log-likelihood (probabilities clipped to [1e-15, 1 − 1e-15]).
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub log_loss: f64,
    /// Precision, likewise.
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub precision: f64,
    /// Recall, likewise.
    #[serde(deserialize_with = "nan_if_null")]
    #[schema(value_type = Option<f64>)]
    pub recall: f64,
    /// Area under the ROC curve (binary) or the mean of one-vs-rest AUCs; null when a class is
    /// absent from the labels.
    pub roc_auc: Option<f64>,
    /// Labelled rows scored.
    pub rows: u64,
    /// `binary` or `multiclass`.
    pub task: ClassificationTask,
    /// The probability at or above which a binary prediction is class 1 (null for multiclass).
    pub threshold: Option<f64>,
}

impl Metrics {
    /// The quality of a model's `responses` against `labels` (rows without a label left out by
    /// the caller): regression errors, or a classifier's metrics at `threshold` (binary) from
    /// one probability per row (binary: of class 1) or one per class (multiclass).
    pub fn of(
        task: crate::Task,
        classes: Option<u32>,
        threshold: f64,
        responses: &[f64],
        labels: &[f64],
    ) -> Metrics {
        use crate::quality::{classification_metrics, regression_metrics};
        match task {
            crate::Task::Regression => {
                let m = regression_metrics(responses, labels);
                Metrics::Regression(RegressionQuality {
                    mae: m.mae,
                    mape: m.mape,
                    r2: m.r2,
                    rmse: m.rmse,
                    rows: m.rows as u64,
                    task: RegressionTask::Regression,
                })
            }
            crate::Task::Binary | crate::Task::Multiclass => {
                let classes = if task == crate::Task::Binary {
                    2
                } else {
                    classes.unwrap_or(2) as usize
                };
                let labels: Vec<u32> = labels.iter().map(|&y| y as u32).collect();
                let m = classification_metrics(responses, &labels, classes, threshold);
                Metrics::Classification(ClassificationQuality {
                    accuracy: m.accuracy,
                    brier: m.brier,
                    classes: m.classes as u32,
                    confusion_matrix: m.confusion,
                    f1: m.f1,
                    log_loss: m.log_loss,
                    precision: m.precision,
                    recall: m.recall,
                    roc_auc: m.roc_auc,
                    rows: m.rows as u64,
                    task: if classes == 2 {
                        ClassificationTask::Binary
                    } else {
                        ClassificationTask::Multiclass
                    },
                    threshold: (classes == 2).then_some(m.threshold),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_documents_read_back_by_task() {
        let regression =
            r#"{"mae":1.5,"mape":null,"r2":0.25,"rmse":2.0,"rows":10,"task":"regression"}"#;
        let m: Metrics = serde_json::from_str(regression).unwrap();
        assert!(matches!(m, Metrics::Regression(ref q) if q.mape.is_none() && q.rows == 10));
        assert_eq!(serde_json::to_string(&m).unwrap(), regression);
        let binary = r#"{"accuracy":0.5,"brier":null,"classes":2,"confusion_matrix":[[1,1],[0,0]],"f1":0.0,"log_loss":0.7,"precision":0.0,"recall":0.0,"roc_auc":null,"rows":2,"task":"binary","threshold":0.5}"#;
        let m: Metrics = serde_json::from_str(binary).unwrap();
        let Metrics::Classification(q) = &m else {
            panic!("a classifier's metrics read as {m:?}")
        };
        assert!(q.brier.is_nan());
        assert_eq!(q.task, ClassificationTask::Binary);
        assert_eq!(serde_json::to_string(&m).unwrap(), binary);
    }
}
