//! Results reduced on the server for plotting: quality curves from a prediction table, sampled
//! influence points with the data's values, and one row's explanation. A client (the web GUI, a
//! notebook) draws them without receiving every row of a large result.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{InfluenceMethod, Provenance, ResultQuery};

/// Influence points sampled per feature at most.
pub const MAX_POINTS: u32 = 5_000;

/// Influence points sampled when none is asked for.
pub const DEFAULT_POINTS: u32 = 1_000;

/// Features in one points answer at most.
pub const MAX_POINT_FEATURES: usize = 50;

/// Features in a points answer when none are named: the most important.
pub const DEFAULT_POINT_FEATURES: usize = 12;

/// Which result a view reduces (the query of the curves endpoint): the result filters of
/// [`ResultQuery`] without a page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CurvesQuery {
    /// The dataset the predictions were computed on.
    pub dataset: String,
    /// A result over the first N rows only (default: the result over the whole dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1)]
    pub rows: Option<u64>,
    /// The classification threshold the result used (default: none given, 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub threshold: Option<f64>,
    /// The result of this job; the other filters then do not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
    /// Only the rows of this segment: a segment of the project by name, or a segment
    /// expression such as `age >= 30 and region == "EU"` (default: every row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

impl From<CurvesQuery> for ResultQuery {
    fn from(q: CurvesQuery) -> ResultQuery {
        ResultQuery {
            dataset: q.dataset,
            rows: q.rows,
            threshold: q.threshold,
            job: q.job,
            segment: q.segment,
            ..ResultQuery::default()
        }
    }
}

/// Which influences, which features and how many points (the query of the points endpoint).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PointsQuery {
    /// The dataset the influences were computed on.
    pub dataset: String,
    /// `path-dependent` or `interventional` (default: as for a job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<InfluenceMethod>,
    /// For interventional influences: the background dataset (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// A result over the first N rows only (default: the whole dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1)]
    pub rows: Option<u64>,
    /// The result of this job; the other filters then do not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
    /// Features, comma-separated (default: the 12 most important; at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<String>,
    /// Rows sampled, evenly spread over the result (default 1,000, at most 5,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 5000)]
    pub points: Option<u32>,
    /// For a multiclass model: the class whose influences to give (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<u32>,
    /// Only the rows of this segment: a segment of the project by name, or a segment
    /// expression such as `age >= 30 and region == "EU"` (default: every row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

impl PointsQuery {
    /// The result this query names.
    pub fn result(&self) -> ResultQuery {
        ResultQuery {
            dataset: self.dataset.clone(),
            method: self.method,
            background: self.background.clone(),
            rows: self.rows,
            job: self.job,
            segment: self.segment.clone(),
            ..ResultQuery::default()
        }
    }
}

/// Which row to explain (the query of the explanation endpoint).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExplanationQuery {
    /// The dataset the influences were computed on.
    pub dataset: String,
    /// `path-dependent` or `interventional` (default: as for a job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<InfluenceMethod>,
    /// For interventional influences: the background dataset (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// The result of this job; the other filters then do not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
    /// The row's index in the dataset (from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0)]
    pub row: Option<u64>,
    /// The row's value in the project's id column (instead of `row`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<f64>,
    /// For a multiclass model: the class whose influences to give (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<u32>,
}

/// A point of a curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurvePoint {
    /// ROC: the false positive rate; precision-recall: the recall.
    pub x: f64,
    /// ROC: the true positive rate; precision-recall: the precision.
    pub y: f64,
    /// The score at or above which a row is called positive here (null at the curve's start,
    /// where no row is).
    pub threshold: Option<f64>,
}

/// A bin of the calibration curve: rows whose predicted probability falls in `[from, to)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CalibrationBin {
    /// Lower edge of the bin.
    pub from: f64,
    /// Upper edge of the bin.
    pub to: f64,
    /// Mean predicted probability of its rows.
    pub predicted: f64,
    /// Share of its rows whose label is positive.
    pub observed: f64,
    /// Labelled rows in it.
    pub rows: u64,
}

/// The confusion counts of a binary classifier called positive at `threshold` and above.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ThresholdCounts {
    /// The threshold.
    pub threshold: f64,
    /// Positives called positive.
    pub tp: u64,
    /// Negatives called positive.
    pub fp: u64,
    /// Negatives called negative.
    pub tn: u64,
    /// Positives called negative.
    #[serde(rename = "fn")]
    pub fn_: u64,
}

/// A binary classifier's curves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BinaryCurves {
    /// The ROC curve from (0, 0) to (1, 1), one point per distinct score, thinned evenly to at
    /// most 500 points (its ends kept).
    pub roc: Vec<CurvePoint>,
    /// The precision-recall curve, likewise.
    pub precision_recall: Vec<CurvePoint>,
    /// Ten bins of equal width over [0, 1]; empty bins are left out.
    pub calibration: Vec<CalibrationBin>,
    /// The confusion counts at thresholds 0.00, 0.01, …, 1.00.
    pub thresholds: Vec<ThresholdCounts>,
}

/// A residual of a sampled row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResidualPoint {
    /// The row's index in the dataset.
    pub row: u64,
    /// The prediction.
    pub prediction: f64,
    /// The label.
    pub label: f64,
}

/// A bin of a histogram: values in `[from, to)` (the last bin includes `to`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistogramBin {
    /// Lower edge.
    pub from: f64,
    /// Upper edge.
    pub to: f64,
    /// Values in it.
    pub count: u64,
}

/// A regression's residuals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegressionCurves {
    /// At most 2,000 labelled rows, evenly spread over the result.
    pub points: Vec<ResidualPoint>,
    /// Label − prediction over every labelled row, in 40 bins.
    pub residuals: Vec<HistogramBin>,
}

/// Quality curves of a model's predictions on a labelled dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurvesReport {
    /// Where they came from.
    pub source: Provenance,
    /// Labelled rows the curves are over.
    pub labelled: u64,
    /// For a binary classifier.
    pub binary: Option<BinaryCurves>,
    /// For a regression.
    pub regression: Option<RegressionCurves>,
}

/// One feature's sampled points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeaturePoints {
    /// The feature.
    pub feature: String,
    /// Its values at the sampled rows (a categorical feature's category index); null where
    /// missing.
    pub values: Vec<Option<f64>>,
    /// Its influences at the sampled rows.
    pub influences: Vec<Option<f64>>,
    /// A categorical feature's category names, by index.
    pub categories: Option<Vec<String>>,
    /// Mean |influence| over every row of the result.
    pub mean_abs: Option<f64>,
}

/// Influences at sampled rows, with the data's values there: what a beeswarm or a dependence
/// plot draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InfluencePoints {
    /// Where they came from.
    pub source: Provenance,
    /// The sampled rows' indices in the dataset.
    pub rows: Vec<u64>,
    /// The features asked for, in the order asked (most important first by default).
    pub features: Vec<FeaturePoints>,
}

/// A feature's part in one row's explanation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contribution {
    /// The feature.
    pub feature: String,
    /// Its value in the row as the data has it (a category's name; null where missing).
    pub value: Option<String>,
    /// Its influence.
    pub influence: f64,
}

/// One row's explanation: the base value plus the contributions give the margin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RowExplanation {
    /// Where it came from.
    pub source: Provenance,
    /// The row's index in the dataset.
    pub row: u64,
    /// The row's id, when the project has an id column.
    pub id: Option<f64>,
    /// The class explained (multiclass), else 0.
    pub class: u32,
    /// The expected margin.
    pub base_value: f64,
    /// The row's margin.
    pub margin: f64,
    /// Every feature's contribution, largest |influence| first.
    pub contributions: Vec<Contribution>,
}
