//! The analyzer-facing endpoints (`/internal/v1/jobs/{id}/…`): the task, progress reports
//! (summed over shards), results (merged when every shard's part is in) and failures. Each call
//! needs the job's current token.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sextant_api::{
    AnalyzerTask, FailureReport, Job, JobProgress, JobState, PartInfo, ProgressAck, ResultManifest,
};
use uuid::Uuid;

use super::{SchedulerState, parts, runner};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorCode};

/// The bearer token of a request, or "".
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
}

/// Checks the analyzer's bearer token against the job's current one.
async fn authorize(state: &SchedulerState, id: Uuid, headers: &HeaderMap) -> ApiResult<()> {
    let presented = bearer(headers);
    let execution = state.deps.metastore.execution(id).await?;
    let expected = execution.token.unwrap_or_default();
    let equal = !expected.is_empty()
        && crate::auth::secrets::same_secret(expected.as_bytes(), presented.as_bytes());
    if !equal {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!("no valid token for job {id} (it may have finished or been cancelled)"),
        ));
    }
    Ok(())
}

/// The analyzer's instructions.
pub async fn analyzer_task(
    State(state): State<SchedulerState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Json<AnalyzerTask>> {
    authorize(&state, id, &headers).await?;
    let job = state.deps.metastore.job(id).await?;
    let project = state.deps.metastore.project(&job.project).await?;
    let dataset_rows = state
        .deps
        .metastore
        .dataset(&project.name, &job.spec.data().name)
        .await
        .ok()
        .map(|d| d.summary.rows);
    Ok(Json(AnalyzerTask {
        version: 1,
        job_id: id,
        spec: job.spec,
        schema: project.schema,
        cache_key: job.cache_key,
        artifacts: state.deps.artifacts.uri().to_string(),
        heartbeat_seconds: state.deps.config.scheduler.heartbeat_interval_seconds,
        dataset_rows,
    }))
}

/// Records an analyzer's progress (also its heartbeat).
pub async fn analyzer_progress(
    State(state): State<SchedulerState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(shard): ApiQuery<ShardQuery>,
    headers: HeaderMap,
    ApiJson(progress): ApiJson<JobProgress>,
) -> ApiResult<Json<ProgressAck>> {
    authorize(&state, id, &headers).await?;
    if !(0.0..=100.0).contains(&progress.percent) {
        return Err(ApiError::bad_request("percent must be between 0 and 100"));
    }
    let progress = match shard.part()? {
        Some(part) => state.hub.shard_progress(id, part, progress),
        None => progress,
    };
    let token = bearer(&headers);
    let proceed = state
        .deps
        .metastore
        .report_progress(id, token, &progress)
        .await?;
    state.hub.changed(id);
    Ok(Json(ProgressAck { proceed }))
}

/// Which shard reports, for a sharded job.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardQuery {
    /// The shard's index.
    pub shard: Option<u32>,
    /// Shards in all.
    pub shards: Option<u32>,
}

impl ShardQuery {
    fn part(&self) -> ApiResult<Option<PartInfo>> {
        match (self.shard, self.shards) {
            (None, None) | (_, Some(1)) => Ok(None),
            (Some(index), Some(count)) => {
                let part = PartInfo {
                    index,
                    count,
                    first_row: 0,
                };
                parts::check(&part)?;
                Ok(Some(part))
            }
            _ => Err(ApiError::bad_request("shard and shards go together")),
        }
    }
}

/// Records an analyzer's result and marks the job succeeded; for a sharded job, records the
/// part, and when every part is in, merges them into the result.
pub async fn analyzer_result(
    State(state): State<SchedulerState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(manifest): ApiJson<ResultManifest>,
) -> ApiResult<StatusCode> {
    let job = state.deps.metastore.job(id).await?;
    if merged_already(&job, &manifest.cache_key, manifest.part.is_some()) {
        return Ok(StatusCode::NO_CONTENT);
    }
    authorize(&state, id, &headers).await?;
    if manifest.version != 1 {
        return Err(ApiError::bad_request(format!(
            "result manifest version {} is not supported",
            manifest.version
        )));
    }
    if manifest.cache_key != job.cache_key || manifest.kind != job.spec.kind {
        return Err(ApiError::bad_request(
            "the result does not belong to this job",
        ));
    }
    for key in [
        Some(&manifest.table),
        manifest.metrics.as_ref(),
        manifest.importance.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if !state.deps.artifacts.exists(key).await? {
            return Err(ApiError::bad_request(format!(
                "result file {key} is not stored"
            )));
        }
    }
    let token = bearer(&headers);
    let is_part = manifest.part.is_some();
    let manifest = match manifest.part {
        Some(part) => {
            parts::check(&part)?;
            let now = JobProgress {
                phase: "done".into(),
                rows_done: manifest.rows,
                rows_total: Some(manifest.rows),
                percent: 100.0,
                eta_seconds: Some(0.0),
            };
            let progress = state.hub.shard_progress(id, part, now);
            let merged =
                parts::merge_when_complete(&state.deps.artifacts, &job.cache_key, part.count)
                    .await?;
            let Some(merged) = merged else {
                state
                    .deps
                    .metastore
                    .report_progress(id, token, &progress)
                    .await?;
                state.hub.changed(id);
                tracing::info!(job = %id, shard = part.index, shards = part.count, rows = manifest.rows, "part stored");
                return Ok(StatusCode::NO_CONTENT);
            };
            merged
        }
        None => manifest,
    };
    state.deps.metastore.put_result(&manifest).await?;
    let done = JobProgress {
        phase: "done".into(),
        rows_done: manifest.rows,
        rows_total: Some(manifest.rows),
        percent: 100.0,
        eta_seconds: Some(0.0),
    };
    state
        .deps
        .metastore
        .report_progress(id, token, &done)
        .await?;
    let finished = state
        .deps
        .metastore
        .finish(id, JobState::Succeeded, None)
        .await?;
    state.hub.changed(id);
    // The last two parts of a sharded job can arrive together: both merge (to the same
    // result), one finishes the job, and the other is just as done.
    if !finished {
        let now = state.deps.metastore.job(id).await?;
        if !merged_already(&now, &manifest.cache_key, is_part) {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("job {id} had already finished; its result is kept for later requests"),
            ));
        }
    }
    tracing::info!(job = %id, rows = manifest.rows, seconds = manifest.seconds, "job succeeded");
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a result arrives for a sharded job that another shard already finished: that shard
/// merged every part (this one's included, since a shard stores its files before it posts) and
/// nothing is left to do. Saying so changes nothing, so it needs no token.
fn merged_already(job: &Job, cache_key: &str, is_part: bool) -> bool {
    is_part && job.state == JobState::Succeeded && job.cache_key == cache_key
}

/// Records that an analyzer could not do its job.
pub async fn analyzer_failure(
    State(state): State<SchedulerState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(report): ApiJson<FailureReport>,
) -> ApiResult<StatusCode> {
    authorize(&state, id, &headers).await?;
    let reason: String = report.reason.chars().take(2000).collect();
    let job = state.deps.metastore.job(id).await?;
    tracing::warn!(job = %id, reason = %reason, transient = report.transient, "analyzer reported a failure");
    runner::fail_attempt(
        &state.deps,
        &state.hub,
        id,
        job.attempt,
        &reason,
        report.transient,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
