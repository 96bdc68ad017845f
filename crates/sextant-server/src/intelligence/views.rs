//! Results reduced for plotting: quality curves over a prediction table, influences at sampled
//! rows beside the data's values, and one row's explanation. Each reads the tables once, in
//! batches, keeping only what it answers with, so a client never receives every row of a large
//! result and the service's memory does not grow with it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use sextant_api::{
    Contribution, CurvesQuery, CurvesReport, DEFAULT_POINT_FEATURES, DEFAULT_POINTS,
    ExplanationQuery, FeaturePoints, Importance, InfluencePoints, JobKind, MAX_POINT_FEATURES,
    MAX_POINTS, PointsQuery, ResultQuery, Role, RowExplanation, StoredResult,
};
use sextant_model::{Feature, FeatureKind};

use super::reading::{Inputs, blocking, column_names, local_tables, paths, scan};
use super::reduction::{binary_curves, evenly, regression_curves};
use super::segments::{InSegment, holds, segment_importance, segment_of};
use super::{document, find, provenance};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};

/// Quality curves of a model's predictions on a labelled dataset: ROC, precision-recall,
/// calibration and the confusion counts over thresholds (binary), or residuals (regression).
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/curves", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), CurvesQuery),
    responses((status = 200, body = CurvesReport), (status = 404, body = crate::error::ErrorBody)))]
pub async fn curves(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<CurvesQuery>,
) -> ApiResult<Json<CurvesReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let query = ResultQuery::from(query);
    let (job, result) = find(&deps, &project, &model, &query, JobKind::Predict).await?;
    let columns = &result.manifest.columns;
    if !columns.iter().any(|c| c == "label") {
        return Err(ApiError::new(
            crate::error::ErrorCode::NoResult,
            format!(
                "dataset {:?} has no labels, so there are no quality curves for it",
                query.dataset
            ),
        ));
    }
    let single_output = columns.iter().any(|c| c == "prediction");
    let schema = deps.metastore.project(&project).await?.schema;
    let segment = segment_of(&deps, &project, query.segment.as_deref(), &job).await?;
    let inside = segment.as_ref().map(InSegment::rows);
    let copies = local_tables(&deps, &result).await?;
    let binary = schema.task == sextant_api::Task::Binary;
    let regression = schema.task == sextant_api::Task::Regression;
    let (labelled, seen, binary_curves, regression_curves) = blocking(move || {
        let wanted = ["row".to_string(), "prediction".into(), "label".into()];
        if !single_output {
            return Ok((0, 0, None, None));
        }
        let mut rows = Vec::new();
        let mut scored = Vec::new();
        let mut seen = 0u64;
        scan(&paths(&copies), &wanted, |values| {
            let (row, prediction, label) = (values[0], values[1], values[2]);
            if inside.as_ref().is_some_and(|inside| !holds(inside, row)) {
                return;
            }
            seen += 1;
            if label.is_finite() && prediction.is_finite() {
                rows.push(row as u64);
                scored.push((prediction, label));
            }
        })?;
        let labelled = scored.len() as u64;
        if binary {
            Ok((labelled, seen, Some(binary_curves(&scored)), None))
        } else if regression {
            Ok((
                labelled,
                seen,
                None,
                Some(regression_curves(&rows, &scored)),
            ))
        } else {
            Ok((labelled, seen, None, None))
        }
    })
    .await?;
    let mut source = provenance(&job, &result);
    source.segment = segment.map(|s| s.scope(seen, result.manifest.rows));
    Ok(Json(CurvesReport {
        source,
        labelled,
        binary: binary_curves,
        regression: regression_curves,
    }))
}

/// Influences at sampled rows with the data's values there, for beeswarm and dependence plots.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/influences/points", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), PointsQuery),
    responses((status = 200, body = InfluencePoints), (status = 404, body = crate::error::ErrorBody)))]
pub async fn influence_points(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<PointsQuery>,
) -> ApiResult<Json<InfluencePoints>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let points = query.points.unwrap_or(DEFAULT_POINTS);
    if points == 0 || points > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "points must be between 1 and {MAX_POINTS}"
        )));
    }
    let (job, result) = find(
        &deps,
        &project,
        &model,
        &query.result(),
        JobKind::Influences,
    )
    .await?;
    let importance: Importance =
        document(&deps, &query.dataset, result.manifest.importance.as_ref()).await?;
    let segment = segment_of(&deps, &project, query.segment.as_deref(), &job).await?;
    // Over a segment, the features are ranked by their importance there.
    let importance = match &segment {
        Some(segment) => segment_importance(&deps, &result, &importance, segment).await?,
        None => importance,
    };
    let inside = segment.as_ref().map(InSegment::rows);
    let class = query.class.unwrap_or(0);
    let inputs = Inputs::fetch(&deps, job.spec.model(), job.spec.data()).await?;
    let features = inputs.features.clone();
    let mean_abs: BTreeMap<String, f64> = importance
        .features
        .iter()
        .map(|f| {
            let by_class = f.mean_abs_by_class.as_ref();
            let value = by_class.and_then(|v| v.get(class as usize).copied());
            (f.feature.clone(), value.unwrap_or(f.mean_abs))
        })
        .collect();
    let chosen: Vec<String> = match &query.features {
        Some(list) => list
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        None => {
            let mut ranked: Vec<(&String, &f64)> = mean_abs.iter().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(a.1));
            ranked
                .into_iter()
                .take(DEFAULT_POINT_FEATURES)
                .map(|(f, _)| f.clone())
                .collect()
        }
    };
    if chosen.is_empty() || chosen.len() > MAX_POINT_FEATURES {
        return Err(ApiError::bad_request(format!(
            "features must name between 1 and {MAX_POINT_FEATURES} features"
        )));
    }
    let positions: Vec<usize> = chosen
        .iter()
        .map(|name| {
            features
                .iter()
                .position(|f| &f.name == name)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "features: model {model:?} has no feature {name:?}"
                    ))
                })
        })
        .collect::<ApiResult<_>>()?;
    let suffix = class_suffix(&result, class)?;
    let total = segment
        .as_ref()
        .map_or(result.manifest.rows, |_| importance.rows);
    let copies = local_tables(&deps, &result).await?;
    let read_positions = positions.clone();
    let (rows, values, influences) = blocking(move || {
        let sample = evenly(total, points as u64);
        let mut wanted = vec!["row".to_string()];
        wanted.extend(chosen.iter().map(|f| format!("{f}{suffix}")));
        let mut rows = Vec::new();
        let mut influences = vec![Vec::new(); chosen.len()];
        let mut position = 0u64;
        let mut next = sample.iter().peekable();
        scan(&paths(&copies), &wanted, |cells| {
            if inside
                .as_ref()
                .is_some_and(|inside| !holds(inside, cells[0]))
            {
                return;
            }
            if next.peek() == Some(&&position) {
                next.next();
                rows.push(cells[0] as u64);
                for (column, v) in influences.iter_mut().zip(&cells[1..]) {
                    column.push(v.is_finite().then_some(*v));
                }
            }
            position += 1;
        })?;
        let values = inputs.values_at(&rows, &read_positions)?;
        Ok((rows, values, influences))
    })
    .await?;
    let features_out = positions
        .iter()
        .zip(values)
        .zip(influences)
        .map(|((&p, values), influences)| {
            let feature = &features[p];
            FeaturePoints {
                feature: feature.name.clone(),
                values,
                influences,
                categories: category_names(feature),
                mean_abs: mean_abs.get(&feature.name).copied(),
            }
        })
        .collect();
    let mut source = provenance(&job, &result);
    source.segment = segment.map(|s| s.scope(total, result.manifest.rows));
    Ok(Json(InfluencePoints {
        source,
        rows,
        features: features_out,
    }))
}

/// One row's explanation, found by its index or its id: every feature's value and influence.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/explanation", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), ExplanationQuery),
    responses((status = 200, body = RowExplanation), (status = 404, body = crate::error::ErrorBody)))]
pub async fn explanation(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ExplanationQuery>,
) -> ApiResult<Json<RowExplanation>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let result_query = ResultQuery {
        dataset: query.dataset.clone(),
        method: query.method,
        background: query.background.clone(),
        job: query.job,
        ..ResultQuery::default()
    };
    let (job, result) = find(&deps, &project, &model, &result_query, JobKind::Influences).await?;
    let class = query.class.unwrap_or(0);
    let suffix = class_suffix(&result, class)?;
    let schema = deps.metastore.project(&project).await?.schema;
    let copies = local_tables(&deps, &result).await?;
    let first_table = copies[0].path().to_path_buf();
    let names = blocking(move || column_names(&first_table)).await?;
    let id_column = schema.id.clone().filter(|id| names.contains(id));
    let by = match (query.row, query.id, &id_column) {
        (Some(row), None, _) => Lookup::Row(row),
        (None, Some(id), Some(_)) => Lookup::Id(id),
        (None, Some(_), None) => {
            return Err(ApiError::bad_request(
                "id: this result has no id column (the project names none, or the data lacks it): give row",
            ));
        }
        _ => return Err(ApiError::bad_request("give row or id, one of them")),
    };
    let inputs = Inputs::fetch(&deps, job.spec.model(), job.spec.data()).await?;
    let features = inputs.features.clone();
    let shown = inputs.features.clone();
    let found = blocking(move || {
        let mut wanted = vec!["row".to_string()];
        wanted.extend(id_column.iter().cloned());
        wanted.extend(features.iter().map(|f| format!("{}{suffix}", f.name)));
        wanted.push(format!("base_value{suffix}"));
        wanted.push(format!("margin{suffix}"));
        let id_at = id_column.as_ref().map(|_| 1);
        let mut found: Option<Vec<f64>> = None;
        scan(&paths(&copies), &wanted, |cells| {
            let hit = match &by {
                Lookup::Row(row) => cells[0] as u64 == *row,
                Lookup::Id(id) => id_at.is_some_and(|i| cells[i] == *id),
            };
            if hit && found.is_none() {
                found = Some(cells.to_vec());
            }
        })?;
        let Some(cells) = found else {
            return Ok(None);
        };
        let row = cells[0] as u64;
        let all: Vec<usize> = (0..features.len()).collect();
        let values = inputs.values_at(&[row], &all)?;
        Ok(Some((cells, values, id_at)))
    })
    .await?;
    let Some((cells, values, id_at)) = found else {
        let what = match (query.row, query.id) {
            (Some(row), _) => format!("row {row}"),
            (_, id) => format!("id {}", id.unwrap_or_default()),
        };
        return Err(ApiError::new(
            crate::error::ErrorCode::NotFound,
            format!(
                "dataset {:?} has no {what} in this result ({} rows)",
                query.dataset, result.manifest.rows
            ),
        ));
    };
    let first = 1 + usize::from(id_at.is_some());
    let n = shown.len();
    let mut contributions: Vec<Contribution> = shown
        .iter()
        .enumerate()
        .map(|(i, f)| Contribution {
            feature: f.name.clone(),
            value: values[i][0].map(|v| shown_value(f, v)),
            influence: cells[first + i],
        })
        .collect();
    contributions.sort_by(|a, b| b.influence.abs().total_cmp(&a.influence.abs()));
    Ok(Json(RowExplanation {
        source: provenance(&job, &result),
        row: cells[0] as u64,
        id: id_at.map(|i| cells[i]),
        class,
        base_value: cells[first + n],
        margin: cells[first + n + 1],
        contributions,
    }))
}

/// How the explained row is found.
enum Lookup {
    Row(u64),
    Id(f64),
}

/// A feature's value as the data shows it: a category's name, or the number.
fn shown_value(feature: &Feature, value: f64) -> String {
    if let FeatureKind::Categorical {
        categories: Some(names),
    } = &feature.kind
        && value >= 0.0
        && let Some(name) = names.get(value as usize)
    {
        return name.clone();
    }
    format!("{value}")
}

fn category_names(feature: &Feature) -> Option<Vec<String>> {
    match &feature.kind {
        FeatureKind::Categorical { categories } => categories.clone(),
        FeatureKind::Numeric => None,
    }
}

/// The column suffix of `class` in an influence table.
fn class_suffix(result: &StoredResult, class: u32) -> ApiResult<String> {
    let multi = result
        .manifest
        .columns
        .iter()
        .any(|c| c == "margin__class0");
    if !multi {
        if class != 0 {
            return Err(ApiError::bad_request(
                "class: this model has one output, class 0",
            ));
        }
        return Ok(String::new());
    }
    let suffix = format!("__class{class}");
    if !result.manifest.columns.contains(&format!("margin{suffix}")) {
        return Err(ApiError::bad_request(format!(
            "class: this model has no class {class}"
        )));
    }
    Ok(suffix)
}
