//! Projects: the schema every model and dataset of a project is checked against.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a project's model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// A real-valued target.
    Regression,
    /// Two classes, labelled 0 and 1.
    Binary,
    /// `k` classes, labelled 0 … k−1.
    Multiclass,
}

/// Which scale a model's scores are reported on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScoreType {
    /// After the link function (class probabilities, expected values).
    Probability,
    /// The raw margin (log-odds for classifiers).
    Logit,
    /// The model's untransformed output (regression).
    Raw,
}

/// Whether a feature is a number or a category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeatureType {
    /// Numbers.
    Numeric,
    /// Category names or codes.
    Categorical,
}

/// One feature of a project's schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Column name.
    pub name: String,
    /// Numeric or categorical.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// For a categorical feature: the allowed category names, when the schema restricts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

/// The columns a project's data has and what its models predict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSchema {
    /// Model inputs, by column name.
    #[schema(min_items = 1)]
    pub features: Vec<FeatureSpec>,
    /// The label (target) column, when datasets carry one.
    #[serde(default)]
    pub label: Option<String>,
    /// A numeric column identifying each row, copied into results.
    #[serde(default)]
    pub id: Option<String>,
    /// Regression, binary or multiclass.
    pub task: Task,
    /// The scale predictions are reported on.
    pub score_type: ScoreType,
    /// Number of classes of a multiclass task.
    #[serde(default, deserialize_with = "crate::whole::opt_u32")]
    #[schema(minimum = 3, maximum = 65535)]
    pub classes: Option<u32>,
}

impl ProjectSchema {
    /// The features' names, in the schema's order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }
}

/// A project: a namespace with a schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// Unique name.
    pub name: String,
    /// Features, label, id, task, score type.
    pub schema: ProjectSchema,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new project (the body of `POST /api/v1/projects`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Unique name: 1–64 letters, digits, `-`, `_`, `.`.
    #[schema(
        pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$",
        min_length = 1,
        max_length = 64
    )]
    pub name: String,
    /// Features, label, id, task, score type.
    pub schema: ProjectSchema,
}

impl FeatureSpec {
    /// Reads a feature list as the CLI and the GUI take it: names separated by commas, each
    /// optionally `name:numeric` or `name:categorical` (numeric when not said).
    pub fn parse_list(list: &[String]) -> Result<Vec<FeatureSpec>, String> {
        let mut features: Vec<FeatureSpec> = Vec::new();
        for item in list.iter().flat_map(|l| l.split(',')) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, kind) = match item.split_once(':') {
                Some((n, "categorical")) => (n, FeatureType::Categorical),
                Some((n, "numeric")) => (n, FeatureType::Numeric),
                Some((_, other)) => {
                    return Err(format!(
                        "feature type {other:?} is not numeric or categorical"
                    ));
                }
                None => (item, FeatureType::Numeric),
            };
            let name = name.trim().to_string();
            if features.iter().any(|f| f.name == name) {
                return Err(format!("feature {name:?} is listed twice"));
            }
            features.push(FeatureSpec {
                name,
                kind,
                categories: None,
            });
        }
        Ok(features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_lists() {
        let f = FeatureSpec::parse_list(&["age, region:categorical".into(), "x:numeric".into()])
            .unwrap();
        let names: Vec<(&str, FeatureType)> = f.iter().map(|f| (f.name.as_str(), f.kind)).collect();
        assert_eq!(
            names,
            [
                ("age", FeatureType::Numeric),
                ("region", FeatureType::Categorical),
                ("x", FeatureType::Numeric)
            ]
        );
        assert!(
            FeatureSpec::parse_list(&["a:text".into()])
                .unwrap_err()
                .contains("text")
        );
        assert!(
            FeatureSpec::parse_list(&["a,a".into()])
                .unwrap_err()
                .contains("twice")
        );
    }
}
