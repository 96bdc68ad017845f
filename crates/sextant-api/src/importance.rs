//! Global importance: the document an influences job stores beside its table, and how the
//! documents of a sharded job's parts make the whole one.
//!
//! Fields are declared in alphabetical order: documents written before this type existed were
//! JSON maps with sorted keys, and the API answers byte for byte as it did.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::InfluenceMethod;

/// The scale influences are measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InfluenceScale {
    /// The model's margin (log-odds for classifiers), whatever the project's score type:
    /// TreeSHAP explains the margin.
    Margin,
    /// The model's output as its file computes it (an ONNX graph's probabilities or values):
    /// sampled Shapley on a graph explains what the graph outputs.
    Output,
    /// Each row's loss against its label (error influences): positive influences raise it.
    Loss,
}

/// One feature's global importance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeatureImportance {
    /// The feature's name.
    pub feature: String,
    /// Mean influence (signed), averaged over the outputs.
    pub mean: f64,
    /// Mean |influence|, averaged over the outputs.
    pub mean_abs: f64,
    /// Mean |influence| per output (multiclass models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_abs_by_class: Option<Vec<f64>>,
    /// Sampled influences: the standard error of `mean_abs` that sampling leaves (the rows
    /// taken as given); `mean_abs ± 1.96 × mean_abs_stderr` is its 95 % confidence interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_abs_stderr: Option<f64>,
}

/// Global importance of an influences result (stored as `importance.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Importance {
    /// The background dataset, for interventional influences.
    pub background: Option<String>,
    /// The dataset explained.
    pub dataset: String,
    /// Features, largest mean |influence| first.
    pub features: Vec<FeatureImportance>,
    /// The Shapley game explained.
    pub method: Option<InfluenceMethod>,
    /// Rows averaged over.
    pub rows: u64,
    /// The scale of the influences.
    pub scale: InfluenceScale,
    /// For error influences: the loss explained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<crate::RowLoss>,
    /// For a sharded job: how many parts were merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
}

impl Importance {
    /// Orders the features by mean |influence|, largest first.
    pub fn sort(&mut self) {
        self.features
            .sort_by(|a, b| b.mean_abs.total_cmp(&a.mean_abs));
    }

    /// The importance of the whole from its parts' (each a mean over its own rows): row-weighted
    /// means, in the first part's feature order, sorted again. `None` for no parts.
    pub fn merge(parts: &[Importance]) -> Option<Importance> {
        let first = parts.first()?;
        let total: u64 = parts.iter().map(|p| p.rows).sum();
        let mut order: Vec<&str> = Vec::new();
        // Per feature: weighted sums of mean |φ|, of mean φ, per class, and of the variance.
        type Sums = (f64, f64, Vec<f64>, Option<f64>);
        let mut sums: BTreeMap<&str, Sums> = BTreeMap::new();
        for part in parts {
            let weight = part.rows as f64 / total.max(1) as f64;
            for entry in &part.features {
                let sum = sums.entry(&entry.feature).or_insert_with(|| {
                    order.push(&entry.feature);
                    (0.0, 0.0, Vec::new(), None)
                });
                sum.0 += weight * entry.mean_abs;
                sum.1 += weight * entry.mean;
                // Independent parts: their weighted variances add.
                if let Some(se) = entry.mean_abs_stderr {
                    *sum.3.get_or_insert(0.0) += (weight * se).powi(2);
                }
                if let Some(by_class) = &entry.mean_abs_by_class {
                    sum.2.resize(by_class.len(), 0.0);
                    for (s, v) in sum.2.iter_mut().zip(by_class) {
                        *s += weight * v;
                    }
                }
            }
        }
        let features = order
            .iter()
            .map(|name| {
                let (mean_abs, mean, by_class, variance) = &sums[name];
                FeatureImportance {
                    feature: name.to_string(),
                    mean: *mean,
                    mean_abs: *mean_abs,
                    mean_abs_by_class: (!by_class.is_empty()).then(|| by_class.clone()),
                    mean_abs_stderr: variance.map(f64::sqrt),
                }
            })
            .collect();
        let mut merged = Importance {
            features,
            rows: total,
            shards: Some(parts.len() as u32),
            ..first.clone()
        };
        merged.sort();
        Some(merged)
    }
}

/// Sums over rows that make global importance: what an influences job keeps while it writes
/// its table, and what the importance of a segment is computed from its stored rows.
#[derive(Clone, Debug)]
pub struct ImportanceSums {
    features: usize,
    outputs: usize,
    abs: Vec<f64>,
    signed: Vec<f64>,
    variance: Option<Vec<f64>>,
}

impl ImportanceSums {
    /// Empty sums for `features` features and `outputs` outputs; `with_stderr` when the
    /// influences are sampled and carry standard errors.
    pub fn new(features: usize, outputs: usize, with_stderr: bool) -> ImportanceSums {
        let cells = features * outputs;
        ImportanceSums {
            features,
            outputs,
            abs: vec![0.0; cells],
            signed: vec![0.0; cells],
            variance: with_stderr.then(|| vec![0.0; cells]),
        }
    }

    /// Adds one row's influences of `output` (one per feature).
    pub fn add(&mut self, output: usize, influences: &[f64]) {
        let at = output * self.features;
        for (j, v) in influences[..self.features].iter().enumerate() {
            self.abs[at + j] += v.abs();
            self.signed[at + j] += v;
        }
    }

    /// Adds one row's standard errors (output-major: every feature of output 0, then 1, …).
    pub fn add_stderr(&mut self, errors: &[f64]) {
        if let Some(variance) = &mut self.variance {
            for (sum, se) in variance.iter_mut().zip(errors) {
                *sum += se * se;
            }
        }
    }

    /// The importance of each feature (`names`, in the model's order) over `rows` rows.
    pub fn features(&self, names: &[String], rows: u64) -> Vec<FeatureImportance> {
        let (nf, n_out) = (self.features, self.outputs);
        let n = rows.max(1) as f64;
        names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let per_class: Vec<f64> = (0..n_out).map(|k| self.abs[k * nf + j] / n).collect();
                let mean_abs = per_class.iter().sum::<f64>() / n_out as f64;
                let mean =
                    (0..n_out).map(|k| self.signed[k * nf + j] / n).sum::<f64>() / n_out as f64;
                // The mean of |φ| over rows and outputs moves with each value's sampling error:
                // its variance is the sum of theirs over the count squared.
                let stderr = self.variance.as_ref().map(|v| {
                    let sum: f64 = (0..n_out).map(|k| v[k * nf + j]).sum();
                    sum.sqrt() / (n * n_out as f64)
                });
                FeatureImportance {
                    feature: name.clone(),
                    mean,
                    mean_abs,
                    mean_abs_by_class: (n_out > 1).then_some(per_class),
                    mean_abs_stderr: stderr,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(name: &str, mean_abs: f64, mean: f64) -> FeatureImportance {
        FeatureImportance {
            feature: name.into(),
            mean,
            mean_abs,
            mean_abs_by_class: None,
            mean_abs_stderr: None,
        }
    }

    fn part(rows: u64, features: Vec<FeatureImportance>) -> Importance {
        Importance {
            background: None,
            dataset: "d".into(),
            features,
            method: None,
            rows,
            scale: InfluenceScale::Margin,
            loss: None,
            shards: None,
        }
    }

    #[test]
    fn merged_importance_is_the_row_weighted_mean() {
        let a = part(300, vec![feature("x", 1.0, 0.5), feature("y", 2.0, -1.0)]);
        let b = part(100, vec![feature("y", 6.0, 3.0), feature("x", 5.0, 0.5)]);
        let m = Importance::merge(&[a, b]).unwrap();
        assert_eq!((m.rows, m.shards), (400, Some(2)));
        assert_eq!(m.features[0].feature, "y");
        assert_eq!((m.features[0].mean_abs, m.features[0].mean), (3.0, 0.0));
        assert_eq!((m.features[1].mean_abs, m.features[1].mean), (2.0, 0.5));
        assert_eq!(m.features[0].mean_abs_stderr, None);
    }

    #[test]
    fn merged_standard_errors_add_as_variances() {
        let with = |se: f64| FeatureImportance {
            mean_abs_stderr: Some(se),
            ..feature("x", 1.0, 0.5)
        };
        let m =
            Importance::merge(&[part(100, vec![with(0.3)]), part(100, vec![with(0.4)])]).unwrap();
        // sqrt((0.5 × 0.3)² + (0.5 × 0.4)²) = 0.25
        assert!((m.features[0].mean_abs_stderr.unwrap() - 0.25).abs() < 1e-15);
    }

    #[test]
    fn documents_keep_the_stored_key_order() {
        let doc = part(2, vec![feature("x", 1.0, 0.5)]);
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"background":null,"dataset":"d","features":[{"feature":"x","mean":0.5,"mean_abs":1.0}],"method":null,"rows":2,"scale":"margin"}"#
        );
    }
}
