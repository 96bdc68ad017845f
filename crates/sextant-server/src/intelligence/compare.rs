//! Models compared on one dataset, from their stored predict and influences results: each
//! model's predictions are read in one pass over its table (a segment's rows only, with one),
//! then ranked by a metric, set side by side, and compared row by row.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use sextant_api::{
    Agreement, CLASSIFICATION_METRICS, CompareQuery, CompareReport, DEFAULT_DISAGREEMENTS,
    Disagreement, Importance, ImportanceSide, Job, JobKind, LeaderboardEntry, MAX_COMPARED,
    Metrics, REGRESSION_METRICS, ResultQuery, Role, StoredResult, Task, agreement,
    higher_is_better, total_variation,
};

use super::reading::{blocking, column_names, local_tables, paths, scan};
use super::segments::{InSegment, holds, segment_importance, segment_of};
use super::{document, find};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, ErrorCode};

/// One model's predictions on the rows compared.
struct Scored {
    name: String,
    job: Job,
    /// `width` scores per row.
    scores: Vec<f64>,
    /// Each row's predicted class (classifiers).
    decisions: Option<Vec<u32>>,
    /// Dataset rows, in order (the same for every model).
    rows: Vec<u64>,
    /// Labels (NaN where missing).
    labels: Vec<f64>,
    /// The rows' ids (NaN where the project has no id column).
    ids: Vec<f64>,
}

/// The models named in the query: 2 to 10 (one named twice is compared with itself).
fn model_names(asked: &str) -> ApiResult<Vec<String>> {
    let names: Vec<String> = asked
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    if names.len() < 2 || names.len() > MAX_COMPARED {
        return Err(ApiError::bad_request(format!(
            "models: name 2 to {MAX_COMPARED} models, comma-separated (got {})",
            names.len()
        )));
    }
    Ok(names)
}

/// The metric ranked by: the one asked if the task has it, else the task's default.
fn ranking_metric(task: Task, asked: Option<&str>) -> ApiResult<String> {
    let known: &[&str] = match task {
        Task::Regression => &REGRESSION_METRICS,
        _ => &CLASSIFICATION_METRICS,
    };
    match asked {
        None => Ok(if task == Task::Regression {
            "rmse"
        } else {
            "roc_auc"
        }
        .into()),
        Some(m) if known.contains(&m) => Ok(m.into()),
        Some(m) => Err(ApiError::bad_request(format!(
            "metric: {m:?} is not a metric of a {} model; one of {}",
            match task {
                Task::Regression => "regression",
                Task::Binary => "binary",
                Task::Multiclass => "multiclass",
            },
            known.join(", ")
        ))),
    }
}

/// Reads one model's predictions over the rows compared.
async fn scored(
    deps: &Deps,
    name: &str,
    job: Job,
    result: &StoredResult,
    segment: Option<&InSegment>,
    task: Task,
    id_column: Option<&String>,
) -> ApiResult<(Scored, usize)> {
    let columns = &result.manifest.columns;
    let predictions: Vec<String> = columns
        .iter()
        .filter(|c| c.starts_with("prediction"))
        .cloned()
        .collect();
    let width = predictions.len();
    let labelled = columns.iter().any(|c| c == "label");
    let mut wanted = vec!["row".to_string()];
    wanted.extend(predictions);
    if labelled {
        wanted.push("label".into());
    }
    let threshold = job.spec.options.threshold.unwrap_or(0.5);
    let copies = local_tables(deps, result).await?;
    // The id column is in the table (after `row`), not in the manifest's value columns.
    let first = copies[0].path().to_path_buf();
    let names = blocking(move || column_names(&first)).await?;
    let with_id = id_column.filter(|id| names.contains(id));
    if let Some(id) = with_id {
        wanted.push(id.clone());
    }
    let with_id = with_id.is_some();
    let inside = segment.map(InSegment::rows);
    let (rows, scores, labels, ids) = blocking(move || {
        let (mut rows, mut scores, mut labels, mut ids) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        scan(&paths(&copies), &wanted, |cells| {
            if let Some(inside) = &inside
                && !holds(inside, cells[0])
            {
                return;
            }
            rows.push(cells[0] as u64);
            scores.extend_from_slice(&cells[1..=width]);
            labels.push(if labelled { cells[width + 1] } else { f64::NAN });
            ids.push(if with_id {
                cells[cells.len() - 1]
            } else {
                f64::NAN
            });
        })?;
        Ok((rows, scores, labels, ids))
    })
    .await?;
    let decisions = match task {
        Task::Regression => None,
        Task::Binary => Some(scores.iter().map(|&p| u32::from(p >= threshold)).collect()),
        Task::Multiclass => Some(
            scores
                .chunks(width)
                .map(|p| {
                    (0..p.len())
                        .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                        .unwrap_or(0) as u32
                })
                .collect(),
        ),
    };
    Ok((
        Scored {
            name: name.to_string(),
            job,
            scores,
            decisions,
            rows,
            labels,
            ids,
        },
        width,
    ))
}

/// The model's importance on the dataset (over the segment), or why there is none.
async fn importance_of(
    deps: &Deps,
    project: &str,
    model: &str,
    dataset: &str,
    segment: Option<&InSegment>,
) -> ApiResult<Result<Importance, String>> {
    let query = ResultQuery {
        dataset: dataset.to_string(),
        ..ResultQuery::default()
    };
    let (_, result) = match find(deps, project, model, &query, JobKind::Influences).await {
        Ok(found) => found,
        Err(e) if e.code() == ErrorCode::NoResult => return Ok(Err(e.message().to_string())),
        Err(e) => return Err(e),
    };
    let whole: Importance = document(deps, dataset, result.manifest.importance.as_ref()).await?;
    match segment {
        Some(segment) => match segment_importance(deps, &result, &whole, segment).await {
            Ok(part) => Ok(Ok(part)),
            Err(e) if e.code() == ErrorCode::NoResult => Ok(Err(e.message().to_string())),
            Err(e) => Err(e),
        },
        None => Ok(Ok(whole)),
    }
}

/// Each feature's importance in each model, by its largest in any.
fn side_by_side(importance: &[Option<Importance>]) -> Vec<ImportanceSide> {
    let mut order: Vec<String> = Vec::new();
    let mut by_model: Vec<HashMap<&str, f64>> = Vec::new();
    for imp in importance {
        let mut known = HashMap::new();
        if let Some(imp) = imp {
            for f in &imp.features {
                if !order.contains(&f.feature) {
                    order.push(f.feature.clone());
                }
                known.insert(f.feature.as_str(), f.mean_abs);
            }
        }
        by_model.push(known);
    }
    let mut sides: Vec<ImportanceSide> = order
        .into_iter()
        .map(|feature| ImportanceSide {
            mean_abs: by_model
                .iter()
                .map(|m| m.get(feature.as_str()).copied())
                .collect(),
            feature,
        })
        .collect();
    let largest = |s: &ImportanceSide| s.mean_abs.iter().flatten().fold(0.0_f64, |a, &b| a.max(b));
    sides.sort_by(|a, b| largest(b).total_cmp(&largest(a)));
    sides
}

/// The rows where the models' scores are furthest apart, at most `limit`.
fn disagreements(models: &[Scored], width: usize, limit: usize) -> Vec<Disagreement> {
    let rows = models[0].rows.len();
    let spread = |r: usize| -> f64 {
        if width == 1 {
            let scores = models.iter().map(|m| m.scores[r]);
            let (lo, hi) = scores.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
                (lo.min(s), hi.max(s))
            });
            hi - lo
        } else {
            fn block(m: &Scored, r: usize, width: usize) -> &[f64] {
                &m.scores[r * width..(r + 1) * width]
            }
            let mut worst = 0.0_f64;
            for (i, a) in models.iter().enumerate() {
                for b in &models[i + 1..] {
                    worst = worst.max(total_variation(block(a, r, width), block(b, r, width)));
                }
            }
            worst
        }
    };
    let mut spreads: Vec<(usize, f64)> = (0..rows).map(|r| (r, spread(r))).collect();
    // Widest first; the earlier row first among equals.
    spreads.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    spreads
        .into_iter()
        .take(limit)
        .map(|(r, spread)| Disagreement {
            row: models[0].rows[r],
            id: Some(models[0].ids[r]).filter(|v| !v.is_nan()),
            label: Some(models[0].labels[r]).filter(|y| !y.is_nan()),
            scores: (width == 1).then(|| models.iter().map(|m| m.scores[r]).collect()),
            decisions: models[0].decisions.as_ref().map(|_| {
                models
                    .iter()
                    .filter_map(|m| m.decisions.as_ref().map(|d| d[r]))
                    .collect()
            }),
            spread,
        })
        .collect()
}

/// Several models of a project on one dataset: a leaderboard by a metric, importance side by
/// side, agreement of their predictions pair by pair, and the rows where they disagree most.
#[utoipa::path(get, path = "/api/v1/projects/{project}/compare", tag = "intelligence",
    params(("project" = String, Path), CompareQuery),
    responses((status = 200, body = CompareReport), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn compare(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiQuery(query): ApiQuery<CompareQuery>,
) -> ApiResult<Json<CompareReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let schema = deps.metastore.project(&project).await?.schema;
    let names = model_names(&query.models)?;
    let id_column = schema.id.as_ref();
    let limit = query
        .disagreements
        .unwrap_or(DEFAULT_DISAGREEMENTS)
        .min(1000) as usize;
    let asked = ResultQuery {
        dataset: query.dataset.clone(),
        ..ResultQuery::default()
    };
    let mut found = Vec::new();
    for name in &names {
        found.push(find(&deps, &project, name, &asked, JobKind::Predict).await?);
    }
    // Checked once the models are found: an unknown model is a 404 whatever the metric.
    let metric = ranking_metric(schema.task, query.metric.as_deref())?;
    let segment = segment_of(&deps, &project, query.segment.as_deref(), &found[0].0).await?;
    let of_rows = found[0].1.manifest.rows;
    let mut models = Vec::new();
    let mut width = 1;
    for (name, (job, result)) in names.iter().zip(found) {
        let (s, w) = scored(
            &deps,
            name,
            job,
            &result,
            segment.as_ref(),
            schema.task,
            id_column,
        )
        .await?;
        width = w;
        models.push(s);
    }
    if let Some(other) = models.iter().find(|m| m.rows != models[0].rows) {
        return Err(ApiError::internal(format!(
            "the predictions of {:?} and {:?} on dataset {:?} are not of the same rows",
            models[0].name, other.name, query.dataset
        )));
    }
    let rows = models[0].rows.len() as u64;
    if rows == 0 {
        return Err(ApiError::new(
            ErrorCode::NoResult,
            format!(
                "segment {:?} holds no row of dataset {:?}, so there is nothing to compare",
                query.segment.as_deref().unwrap_or(""),
                query.dataset
            ),
        ));
    }
    let mut notes = Vec::new();
    // The leaderboard: each model's metrics over the labelled rows compared.
    let mut leaderboard = Vec::new();
    for m in &models {
        let labelled: Vec<usize> = (0..m.labels.len())
            .filter(|&r| !m.labels[r].is_nan())
            .collect();
        let metrics = (!labelled.is_empty()).then(|| {
            let responses: Vec<f64> = labelled
                .iter()
                .flat_map(|&r| m.scores[r * width..(r + 1) * width].iter().copied())
                .collect();
            let labels: Vec<f64> = labelled.iter().map(|&r| m.labels[r]).collect();
            let threshold = m.job.spec.options.threshold.unwrap_or(0.5);
            Metrics::of(schema.task, schema.classes, threshold, &responses, &labels)
        });
        leaderboard.push(LeaderboardEntry {
            model: m.name.clone(),
            rank: None,
            value: metrics.as_ref().and_then(|x| x.named(&metric).flatten()),
            metrics,
            job: m.job.id,
        });
    }
    if leaderboard.iter().all(|e| e.metrics.is_none()) {
        notes.push(format!(
            "dataset {:?} has no labelled row here, so the leaderboard has no metrics",
            query.dataset
        ));
    }
    let better = higher_is_better(&metric);
    leaderboard.sort_by(|a, b| match (a.value, b.value) {
        (Some(x), Some(y)) if better => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut rank = 0;
    for entry in &mut leaderboard {
        if entry.value.is_some() {
            rank += 1;
            entry.rank = Some(rank);
        }
    }
    let mut importance = Vec::new();
    for name in &names {
        match importance_of(&deps, &project, name, &query.dataset, segment.as_ref()).await? {
            Ok(imp) => importance.push(Some(imp)),
            Err(why) => {
                notes.push(why);
                importance.push(None);
            }
        }
    }
    let mut pairs = Vec::new();
    for (i, a) in models.iter().enumerate() {
        for b in &models[i + 1..] {
            let decisions = a.decisions.as_deref().zip(b.decisions.as_deref());
            pairs.push(agreement(
                (&a.name, &b.name),
                (&a.scores, &b.scores),
                decisions,
                width,
            ));
        }
    }
    let agreement: Vec<Agreement> = pairs;
    Ok(Json(CompareReport {
        dataset: query.dataset.clone(),
        models: names,
        metric,
        higher_is_better: better,
        segment: segment.as_ref().map(|s| s.scope(rows, of_rows)),
        rows,
        leaderboard,
        importance: side_by_side(&importance),
        agreement,
        disagreements: disagreements(&models, width, limit),
        notes,
    }))
}
