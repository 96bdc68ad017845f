//! Fairness of a binary classifier between two groups of a dataset's rows, from its stored
//! predictions: each group's counts of decisions against labels are read in one pass over the
//! table, and the measures and their intervals computed from the counts
//! ([`FairnessMeasures::between`]).

use axum::Json;
use axum::extract::State;
use sextant_api::{
    DEFAULT_SEED, FOUR_FIFTHS, FairnessGroups, FairnessMeasures, FairnessQuery, FairnessReport,
    GroupCounts, JobKind, ResultQuery, Role, SegmentScope, Task,
};

use super::reading::{blocking, local_tables, paths, scan};
use super::segments::{holds, segment_of};
use super::{find, interval_options, provenance};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, ErrorCode};

/// Fairness of the model between a protected group and a reference group (by default the rest
/// of the rows): each group's rates, fairlearn's measures between them, and bootstrap intervals.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/fairness", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), FairnessQuery),
    responses((status = 200, body = FairnessReport), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn fairness(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<FairnessQuery>,
) -> ApiResult<Json<FairnessReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let (confidence, resamples) = interval_options(query.confidence, query.resamples)?;
    let seed = query.seed.unwrap_or(DEFAULT_SEED);
    let asked = ResultQuery {
        dataset: query.dataset.clone(),
        rows: query.rows,
        job: query.job,
        ..ResultQuery::default()
    };
    let (job, result) = find(&deps, &project, &model, &asked, JobKind::Predict).await?;
    // Checked once the model is found: an unknown model is a 404 whatever the project.
    let schema = deps.metastore.project(&project).await?.schema;
    if schema.task != Task::Binary {
        return Err(ApiError::invalid(format!(
            "fairness compares the decisions of a binary classifier; project {project:?} is a {} project",
            match schema.task {
                Task::Regression => "regression",
                _ => "multiclass",
            }
        )));
    }
    let threshold = query
        .threshold
        .or(job.spec.options.threshold)
        .unwrap_or(0.5);
    let protected = segment_of(&deps, &project, Some(&query.protected), &job)
        .await?
        .expect("a segment was asked");
    let reference = match &query.reference {
        Some(asked) => Some(
            segment_of(&deps, &project, Some(asked), &job)
                .await?
                .expect("a segment was asked"),
        ),
        None => None,
    };
    let columns = &result.manifest.columns;
    let labelled = columns.iter().any(|c| c == "label");
    let mut wanted = vec!["row".to_string(), "prediction".to_string()];
    if labelled {
        wanted.push("label".into());
    }
    let copies = local_tables(&deps, &result).await?;
    let inside = protected.rows();
    let other = reference.as_ref().map(|r| r.rows());
    let (counts, shared) = blocking(move || {
        let mut counts = [GroupCounts::default(), GroupCounts::default()];
        let mut shared = 0u64;
        scan(&paths(&copies), &wanted, |cells| {
            let in_protected = holds(&inside, cells[0]);
            let in_reference = match &other {
                Some(other) => holds(other, cells[0]),
                None => !in_protected,
            };
            let group = match (in_protected, in_reference) {
                (true, true) => {
                    shared += 1;
                    return;
                }
                (true, false) => 0,
                (false, true) => 1,
                (false, false) => return,
            };
            let label = cells.get(2).copied().filter(|y| !y.is_nan());
            counts[group].add(cells[1] >= threshold, label.map(|y| y >= 0.5));
        })?;
        Ok((counts, shared))
    })
    .await?;
    let total = result.manifest.rows;
    let complement = SegmentScope {
        name: None,
        expression: format!("not ({})", protected.scope(0, 0).expression),
        rows: counts[1].rows(),
        of_rows: total,
    };
    let protected_scope = protected.scope(counts[0].rows(), total);
    let reference_scope = match &reference {
        Some(r) => r.scope(counts[1].rows(), total),
        None => complement,
    };
    if shared > 0 {
        return Err(ApiError::invalid(format!(
            "the protected segment {:?} and the reference segment {:?} share {shared} rows of dataset {:?}: a row must be in one group only",
            protected_scope.expression, reference_scope.expression, query.dataset
        )));
    }
    for (scope, side) in [
        (&protected_scope, "protected"),
        (&reference_scope, "reference"),
    ] {
        if scope.rows == 0 {
            return Err(ApiError::new(
                ErrorCode::NoResult,
                format!(
                    "the {side} group {:?} holds no row of dataset {:?} ({total} rows), so there is nothing to compare",
                    scope.expression, query.dataset
                ),
            ));
        }
    }
    let measures = FairnessMeasures::between(&counts[0], &counts[1], confidence, resamples, seed);
    let (dp_d, dp_r) = measures.demographic_parity;
    let four_fifths_rule_violated = dp_r.value.map(|r| r < FOUR_FIFTHS);
    Ok(Json(FairnessReport {
        source: provenance(&job, &result),
        protected: protected_scope,
        reference: reference_scope,
        threshold,
        confidence,
        resamples,
        seed,
        groups: FairnessGroups {
            protected: counts[0].rates(),
            reference: counts[1].rates(),
        },
        demographic_parity_difference: dp_d,
        demographic_parity_ratio: dp_r,
        four_fifths_rule_violated,
        equal_opportunity_difference: measures.equal_opportunity.0,
        equal_opportunity_ratio: measures.equal_opportunity.1,
        equalized_odds_difference: measures.equalized_odds.0,
        equalized_odds_ratio: measures.equalized_odds.1,
        false_positive_rate_difference: measures.false_positive_rate.0,
        false_positive_rate_ratio: measures.false_positive_rate.1,
        false_negative_rate_difference: measures.false_negative_rate.0,
        false_negative_rate_ratio: measures.false_negative_rate.1,
        accuracy_score_difference: measures.accuracy_score.0,
        accuracy_score_ratio: measures.accuracy_score.1,
        predictive_parity_difference: measures.predictive_parity.0,
        predictive_parity_ratio: measures.predictive_parity.1,
    }))
}
