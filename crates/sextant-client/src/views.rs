//! The intelligence service's views reduced for plotting: quality curves, influence points and
//! one row's explanation; hotspots; fairness between two groups of rows; models compared.

use serde::Serialize;
use serde_json::Value;
use sextant_api::{
    CompareQuery, CompareReport, CurvesQuery, CurvesReport, DriftQuery, DriftReport,
    ExplanationQuery, FairnessQuery, FairnessReport, HotspotQuery, HotspotReport, InfluencePoints,
    PointsQuery, RowExplanation,
};

use crate::{Client, ClientResult};
use sextant_api::url_component;

/// `base?k=v&…` from a query's fields that are set, percent-encoded.
fn with_query(base: String, query: &impl Serialize) -> String {
    let fields = match serde_json::to_value(query) {
        Ok(Value::Object(fields)) => fields,
        _ => return base,
    };
    let pairs: Vec<String> = fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}={}", url_component(&text))
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

impl Client {
    pub(crate) fn view_path(
        project: &str,
        model: &str,
        what: &str,
        query: &impl Serialize,
    ) -> String {
        with_query(
            format!(
                "/api/v1/projects/{}/models/{}/{what}",
                url_component(project),
                url_component(model)
            ),
            query,
        )
    }

    /// Several models of a project compared on one dataset.
    pub fn compare(&self, project: &str, query: &CompareQuery) -> ClientResult<CompareReport> {
        let base = format!("/api/v1/projects/{}/compare", url_component(project));
        self.get(&with_query(base, query))
    }

    /// Drift of a model's data and score between a reference dataset and a current one.
    pub fn drift(
        &self,
        project: &str,
        model: &str,
        query: &DriftQuery,
    ) -> ClientResult<DriftReport> {
        self.get(&Self::view_path(project, model, "drift", query))
    }

    /// The segments of a dataset where a model's loss is worst.
    pub fn hotspots(
        &self,
        project: &str,
        model: &str,
        query: &HotspotQuery,
    ) -> ClientResult<HotspotReport> {
        self.get(&Self::view_path(project, model, "hotspots", query))
    }

    /// Fairness of a binary classifier between a protected group and a reference group.
    pub fn fairness(
        &self,
        project: &str,
        model: &str,
        query: &FairnessQuery,
    ) -> ClientResult<FairnessReport> {
        self.get(&Self::view_path(project, model, "fairness", query))
    }

    /// Quality curves of a model's predictions on a labelled dataset.
    pub fn curves(
        &self,
        project: &str,
        model: &str,
        query: &CurvesQuery,
    ) -> ClientResult<CurvesReport> {
        self.get(&Self::view_path(project, model, "curves", query))
    }

    /// Influences at sampled rows, with the data's values there.
    pub fn influence_points(
        &self,
        project: &str,
        model: &str,
        query: &PointsQuery,
    ) -> ClientResult<InfluencePoints> {
        self.get(&Self::view_path(project, model, "influences/points", query))
    }

    /// One row's explanation, by its index or its id.
    pub fn explanation(
        &self,
        project: &str,
        model: &str,
        query: &ExplanationQuery,
    ) -> ClientResult<RowExplanation> {
        self.get(&Self::view_path(project, model, "explanation", query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_carry_the_fields_set_encoded() {
        let query = PointsQuery {
            dataset: "my data".into(),
            features: Some("a,b".into()),
            points: Some(10),
            ..PointsQuery::default()
        };
        assert_eq!(
            Client::view_path("p", "m", "influences/points", &query),
            "/api/v1/projects/p/models/m/influences/points?dataset=my%20data&features=a%2Cb&points=10"
        );
    }
}
