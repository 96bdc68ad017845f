//! Answers over a segment: which rows of a result's dataset a segment holds (evaluated on the
//! dataset the job read, kept for the next page), and the metrics, importance and pages of a
//! result computed over those rows only, from the stored tables.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use sextant_api::{Importance, ImportanceSums, Job, Metrics, SegmentScope, StoredResult, Task};
use sextant_data::segment::{Expression, segment_rows};
use sextant_store::StoreError;

use super::reading::{blocking, column_names, local_tables, paths, scan};
use crate::Deps;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::ingest::segments::{check_expression, column_kinds};

/// The rows of a result's dataset that a segment holds.
pub(super) struct InSegment {
    name: Option<String>,
    expression: String,
    inside: Arc<Vec<bool>>,
}

impl InSegment {
    /// Which dataset rows are in the segment, for a reduction on the blocking pool ([`holds`]).
    pub(super) fn rows(&self) -> Arc<Vec<bool>> {
        self.inside.clone()
    }

    /// What a report says of the segment: `rows` of the result's `of_rows` are in it.
    pub(super) fn scope(&self, rows: u64, of_rows: u64) -> SegmentScope {
        SegmentScope {
            name: self.name.clone(),
            expression: self.expression.clone(),
            rows,
            of_rows,
        }
    }
}

/// Whether the dataset row a table's `row` cell names is in the segment.
pub(super) fn holds(inside: &[bool], row: f64) -> bool {
    row >= 0.0 && inside.get(row as usize).copied().unwrap_or(false)
}

/// Which rows a segment holds, by dataset content (its sha256) and expression.
type Evaluations = HashMap<(String, String), Arc<Vec<bool>>>;

/// Segments evaluated lately, by dataset content and expression: paging through a segment reads
/// the dataset's columns once.
static EVALUATED: LazyLock<Mutex<Evaluations>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Evaluations kept at most.
const EVALUATIONS_KEPT: usize = 32;

/// The segment `asked` (a segment of the project by name, or an expression) on the dataset
/// `job` read; `None` when none is asked.
pub(super) async fn segment_of(
    deps: &Deps,
    project: &str,
    asked: Option<&str>,
    job: &Job,
) -> ApiResult<Option<InSegment>> {
    let Some(asked) = asked.map(str::trim) else {
        return Ok(None);
    };
    let (name, expression) = match deps.metastore.segment(project, asked).await {
        Ok(stored) => (Some(stored.name), stored.expression),
        Err(StoreError::NotFound { .. }) => (None, asked.to_string()),
        Err(e) => return Err(e.into()),
    };
    let parsed = match (Expression::parse(&expression), &name) {
        (Ok(parsed), Some(_)) => parsed,
        // A lone word that is not a segment's name was meant as one.
        (Err(_), None) if crate::ingest::check_name("segment", asked).is_ok() => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "segment: project {project:?} has no segment named {asked:?} (and it is not an expression)"
                ),
            ));
        }
        // An expression given in the query is checked as one being added would be.
        _ => {
            let project = deps.metastore.project(project).await?;
            check_expression(&expression, &column_kinds(deps, &project).await?)?
        }
    };
    let data = job.spec.data();
    let key = (data.sha256.clone(), expression.clone());
    let known = EVALUATED.lock().expect("segment lock").get(&key).cloned();
    let inside = match known {
        Some(inside) => inside,
        None => {
            let copy = deps.scratch.local_file(&deps.artifacts, &data.key).await?;
            let path = copy.path().to_path_buf();
            let shown = format!("dataset {:?}", data.name);
            let evaluated = tokio::task::spawn_blocking(move || {
                let _held = copy;
                segment_rows(&path, &parsed).map_err(|e| {
                    e.to_string()
                        .replacen(&path.display().to_string(), &shown, 1)
                })
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(|why| ApiError::invalid(format!("segment {expression:?}: {why}")))?;
            let inside = Arc::new(evaluated);
            let mut kept = EVALUATED.lock().expect("segment lock");
            if kept.len() >= EVALUATIONS_KEPT {
                kept.clear();
            }
            kept.insert(key, inside.clone());
            inside
        }
    };
    Ok(Some(InSegment {
        name,
        expression,
        inside,
    }))
}

/// The rows of a result table in the segment from the `offset`-th on (at most `limit`), with
/// the table's columns, and how many rows of the table the segment holds.
pub(super) async fn segment_page(
    deps: &Deps,
    result: &StoredResult,
    segment: &InSegment,
    offset: u64,
    limit: u64,
) -> ApiResult<(Vec<String>, super::Rows, u64)> {
    let copies = local_tables(deps, result).await?;
    let first = copies[0].path().to_path_buf();
    let inside = segment.inside.clone();
    blocking(move || {
        let columns = column_names(&first)?;
        let mut rows = Vec::new();
        let mut matched = 0u64;
        scan(&paths(&copies), &columns, |cells| {
            let row = cells[0];
            if !(holds(&inside, row)) {
                return;
            }
            if matched >= offset && matched < offset.saturating_add(limit) {
                rows.push(cells.iter().map(|v| v.is_finite().then_some(*v)).collect());
            }
            matched += 1;
        })?;
        Ok((columns, rows, matched))
    })
    .await
}

/// The metrics of a predict result over the segment's labelled rows.
pub(super) async fn segment_metrics(
    deps: &Deps,
    job: &Job,
    result: &StoredResult,
    segment: &InSegment,
    task: Task,
    classes: Option<u32>,
) -> ApiResult<(Metrics, u64)> {
    let columns = &result.manifest.columns;
    let mut wanted = vec!["row".to_string()];
    let predictions: Vec<String> = columns
        .iter()
        .filter(|c| c.starts_with("prediction"))
        .cloned()
        .collect();
    wanted.extend(predictions.iter().cloned());
    wanted.push("label".into());
    let width = predictions.len();
    let threshold = job.spec.options.threshold.unwrap_or(0.5);
    let copies = local_tables(deps, result).await?;
    let inside = segment.inside.clone();
    let (responses, labels, rows) = blocking(move || {
        let (mut responses, mut labels, mut rows) = (Vec::new(), Vec::new(), 0u64);
        scan(&paths(&copies), &wanted, |cells| {
            let row = cells[0];
            if !(holds(&inside, row)) {
                return;
            }
            rows += 1;
            let label = cells[width + 1];
            if !label.is_nan() {
                responses.extend_from_slice(&cells[1..=width]);
                labels.push(label);
            }
        })?;
        Ok((responses, labels, rows))
    })
    .await?;
    if labels.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NoResult,
            format!(
                "segment {:?} holds no labelled row of dataset {:?} ({rows} rows in all), so there are no metrics for it",
                segment.expression,
                job.spec.data().name
            ),
        ));
    }
    Ok((
        Metrics::of(task, classes, threshold, &responses, &labels),
        rows,
    ))
}

/// The feature columns of an influences table, as its importance document tells them: the
/// features, and how many outputs each has a column for.
pub(super) struct InfluenceLayout {
    pub(super) names: Vec<String>,
    pub(super) outputs: usize,
}

impl InfluenceLayout {
    pub(super) fn of(whole: &Importance) -> InfluenceLayout {
        InfluenceLayout {
            names: whole.features.iter().map(|f| f.feature.clone()).collect(),
            outputs: whole
                .features
                .first()
                .and_then(|f| f.mean_abs_by_class.as_ref())
                .map_or(1, Vec::len),
        }
    }

    /// `row`, then every feature's column (with `tail` after its name) of output 0, 1, ….
    pub(super) fn columns(&self, tail: &str) -> Vec<String> {
        let mut wanted = vec!["row".to_string()];
        for k in 0..self.outputs {
            let suffix = if self.outputs > 1 {
                format!("__class{k}")
            } else {
                String::new()
            };
            wanted.extend(self.names.iter().map(|f| format!("{f}{suffix}{tail}")));
        }
        wanted
    }
}

/// The importance of an influences result over the segment's rows, from its stored table: the
/// same figures its job computed over every row.
pub(super) async fn segment_importance(
    deps: &Deps,
    result: &StoredResult,
    whole: &Importance,
    segment: &InSegment,
) -> ApiResult<Importance> {
    let layout = InfluenceLayout::of(whole);
    let (names, outputs) = (layout.names.clone(), layout.outputs);
    let columns = &result.manifest.columns;
    let with_stderr = columns.iter().any(|c| c.ends_with("__stderr"));
    let mut wanted = layout.columns("");
    if with_stderr {
        wanted.extend(layout.columns("__stderr").into_iter().skip(1));
    }
    let nf = names.len();
    let copies = local_tables(deps, result).await?;
    let inside = segment.inside.clone();
    let (sums, rows) = blocking(move || {
        let mut sums = ImportanceSums::new(nf, outputs, with_stderr);
        let mut rows = 0u64;
        scan(&paths(&copies), &wanted, |cells| {
            let row = cells[0];
            if !(holds(&inside, row)) {
                return;
            }
            rows += 1;
            for k in 0..outputs {
                sums.add(k, &cells[1 + k * nf..1 + (k + 1) * nf]);
            }
            if with_stderr {
                sums.add_stderr(&cells[1 + outputs * nf..]);
            }
        })?;
        Ok((sums, rows))
    })
    .await?;
    if rows == 0 {
        return Err(ApiError::new(
            ErrorCode::NoResult,
            format!(
                "segment {:?} holds no row of this result ({} rows of dataset {:?})",
                segment.expression, result.manifest.rows, whole.dataset
            ),
        ));
    }
    let mut importance = Importance {
        features: sums.features(&names, rows),
        rows,
        shards: None,
        ..whole.clone()
    };
    importance.sort();
    Ok(importance)
}
