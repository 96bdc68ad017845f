//! Sextant's wire and protocol types, shared by the services, the analyzer, the client and the
//! store, with no IO of their own:
//!
//! - API views and request bodies: [`Project`], [`Model`], [`Dataset`], [`Job`], [`CreateJob`],
//!   [`ErrorBody`], and the intelligence service's answers ([`TablePage`], [`ImportanceReport`],
//!   [`MetricsReport`], and the views reduced for plotting: [`CurvesReport`], [`InfluencePoints`],
//!   [`RowExplanation`]);
//! - persisted documents, each with a `version` so later releases read what earlier ones wrote:
//!   [`JobSpec`], [`ResultManifest`], and the typed [`Importance`] and [`Metrics`] documents;
//! - segments: [`Segment`], [`CreateSegment`], and the [`SegmentScope`] a report was computed on;
//!   feature groups: [`FeatureGroup`], [`CreateFeatureGroup`], [`GroupImportance`]; fairness
//!   between two groups of rows: [`FairnessQuery`], [`FairnessReport`], [`FairnessMeasures`];
//!   models compared on one dataset: [`CompareQuery`], [`CompareReport`]; drift between a
//!   reference and a current dataset: [`DriftQuery`], [`DriftReport`];
//! - accounts: [`User`], [`Role`], [`Member`], [`TokenInfo`], [`AuditEntry`];
//! - the analyzer protocol ([`AnalyzerTask`], [`ProgressAck`], [`FailureReport`]).
//!
//! Every type that crosses the API derives `utoipa::ToSchema`, so the OpenAPI document has a
//! schema for every body.

mod accounts;
mod catalog;
mod compare;
mod drift;
mod error;
mod fairness;
mod groups;
mod hotspots;
mod importance;
mod intervals;
mod job;
mod metrics;
mod project;
mod protocol;
mod quality;
mod report;
mod result;
mod segment;
mod special;
mod views;
mod whole;

pub use accounts::*;
pub use catalog::*;
pub use compare::*;
pub use drift::*;
pub use error::*;
pub use fairness::*;
pub use groups::*;
pub use hotspots::*;
pub use importance::*;
pub use intervals::*;
pub use job::*;
pub use metrics::*;
pub use project::*;
pub use protocol::*;
pub use report::*;
pub use result::*;
pub use segment::*;
pub use special::{chi2_sf, gamma_q, kolmogorov_sf};
pub use views::*;

/// What a URL component keeps as it is: letters, digits and `-_.~` (RFC 3986's unreserved).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a URL component (a path segment or a query value): the names of projects,
/// models and datasets in the API's URLs.
pub fn url_component(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// The version of the algorithms, part of every cache key: a release whose numbers may differ
/// changes it, so results it would compute differently are computed again.
pub const ALGORITHM_VERSION: &str = concat!("sextant-", env!("CARGO_PKG_VERSION"), "+algo.1");
