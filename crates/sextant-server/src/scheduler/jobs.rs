//! Job endpoints: submit, list, show, follow (Server-Sent Events), cancel. (The endpoints an
//! analyzer calls with its job-scoped token are in `analyzers.rs`.)

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures_util::Stream;
use serde_json::json;
use sextant_api::{
    ALGORITHM_VERSION, CreateJob, DEFAULT_LISTED_JOBS, DatasetRole, InfluenceMethod, InputRole,
    JOB_SPEC_VERSION, Job, JobInputs, JobKind, JobOptions, JobProgress, JobSpec, JobState,
    ListJobs, MAX_LISTED_JOBS, ModelSummary, Project, Resources, Role,
};
use sextant_store::{Metastore, sha256_hex};
use uuid::Uuid;

use sextant_analyzer::{analysis, shardable_kinds};

use super::SchedulerState;
use super::reference::comparable;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorCode};

/// How often an event stream looks at its job when no change notice comes (another process's
/// scheduler changed it).
const EVENT_POLL: Duration = Duration::from_millis(500);

/// The most analyzers one job can be split across.
pub const MAX_SHARDS: u32 = 64;

/// The request's options, checked by its kind and completed with their defaults.
fn check_options(
    request: &CreateJob,
    project: &Project,
    model: &ModelSummary,
) -> ApiResult<JobOptions> {
    if request.options.rows == Some(0) {
        return Err(ApiError::bad_request("options.rows must be at least 1"));
    }
    if !analysis(request.kind).compares_with_reference() {
        if request.reference.is_some() {
            return Err(ApiError::invalid(format!(
                "a {} job takes no reference dataset (that is for drift jobs)",
                request.kind.as_str()
            )));
        }
        if request.options.contributor_rows.is_some() {
            return Err(ApiError::invalid(
                "options.contributor_rows applies to drift jobs only",
            ));
        }
    }
    analysis(request.kind)
        .check(request, &project.schema, model)
        .map_err(ApiError::invalid)
}

/// For path-dependent influences on trees whose file records no node covers (ONNX): the
/// project's training data, newest first, whose rows the analyzer passes through the trees to
/// count them; refused when the project has none.
async fn cover_data(
    deps: &crate::Deps,
    project: &Project,
    model: &sextant_api::Model,
    options: &JobOptions,
    kind: JobKind,
) -> ApiResult<Option<sextant_api::InputRef>> {
    if kind != JobKind::Influences
        || options.method != Some(InfluenceMethod::PathDependent)
        || !model.summary.without_covers
    {
        return Ok(None);
    }
    let mut train: Vec<_> = deps
        .metastore
        .datasets(&project.name)
        .await?
        .into_iter()
        .filter(|d| d.summary.role == DatasetRole::Train)
        .collect();
    train.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    match train.first() {
        Some(d) => Ok(Some(d.input_ref())),
        None => Err(ApiError::invalid(format!(
            "path-dependent influences need the trees' node covers, which this {} model's file does not record: add the training data to project {:?} (a dataset with role train) to count them from, or use method interventional or sampled with a background dataset",
            model.summary.format, project.name
        ))),
    }
}

/// The key under which equal requests share one result: a hash of what the result depends on.
/// The inputs of the first release's jobs (one model, the data, a background) keep the fields
/// they had, so results stored then are still found; further models and datasets in other
/// roles join the identity only when a job has them.
fn cache_key(spec: &JobSpec, project: &Project) -> String {
    let s = &project.schema;
    let mut identity = json!({
        "kind": spec.kind,
        "model": spec.model().sha256,
        "dataset": spec.data().sha256,
        "background": spec.background().map(|b| &b.sha256),
        "options": spec.options,
        "task": s.task,
        "score_type": s.score_type,
        "classes": s.classes,
        "label": s.label,
        "id": s.id,
        "algorithm": ALGORITHM_VERSION,
    });
    if spec.inputs.models.len() > 1 {
        identity["models"] = json!(
            spec.inputs
                .models
                .iter()
                .map(|m| &m.sha256)
                .collect::<Vec<_>>()
        );
    }
    for (role, dataset) in &spec.inputs.datasets {
        if !matches!(role, InputRole::Data | InputRole::Background) {
            identity[role.as_str()] = json!(dataset.sha256);
        }
    }
    sha256_hex(identity.to_string().as_bytes())
}

/// Submits a job. A job whose result is already stored succeeds at once.
#[utoipa::path(post, path = "/api/v1/projects/{project}/jobs", tag = "scheduler",
    params(("project" = String, Path)), request_body = CreateJob,
    responses((status = 201, body = Job), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_job(
    State(state): State<SchedulerState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiJson(request): ApiJson<CreateJob>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    let deps = &state.deps;
    caller.require(deps, &project, Role::Editor).await?;
    let project = deps.metastore.project(&project).await?;
    let model = deps.metastore.model(&project.name, &request.model).await?;
    let options = check_options(&request, &project, &model.summary)?;
    let dataset = deps
        .metastore
        .dataset(&project.name, &request.dataset)
        .await?;
    if analysis(request.kind).needs_labels() && !dataset.summary.has_label {
        let what = analysis(request.kind).results_name();
        return Err(ApiError::invalid(match &project.schema.label {
            Some(label) => format!(
                "{what} need the labels, and dataset {:?} has no label column {label:?}",
                dataset.name
            ),
            None => format!(
                "{what} need the labels, and project {:?} names no label column",
                project.name
            ),
        }));
    }
    let background = match &request.background {
        Some(name) => Some(
            deps.metastore
                .dataset(&project.name, name)
                .await?
                .input_ref(),
        ),
        None => None,
    };
    let reference = match &request.reference {
        Some(name) => {
            let reference = deps.metastore.dataset(&project.name, name).await?;
            comparable(&project, &reference, &dataset)?;
            Some(reference.input_ref())
        }
        None => None,
    };
    let memory_mib = request
        .memory_mib
        .unwrap_or(deps.config.scheduler.analyzer_memory_mib);
    if memory_mib < 64 {
        return Err(ApiError::bad_request("memory_mib must be at least 64"));
    }
    let most = deps.config.scheduler.max_analyzer_memory_mib;
    if memory_mib > most {
        return Err(ApiError::bad_request(format!(
            "memory_mib {memory_mib} is above this server's limit of {most} MiB \
             (scheduler.max_analyzer_memory_mib)"
        )));
    }
    if let Some(shards) = request.shards {
        if !(1..=MAX_SHARDS).contains(&shards) {
            return Err(ApiError::bad_request(format!(
                "shards must be between 1 and {MAX_SHARDS}"
            )));
        }
        if let Some(reason) = analysis(request.kind).unsharded_because()
            && shards > 1
        {
            return Err(ApiError::invalid(format!(
                "only {} jobs are sharded ({reason})",
                shardable_kinds().join(", ")
            )));
        }
    }
    let mut inputs = JobInputs::new(model.input_ref(), dataset.input_ref());
    if let Some(b) = background {
        inputs = inputs.with(InputRole::Background, b);
    }
    if let Some(r) = reference {
        inputs = inputs.with(InputRole::Reference, r);
    }
    if let Some(covers) = cover_data(deps, &project, &model, &options, request.kind).await? {
        inputs = inputs.with(InputRole::Covers, covers);
    }
    let spec = JobSpec {
        version: JOB_SPEC_VERSION,
        kind: request.kind,
        inputs,
        options,
        resources: Resources {
            memory_mib,
            threads: deps.config.scheduler.analyzer_threads,
            shards: request.shards,
        },
    };
    let cache_key = cache_key(&spec, &project);
    // The rows of the stored result that answers this job, if there is one.
    let stored_rows = match deps.metastore.result(&cache_key).await? {
        Some(result) if deps.artifacts.exists(&result.manifest.table).await? => {
            Some(result.manifest.rows)
        }
        _ => None,
    };
    let stored = stored_rows.is_some();
    let now = Utc::now();
    let job = Job {
        id: Uuid::new_v4(),
        project: project.name.clone(),
        spec,
        cache_key,
        state: if stored {
            JobState::Succeeded
        } else {
            JobState::Queued
        },
        reason: None,
        progress: match stored_rows {
            // The stored result's rows: a job answered from it did all of them.
            Some(rows) => JobProgress {
                phase: "cached".into(),
                rows_done: rows,
                rows_total: Some(rows),
                percent: 100.0,
                eta_seconds: None,
            },
            None => JobProgress::default(),
        },
        attempt: 0,
        cached: stored,
        follows: None,
        retry_at: None,
        created_at: now,
        started_at: None,
        running_at: None,
        finished_at: stored.then_some(now),
    };
    let job = deps.metastore.create_job(&job).await?;
    tracing::info!(job = %job.id, project = %job.project, kind = ?job.spec.kind, cached = stored,
        follows = ?job.follows, "job submitted");
    if !stored && job.follows.is_none() {
        state.hub.wake();
    }
    let job = present(deps.metastore.as_ref(), job).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// A job as its submitter sees it: one that follows an identical job shows that job's state and
/// progress until it ends with it.
async fn present(metastore: &dyn Metastore, mut job: Job) -> ApiResult<Job> {
    let Some(leader) = job.follows else {
        return Ok(job);
    };
    if job.state.is_terminal() {
        return Ok(job);
    }
    let leader = metastore.job(leader).await?;
    if !leader.state.is_terminal() {
        job.state = leader.state;
        job.progress = leader.progress;
        job.started_at = leader.started_at;
        job.running_at = leader.running_at;
        job.retry_at = leader.retry_at;
    }
    Ok(job)
}

/// Each of `jobs` as its submitter sees it.
async fn present_all(metastore: &dyn Metastore, jobs: Vec<Job>) -> ApiResult<Vec<Job>> {
    let mut shown = Vec::with_capacity(jobs.len());
    for job in jobs {
        shown.push(present(metastore, job).await?);
    }
    Ok(shown)
}

/// The listing's size: as asked, 1 to 1000, or the default.
fn listing_limit(query: &ListJobs) -> ApiResult<u32> {
    match query.limit {
        None => Ok(DEFAULT_LISTED_JOBS),
        Some(n) if (1..=MAX_LISTED_JOBS).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is not between 1 and {MAX_LISTED_JOBS}"
        ))),
    }
}

/// Lists recent jobs of every project.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "scheduler", params(ListJobs),
    responses((status = 200, body = Vec<Job>)))]
pub async fn list_jobs(
    State(state): State<SchedulerState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListJobs>,
) -> ApiResult<Json<Vec<Job>>> {
    let limit = listing_limit(&query)?;
    let metastore = state.deps.metastore.as_ref();
    let jobs = match caller.visible_projects(&state.deps).await? {
        None => metastore.jobs(None, limit).await?,
        Some(projects) => metastore.jobs_in(&projects, limit).await?,
    };
    Ok(Json(present_all(metastore, jobs).await?))
}

/// A job the caller may act on with `need`: one in a project they have no role on answers
/// 404, as a job that does not exist.
async fn visible_job(
    state: &SchedulerState,
    caller: &Caller,
    id: Uuid,
    need: Role,
) -> ApiResult<Job> {
    let job = state.deps.metastore.job(id).await?;
    let missing = || {
        ApiError::from(sextant_store::StoreError::NotFound {
            what: "job",
            name: id.to_string(),
        })
    };
    caller
        .require_or(&state.deps, &job.project, need, missing)
        .await?;
    Ok(job)
}

/// Lists a project's recent jobs.
#[utoipa::path(get, path = "/api/v1/projects/{project}/jobs", tag = "scheduler",
    params(("project" = String, Path), ListJobs), responses((status = 200, body = Vec<Job>)))]
pub async fn list_project_jobs(
    State(state): State<SchedulerState>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListJobs>,
) -> ApiResult<Json<Vec<Job>>> {
    caller.require(&state.deps, &project, Role::Viewer).await?;
    state.deps.metastore.project(&project).await?;
    let limit = listing_limit(&query)?;
    let metastore = state.deps.metastore.as_ref();
    Ok(Json(
        present_all(metastore, metastore.jobs(Some(&project), limit).await?).await?,
    ))
}

/// One job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "scheduler",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Job), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_job(
    State(state): State<SchedulerState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Job>> {
    let job = visible_job(&state, &caller, id, Role::Viewer).await?;
    Ok(Json(present(state.deps.metastore.as_ref(), job).await?))
}

/// Cancels a job: a queued one never runs, a running one's analyzer is stopped.
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "scheduler",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Job), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn cancel_job(
    State(state): State<SchedulerState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Job>> {
    let job = visible_job(&state, &caller, id, Role::Editor).await?;
    let metastore = &state.deps.metastore;
    if !metastore
        .finish(id, JobState::Cancelled, Some("cancelled on request"))
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("job {id} has already {}", job.state.as_str()),
        ));
    }
    state.hub.cancel(id);
    state.hub.changed(id);
    tracing::info!(job = %id, "job cancelled");
    Ok(Json(
        present(metastore.as_ref(), metastore.job(id).await?).await?,
    ))
}

/// Follows a job: a `job` event with the job (state, progress) whenever it changes, ending after
/// its final state.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "scheduler",
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/event-stream", description = "`job` events, each the job as JSON"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn job_events(
    State(state): State<SchedulerState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    visible_job(&state, &caller, id, Role::Viewer).await?;
    let changes = state.hub.subscribe();
    let start = (state, changes, String::new(), false);
    let stream =
        futures_util::stream::unfold(start, move |(state, mut changes, last, done)| async move {
            if done {
                return None;
            }
            loop {
                let metastore = state.deps.metastore.as_ref();
                let job = match metastore.job(id).await {
                    Ok(job) => present(metastore, job)
                        .await
                        .map_err(|e| e.message().to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let job = match job {
                    Ok(job) => job,
                    Err(e) => {
                        let event = Event::default().event("error").data(e);
                        return Some((Ok(event), (state, changes, last, true)));
                    }
                };
                let text = serde_json::to_string(&job).expect("jobs serialise");
                if text != last {
                    let terminal = job.state.is_terminal();
                    let event = Event::default().event("job").data(text.clone());
                    return Some((Ok(event), (state, changes, text, terminal)));
                }
                // Wait for a notice about this job (any notice after a lag), or look again shortly:
                // another process may own the job.
                tokio::select! {
                    _ = async {
                        loop {
                            match changes.recv().await {
                                Ok(changed) if changed != id => continue,
                                _ => break,
                            }
                        }
                    } => {}
                    _ = tokio::time::sleep(EVENT_POLL) => {}
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
