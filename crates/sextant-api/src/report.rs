//! What the intelligence service answers: pages of result tables, and the importance and metrics
//! documents, each with where it came from.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{Importance, InfluenceMethod, Metrics, RowLoss};

/// The largest page of a result table.
pub const MAX_PAGE_ROWS: u64 = 10_000;

/// The page size when none is asked for.
pub const DEFAULT_PAGE_ROWS: u64 = 100;

/// Which result, and which rows of it (the query of the result endpoints).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    /// The dataset the result was computed on.
    pub dataset: String,
    /// For influences and importance: `path-dependent` or `interventional` (default: as for a
    /// job: interventional when `background` is given, else path-dependent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<InfluenceMethod>,
    /// For interventional influences: the background dataset (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// A result over the first N rows only (default: the result over the whole dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1)]
    pub rows: Option<u64>,
    /// For predictions and metrics: the classification threshold the result used (default:
    /// none given, 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub threshold: Option<f64>,
    /// For error influences and their importance: the loss the result explains (default: the
    /// newest result, whatever its loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<RowLoss>,
    /// The result of this job (it must be of this model and dataset); the other filters then
    /// do not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
    /// Only the rows of this segment: a segment of the project by name, or a segment
    /// expression such as `age >= 30 and region == "EU"` (default: every row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// First row (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0)]
    pub offset: Option<u64>,
    /// Rows in the page (default 100, at most 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u64>,
}

/// Which result to fetch whole (the query of the table endpoints): a [`ResultQuery`] without a
/// page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TableQuery {
    /// The dataset the result was computed on.
    pub dataset: String,
    /// For influences: `path-dependent` or `interventional` (default: interventional when
    /// `background` is given, else path-dependent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<InfluenceMethod>,
    /// For interventional influences: the background dataset (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// A result over the first N rows only (default: the result over the whole dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1)]
    pub rows: Option<u64>,
    /// For predictions: the classification threshold the result used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub threshold: Option<f64>,
    /// For error influences and their importance: the loss the result explains (default: the
    /// newest result, whatever its loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<RowLoss>,
    /// The result of this job; the other filters then do not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
}

/// What the importance endpoint takes beside a [`ResultQuery`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupsQuery {
    /// Also the importance of each of the project's feature groups (its members' influences
    /// summed on each row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<bool>,
}

impl From<TableQuery> for ResultQuery {
    fn from(q: TableQuery) -> ResultQuery {
        ResultQuery {
            dataset: q.dataset,
            method: q.method,
            background: q.background,
            rows: q.rows,
            threshold: q.threshold,
            loss: q.loss,
            job: q.job,
            offset: None,
            limit: None,
            segment: None,
        }
    }
}

/// The media type of a whole result table.
pub const PARQUET_MEDIA_TYPE: &str = "application/vnd.apache.parquet";

/// The header that names the job whose result a whole table is.
pub const SOURCE_JOB_HEADER: &str = "x-sextant-job";

/// Where a result came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Provenance {
    /// The job that computed it.
    pub job: Uuid,
    /// The model.
    pub model: String,
    /// The dataset.
    pub dataset: String,
    /// The influence method, for influences.
    pub method: Option<InfluenceMethod>,
    /// The background dataset, for interventional influences.
    pub background: Option<String>,
    /// Rows in the result.
    pub rows_total: u64,
    /// The algorithms' version that computed it (part of its cache key).
    pub algorithm_version: String,
    /// When it was stored.
    pub computed_at: chrono::DateTime<chrono::Utc>,
    /// The segment the answer covers, when the query asked for one (its figures are over
    /// the segment's rows only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<crate::SegmentScope>,
}

/// A page of a result table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TablePage {
    /// Where it came from.
    pub source: Provenance,
    /// The first row of the page.
    pub offset: u64,
    /// Rows asked for.
    pub limit: u64,
    /// Column names: `row` (the row's index in the dataset), the id column if the project has
    /// one, then the values.
    pub columns: Vec<String>,
    /// One array per row; missing values are null.
    pub rows: Vec<Vec<Option<f64>>>,
}

/// Global importance of a result, with its provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportanceReport {
    /// Where it came from.
    pub source: Provenance,
    /// Mean |influence| per feature, largest first.
    pub result: Importance,
    /// With `groups=true`: each feature group's importance, largest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<crate::GroupImportance>>,
}

/// Quality metrics of a result, with its provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsReport {
    /// Where it came from.
    pub source: Provenance,
    /// The metrics for the project's task.
    pub result: Metrics,
}
