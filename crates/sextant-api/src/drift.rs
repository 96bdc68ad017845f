//! Drift between a reference dataset and a current one: the document a drift job stores
//! ([`DriftReport`]), each feature's and the score's statistics, the features that contribute
//! to the change of the mean score, and the verdicts against [`DriftThresholds`] (applied when
//! the report is read, so changing a threshold computes nothing again).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::Metrics;

/// A population stability index at or above this is drift unless asked otherwise.
pub const DEFAULT_PSI_THRESHOLD: f64 = 0.2;
/// A change of the missing share at or above this is drift unless asked otherwise.
pub const DEFAULT_MISSING_THRESHOLD: f64 = 0.05;
/// A share of current values in categories the reference lacks at or above this is drift unless
/// asked otherwise.
pub const DEFAULT_NEW_CATEGORY_THRESHOLD: f64 = 0.01;
/// Rows of each dataset whose influences give the contributors unless asked otherwise.
pub const DEFAULT_CONTRIBUTOR_ROWS: u64 = 1000;
/// Background rows taken from the reference when the job names no background dataset.
pub const DEFAULT_DRIFT_BACKGROUND_ROWS: usize = 100;

/// When a feature or the score counts as drifted: any one threshold crossed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DriftThresholds {
    /// Population stability index at or above this (default 0.2).
    pub psi: f64,
    /// Jensen–Shannon distance at or above this (none by default).
    #[serde(default)]
    pub jensen_shannon: Option<f64>,
    /// Kolmogorov–Smirnov (numeric) or χ² (categorical) p-value below this (none by default:
    /// on large datasets a negligible change is significant).
    #[serde(default)]
    pub pvalue: Option<f64>,
    /// Change of the missing share, either way, at or above this (default 0.05).
    pub missing: f64,
    /// Share of current values in categories the reference lacks, or of values outside the
    /// reference's range, at or above this (default 0.01).
    pub new_values: f64,
}

impl Default for DriftThresholds {
    fn default() -> DriftThresholds {
        DriftThresholds {
            psi: DEFAULT_PSI_THRESHOLD,
            jensen_shannon: None,
            pvalue: None,
            missing: DEFAULT_MISSING_THRESHOLD,
            new_values: DEFAULT_NEW_CATEGORY_THRESHOLD,
        }
    }
}

/// One bin of a histogram: `lower < value <= upper` for a numeric column (no bound: open on
/// that side), or one category; each dataset's share of its present values there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DriftBin {
    /// Exclusive lower bound (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// Inclusive upper bound (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
    /// The category (categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The reference's share.
    pub reference: f64,
    /// The current dataset's share.
    pub current: f64,
}

/// A category one dataset has and the other lacks, with its share of the side that has it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CategoryShare {
    /// Its name (or code, when the model records no names).
    pub category: String,
    /// Its share of that dataset's present values.
    pub share: f64,
}

/// Whether a column is numeric or categorical, for drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Numbers: binned at the reference's deciles; KS and Wasserstein over every value.
    Numeric,
    /// Categories: compared category by category; χ² instead of KS.
    Categorical,
}

/// One feature's (or the score's) drift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeatureDrift {
    /// The feature, or for the score the output (`score`, or a class's name).
    pub feature: String,
    /// Numeric or categorical.
    pub kind: ColumnKind,
    /// Population stability index over the bins (shares below 1e-4 count as 1e-4).
    pub psi: Option<f64>,
    /// Two-sample Kolmogorov–Smirnov statistic (numeric).
    pub ks: Option<f64>,
    /// Its asymptotic p-value (SciPy's `kstwobign.sf(√(nm/(n+m))·D)`).
    pub ks_pvalue: Option<f64>,
    /// Wasserstein (earth mover's) distance, in the feature's units (numeric).
    pub wasserstein: Option<f64>,
    /// Jensen–Shannon distance over the bins, base 2 (between 0 and 1).
    pub jensen_shannon: Option<f64>,
    /// Pearson's χ² of the 2 × k table of category counts, no continuity correction
    /// (categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi2: Option<f64>,
    /// Its p-value, k − 1 degrees of freedom (categorical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi2_pvalue: Option<f64>,
    /// Share of the reference's rows where it is missing.
    pub missing_reference: f64,
    /// Share of the current rows where it is missing.
    pub missing_current: f64,
    /// Share of the current present values outside the reference's range (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_range: Option<f64>,
    /// The reference's smallest and largest values (numeric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_range: Option<[f64; 2]>,
    /// Categories of the current dataset the reference lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_categories: Vec<CategoryShare>,
    /// Categories of the reference the current dataset lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vanished_categories: Vec<CategoryShare>,
    /// The histogram the PSI and Jensen–Shannon distance are computed over.
    pub bins: Vec<DriftBin>,
    /// Whether KS and Wasserstein are exact (both datasets had at most 8,192 distinct values);
    /// else read from buckets of nearby values, KS within `resolution`.
    pub exact: bool,
    /// How far KS can be from the exact statistic (0 when exact).
    pub resolution: f64,
    /// Why statistics are missing: a dataset where every value is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Whether a threshold is crossed.
    pub drifted: bool,
    /// Which, for a person (`psi 0.31 ≥ 0.2`).
    #[serde(default)]
    pub reasons: Vec<String>,
}

impl FeatureDrift {
    /// A feature's drift before its statistics are computed: every one absent, no verdict.
    pub fn empty(feature: &str, kind: ColumnKind, missing: (f64, f64)) -> FeatureDrift {
        FeatureDrift {
            feature: feature.to_string(),
            kind,
            psi: None,
            ks: None,
            ks_pvalue: None,
            wasserstein: None,
            jensen_shannon: None,
            chi2: None,
            chi2_pvalue: None,
            missing_reference: missing.0,
            missing_current: missing.1,
            out_of_range: None,
            reference_range: None,
            new_categories: Vec::new(),
            vanished_categories: Vec::new(),
            bins: Vec::new(),
            exact: true,
            resolution: 0.0,
            problem: None,
            drifted: false,
            reasons: Vec::new(),
        }
    }

    /// Sets the verdict against `thresholds`.
    pub fn judge(&mut self, t: &DriftThresholds) {
        let mut reasons = Vec::new();
        if let Some(psi) = self.psi.filter(|p| *p >= t.psi) {
            reasons.push(format!("psi {psi:.3} ≥ {}", t.psi));
        }
        if let (Some(js), Some(limit)) = (self.jensen_shannon, t.jensen_shannon)
            && js >= limit
        {
            reasons.push(format!("jensen_shannon {js:.3} ≥ {limit}"));
        }
        if let Some(limit) = t.pvalue {
            for (name, p) in [
                ("ks_pvalue", self.ks_pvalue),
                ("chi2_pvalue", self.chi2_pvalue),
            ] {
                if let Some(p) = p.filter(|p| *p < limit) {
                    reasons.push(format!("{name} {p:.3e} < {limit}"));
                }
            }
        }
        let missing = (self.missing_current - self.missing_reference).abs();
        if missing >= t.missing {
            reasons.push(format!(
                "missing share {:.3} → {:.3}",
                self.missing_reference, self.missing_current
            ));
        }
        let new: f64 = self.new_categories.iter().map(|c| c.share).sum();
        if !self.new_categories.is_empty() && new >= t.new_values {
            reasons.push(format!("{new:.3} of the values in new categories"));
        }
        if let Some(outside) = self.out_of_range.filter(|o| *o >= t.new_values) {
            reasons.push(format!(
                "{outside:.3} of the values outside the reference's range"
            ));
        }
        self.drifted = !reasons.is_empty();
        self.reasons = reasons;
    }
}

/// A change of a quality metric between the datasets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricChange {
    /// The metric (`roc_auc`, `rmse`, …).
    pub metric: String,
    /// On the reference.
    pub reference: Option<f64>,
    /// On the current dataset.
    pub current: Option<f64>,
    /// Current minus reference.
    pub change: Option<f64>,
}

/// The model's score in both datasets (empty by default: the report of a shard that does not
/// score).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScoreDrift {
    /// Each output's distribution (the probability of class 1 for a binary classifier, of each
    /// class for a multiclass one, the prediction for a regression), compared as a feature.
    pub outputs: Vec<FeatureDrift>,
    /// Each output's mean margin (log-odds for a classifier) over the reference.
    pub mean_margin_reference: Vec<f64>,
    /// Over the current dataset.
    pub mean_margin_current: Vec<f64>,
    /// Each output's mean score over the reference.
    pub mean_reference: Vec<f64>,
    /// Over the current dataset.
    pub mean_current: Vec<f64>,
    /// Quality on the reference, when it has labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_reference: Option<Metrics>,
    /// Quality on the current dataset, when it has labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_current: Option<Metrics>,
    /// Each metric's change, when both have labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_changes: Vec<MetricChange>,
}

/// A feature's part of the change of an output's mean margin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contributor {
    /// The feature.
    pub feature: String,
    /// The output (0 but for a multiclass model's classes).
    pub output: u32,
    /// Its mean influence on the current rows minus on the reference rows, in margin units.
    pub contribution: f64,
    /// Its share of the change (contribution over the change; null when there is no change).
    pub share: Option<f64>,
}

/// How the contributors were computed: `Σ_j contribution_j = mean margin(current rows) − mean
/// margin(reference rows)`, since each row's influences against the common background add up
/// to its margin minus the background's mean margin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attribution {
    /// `interventional` (TreeSHAP) or `sampled`.
    pub method: crate::InfluenceMethod,
    /// The background dataset, or null for rows of the reference.
    pub background: Option<String>,
    /// Background rows used.
    pub background_rows: u64,
    /// Reference rows explained (all of them, or a uniform sample).
    pub rows_reference: u64,
    /// Current rows explained.
    pub rows_current: u64,
    /// Each output's mean margin over the explained reference rows.
    pub mean_margin_reference: Vec<f64>,
    /// Over the explained current rows.
    pub mean_margin_current: Vec<f64>,
    /// Each output's change of the mean margin over the explained rows: what the contributions
    /// add up to.
    pub change: Vec<f64>,
    /// The largest gap between an output's change and its contributions' sum.
    pub residual: f64,
}

/// Drift of a model's data and score between a reference dataset and a current one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DriftReport {
    /// Format version of this document.
    pub version: u32,
    /// The job that computed it (null in the stored document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
    /// The model.
    pub model: String,
    /// The reference dataset.
    pub reference: String,
    /// The current dataset.
    pub dataset: String,
    /// Rows of the reference.
    pub rows_reference: u64,
    /// Rows of the current dataset.
    pub rows_current: u64,
    /// The thresholds the verdicts are against.
    pub thresholds: DriftThresholds,
    /// Features that drifted.
    pub drifted: u32,
    /// Each feature, in the model's order.
    pub features: Vec<FeatureDrift>,
    /// The score.
    pub score: ScoreDrift,
    /// Each feature's part of the change of the mean margin, largest first by size.
    pub contributors: Vec<Contributor>,
    /// How the contributors were computed.
    pub attribution: Option<Attribution>,
}

/// The version of drift documents this release writes.
pub const DRIFT_VERSION: u32 = 1;

impl DriftReport {
    /// Sets every verdict against `thresholds`.
    pub fn judge(&mut self, thresholds: DriftThresholds) {
        for f in self
            .features
            .iter_mut()
            .chain(self.score.outputs.iter_mut())
        {
            f.judge(&thresholds);
        }
        self.drifted = self.features.iter().filter(|f| f.drifted).count() as u32;
        self.thresholds = thresholds;
    }
}

/// The query of `GET /api/v1/projects/{project}/models/{model}/drift`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DriftQuery {
    /// The current dataset.
    pub dataset: String,
    /// The reference dataset.
    pub reference: String,
    /// A particular drift job's result (default: the newest over the two datasets as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
    /// Drifted at a population stability index at or above this (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0.0)]
    pub psi: Option<f64>,
    /// Drifted at a Jensen–Shannon distance at or above this (default: not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0.0, maximum = 1.0)]
    pub jensen_shannon: Option<f64>,
    /// Drifted at a KS or χ² p-value below this (default: not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0.0, maximum = 1.0)]
    pub pvalue: Option<f64>,
    /// Drifted at a change of the missing share at or above this (default 0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0.0, maximum = 1.0)]
    pub missing: Option<f64>,
    /// Drifted at a share of new categories or out-of-range values at or above this (default
    /// 0.01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0.0, maximum = 1.0)]
    pub new_values: Option<f64>,
}

impl DriftQuery {
    /// The thresholds asked for, the defaults where none is given; an error names a value out
    /// of its range.
    pub fn thresholds(&self) -> Result<DriftThresholds, String> {
        let d = DriftThresholds::default();
        let share = |name: &str, v: Option<f64>| match v {
            Some(x) if !(0.0..=1.0).contains(&x) => {
                Err(format!("{name} must be between 0 and 1, not {x}"))
            }
            _ => Ok(v),
        };
        let psi = self.psi.unwrap_or(d.psi);
        if !(psi >= 0.0 && psi.is_finite()) {
            return Err(format!(
                "psi must be a finite number at or above 0, not {psi}"
            ));
        }
        Ok(DriftThresholds {
            psi,
            jensen_shannon: share("jensen_shannon", self.jensen_shannon)?,
            pvalue: share("pvalue", self.pvalue)?,
            missing: share("missing", self.missing)?.unwrap_or(d.missing),
            new_values: share("new_values", self.new_values)?.unwrap_or(d.new_values),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(psi: f64, missing: (f64, f64)) -> FeatureDrift {
        FeatureDrift {
            psi: Some(psi),
            ks: Some(0.1),
            ks_pvalue: Some(0.001),
            wasserstein: Some(1.0),
            jensen_shannon: Some(0.2),
            out_of_range: Some(0.0),
            reference_range: Some([0.0, 1.0]),
            ..FeatureDrift::empty("f", ColumnKind::Numeric, missing)
        }
    }

    #[test]
    fn verdicts_follow_the_thresholds() {
        let t = DriftThresholds::default();
        let mut f = feature(0.25, (0.0, 0.0));
        f.judge(&t);
        assert!(f.drifted);
        assert_eq!(f.reasons, ["psi 0.250 ≥ 0.2"]);
        let mut f = feature(0.05, (0.0, 0.01));
        f.judge(&t);
        assert!(!f.drifted, "{:?}", f.reasons);
        f.judge(&DriftThresholds {
            pvalue: Some(0.01),
            ..t.clone()
        });
        assert_eq!(f.reasons, ["ks_pvalue 1.000e-3 < 0.01"]);
        let mut f = feature(0.0, (0.0, 0.3));
        f.judge(&t);
        assert_eq!(f.reasons, ["missing share 0.000 → 0.300"]);
    }

    #[test]
    fn thresholds_out_of_range_are_refused() {
        let q = DriftQuery {
            missing: Some(2.0),
            ..DriftQuery::default()
        };
        assert!(
            q.thresholds()
                .unwrap_err()
                .contains("missing must be between 0 and 1")
        );
        let q = DriftQuery {
            psi: Some(0.1),
            ..DriftQuery::default()
        };
        assert_eq!(q.thresholds().unwrap().psi, 0.1);
    }
}
