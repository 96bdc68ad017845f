//! Hotspots of a model on a dataset: the segments of one or two conditions where its per-row
//! loss is worst. The losses come from the stored predict result (one pass over its table),
//! the conditions from the dataset's columns (two passes, [`search`]); memory is one byte per
//! labelled row and column searched, plus a sample of each numeric column.

mod search;
mod survey;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use sextant_api::{
    DEFAULT_BINS, DEFAULT_HOTSPOTS, DEFAULT_SEED, FeatureType, Hotspot, HotspotQuery,
    HotspotReport, JobKind, ResultQuery, Role, RowLoss, SearchedColumn, Task, bootstrap_mean,
    clopper_pearson,
};
use sextant_data::segment::visit_rows;

use super::reading::{blocking, local_tables, paths, scan};
use super::{find, interval_options, provenance};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, ErrorCode};
use survey::{Coded, Survey, described};

/// Columns searched at most (memory is a byte per row and column).
const MAX_COLUMNS: usize = 200;

/// The worst segments of the model on the dataset by a per-row loss, each with a confidence
/// interval and an expression that can be saved as a segment.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}/hotspots", tag = "intelligence",
    params(("project" = String, Path), ("model" = String, Path), HotspotQuery),
    responses((status = 200, body = HotspotReport), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn hotspots(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HotspotQuery>,
) -> ApiResult<Json<HotspotReport>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    let (confidence, resamples) = interval_options(query.confidence, query.resamples)?;
    let bins = query.bins.unwrap_or(DEFAULT_BINS);
    if !(2..=50).contains(&bins) {
        return Err(ApiError::bad_request("bins must be between 2 and 50"));
    }
    let limit = query.limit.unwrap_or(DEFAULT_HOTSPOTS);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 100"));
    }
    let asked = ResultQuery {
        dataset: query.dataset.clone(),
        job: query.job,
        ..ResultQuery::default()
    };
    let (job, result) = find(&deps, &project, &model, &asked, JobKind::Predict).await?;
    // Checked once the model is found: an unknown model is a 404 whatever the query.
    let stored = deps.metastore.project(&project).await?;
    let task = stored.schema.task;
    let metric = query.metric.unwrap_or(RowLoss::default_for(task));
    if !metric.fits(task) {
        return Err(ApiError::bad_request(format!(
            "metric: {:?} is not a loss of a {} model; one of {}",
            metric.name(),
            match task {
                Task::Regression => "regression",
                Task::Binary => "binary",
                Task::Multiclass => "multiclass",
            },
            [
                RowLoss::ErrorRate,
                RowLoss::LogLoss,
                RowLoss::Brier,
                RowLoss::AbsoluteError,
                RowLoss::SquaredError,
            ]
            .iter()
            .filter(|m| m.fits(task))
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
        )));
    }
    let dataset = query.dataset.clone();
    let columns = &result.manifest.columns;
    if !columns.iter().any(|c| c == "label") {
        return Err(ApiError::invalid(format!(
            "dataset {dataset:?} has no labels, so the model's losses on it are unknown: hotspots need a labelled dataset"
        )));
    }
    let predictions: Vec<String> = columns
        .iter()
        .filter(|c| c.starts_with("prediction"))
        .cloned()
        .collect();
    let width = predictions.len();
    let mut wanted = vec!["row".to_string()];
    wanted.extend(predictions);
    wanted.push("label".into());
    let threshold = job.spec.options.threshold.unwrap_or(0.5);
    let copies = local_tables(&deps, &result).await?;
    let losses = blocking(move || {
        let mut losses: Vec<f64> = Vec::new();
        scan(&paths(&copies), &wanted, |cells| {
            let (row, label) = (cells[0] as usize, cells[width + 1]);
            if losses.len() <= row {
                losses.resize(row + 1, f64::NAN);
            }
            if !label.is_nan() {
                losses[row] = metric.loss(&cells[1..=width], label, threshold);
            }
        })?;
        Ok(losses)
    })
    .await?;
    // The columns searched: every column of the dataset but the label and the id, or those asked.
    let data = job.spec.data();
    let copy = deps.scratch.local_file(&deps.artifacts, &data.key).await?;
    let path = copy.path().to_path_buf();
    let shown = format!("dataset {:?}", data.name);
    let header = {
        let path = path.clone();
        blocking(move || sextant_data::table_columns(&path).map_err(|e| e.to_string())).await?
    };
    let schema = &stored.schema;
    let excluded = |c: &String| schema.label.as_ref() == Some(c) || schema.id.as_ref() == Some(c);
    let searched: Vec<String> = match &query.columns {
        Some(asked) => {
            let asked: Vec<String> = asked
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            for c in &asked {
                if !header.contains(c) {
                    return Err(ApiError::invalid(format!(
                        "columns: dataset {dataset:?} has no column {c:?}; it has {}",
                        sextant_data::list_columns(header.iter().map(String::as_str))
                    )));
                }
                if excluded(c) {
                    return Err(ApiError::invalid(format!(
                        "columns: {c:?} is the project's label or id column, not a column to search"
                    )));
                }
            }
            asked
        }
        None => header.iter().filter(|c| !excluded(c)).cloned().collect(),
    };
    if searched.is_empty() {
        return Err(ApiError::invalid(format!(
            "dataset {dataset:?} has no column to search beside the label and the id"
        )));
    }
    if searched.len() > MAX_COLUMNS {
        return Err(ApiError::invalid(format!(
            "dataset {dataset:?} has {} columns to search, more than {MAX_COLUMNS}: choose some with columns=",
            searched.len()
        )));
    }
    // A categorical feature is cut by value; any other column by what it holds.
    let numeric: Vec<bool> = searched
        .iter()
        .map(|c| {
            !schema
                .features
                .iter()
                .any(|f| f.name == *c && f.kind == FeatureType::Categorical)
        })
        .collect();
    let total = result.manifest.rows;
    let losses = Arc::new(losses);
    let names = searched.clone();
    let coded = blocking(move || {
        let _held = copy;
        let named = |e: sextant_data::DataError| {
            e.to_string()
                .replacen(&path.display().to_string(), &shown, 1)
        };
        let mut survey = Survey::new(names.len(), total);
        visit_rows(&path, &names, |cells| {
            survey.add(cells);
            Ok(())
        })
        .map_err(named)?;
        let mut coded = Coded::new(survey.cuts(bins, &numeric));
        let mut row = 0usize;
        visit_rows(&path, &names, |cells| {
            if let Some(&loss) = losses.get(row)
                && !loss.is_nan()
            {
                coded.add(cells, loss);
            }
            row += 1;
            Ok(())
        })
        .map_err(named)?;
        Ok(coded)
    })
    .await?;
    let rows = coded.rows() as u64;
    if rows == 0 {
        return Err(ApiError::new(
            ErrorCode::NoResult,
            format!("no row of dataset {dataset:?} has a label, so there is no loss to search"),
        ));
    }
    let seed = query.seed.unwrap_or(DEFAULT_SEED);
    let rank = query.rank.unwrap_or_default();
    let min_size = query.min_size.unwrap_or_else(|| rows.div_ceil(100).max(20));
    let report = blocking(move || {
        let found = search::search(&coded, &searched, min_size, limit as usize, rank);
        let overall = coded.overall();
        let hotspots = found
            .best
            .iter()
            .map(|candidate| {
                let value = candidate.sum / candidate.rows as f64;
                let (low, high) = if metric.is_binary() {
                    clopper_pearson(candidate.sum.round() as u64, candidate.rows, confidence)
                } else {
                    bootstrap_mean(&coded.losses_of(candidate), confidence, resamples, seed)
                };
                let conditions = candidate.conditions();
                Hotspot {
                    expression: conditions.join(" and "),
                    conditions,
                    rows: candidate.rows,
                    share: candidate.rows as f64 / rows as f64,
                    value,
                    low,
                    high,
                    lift: (overall > 0.0).then(|| value / overall),
                    excess: candidate.excess,
                }
            })
            .collect();
        let columns = searched
            .iter()
            .zip(coded.cuts())
            .map(|(column, cut)| {
                let (kind, cuts) = described(cut);
                SearchedColumn {
                    column: column.clone(),
                    kind: kind.into(),
                    cuts,
                }
            })
            .collect();
        Ok((overall, found.candidates, hotspots, columns))
    })
    .await?;
    let (overall, candidates, hotspots, columns) = report;
    Ok(Json(HotspotReport {
        source: provenance(&job, &result),
        metric,
        rank,
        overall,
        rows,
        min_size,
        bins,
        confidence,
        interval: if metric.is_binary() {
            "clopper_pearson"
        } else {
            "bootstrap"
        }
        .into(),
        columns,
        candidates,
        hotspots,
    }))
}
