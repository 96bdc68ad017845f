//! The scheduler's loop: claim queued jobs up to the concurrency limit, launch an analyzer for
//! each, watch it (exit, cancellation, heartbeat), and settle the job's final state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sextant_analyzer::Fault;
use sextant_api::JobState;
use sextant_store::{ClaimedJob, Metastore};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::JobHub;
use super::launcher::{Analyzer, AnalyzerExit, LaunchRequest, Launcher, Sizing, sizing};
use crate::Deps;

/// How often the launch loop looks for queued jobs when nothing wakes it (a job submitted to
/// another process's scheduler), and how long it waits after the metastore failed.
const CLAIM_POLL: Duration = Duration::from_secs(1);

/// Runs the scheduler until the process ends.
pub(super) async fn run(
    deps: Deps,
    hub: Arc<JobHub>,
    launcher: Arc<dyn Launcher>,
    server_url: String,
) {
    // An embedded SQLite metastore has one process, so every unfinished job found at start was
    // this server's before it restarted. A shared metastore may have other live schedulers.
    let alone = deps.config.metastore_uri.starts_with("sqlite:");
    if let Err(e) = launcher.lead(&hub.owner).await {
        tracing::error!(error = %e, "cannot become the scheduler; no job will run here");
        return;
    }
    let slots = Arc::new(Semaphore::new(
        deps.config.scheduler.max_concurrent_analyzers,
    ));
    recover(&deps, &hub, &launcher, &slots, alone).await;
    // Then, now and again, take over jobs whose scheduler died elsewhere.
    let (d, h, l, s) = (deps.clone(), hub.clone(), launcher.clone(), slots.clone());
    tokio::spawn(async move {
        let every = Duration::from_secs_f64(d.config.scheduler.heartbeat_timeout_seconds / 2.0);
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            recover(&d, &h, &l, &s, false).await;
        }
    });
    loop {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        match deps.metastore.claim_next(&hub.owner).await {
            Ok(Some(claimed)) => {
                let (deps, hub, launcher, url) = (
                    deps.clone(),
                    hub.clone(),
                    launcher.clone(),
                    server_url.clone(),
                );
                tokio::spawn(supervise(deps, hub, launcher, url, claimed, permit));
            }
            Ok(None) => {
                drop(permit);
                tokio::select! {
                    _ = hub.wake.notified() => {}
                    _ = tokio::time::sleep(CLAIM_POLL) => {}
                }
            }
            Err(e) => {
                drop(permit);
                tracing::error!(error = %e, "cannot claim a job");
                tokio::time::sleep(CLAIM_POLL).await;
            }
        }
    }
}

/// Finds jobs that lost their supervisor. An analyzer the launcher can still follow from here (a
/// Kubernetes Job) is adopted: this scheduler takes the lease and supervises it. Any other is
/// stopped and its job queued again, so it runs once more, never twice at once. With `alone` (at
/// the start of the only scheduler), that is every unfinished job; otherwise only jobs of other
/// schedulers that have been silent for longer than the heartbeat timeout (their scheduler died
/// with them).
async fn recover(
    deps: &Deps,
    hub: &Arc<JobHub>,
    launcher: &Arc<dyn Launcher>,
    slots: &Arc<Semaphore>,
    alone: bool,
) {
    let left = match deps
        .metastore
        .executions(&[JobState::Starting, JobState::Running])
        .await
    {
        Ok(left) => left,
        Err(e) => {
            tracing::error!(error = %e, "cannot list unfinished jobs");
            return;
        }
    };
    let timeout = chrono::Duration::milliseconds(
        (deps.config.scheduler.heartbeat_timeout_seconds * 1e3) as i64,
    );
    let silent_since = (!alone).then(|| Utc::now() - timeout);
    for execution in left {
        if execution.lease_owner.as_deref() == Some(hub.owner.as_str()) {
            continue; // Ours: its supervisor watches it.
        }
        if let (Some(since), Some(beat)) = (silent_since, execution.heartbeat_at)
            && beat >= since
        {
            continue; // Reported recently: its scheduler may well be alive.
        }
        if let Some(analyzer) = launcher.adopt(&execution).await {
            match deps
                .metastore
                .adopt(execution.id, &hub.owner, silent_since)
                .await
            {
                Ok(true) => {
                    let job = match deps.metastore.job(execution.id).await {
                        Ok(job) => job,
                        Err(e) => {
                            tracing::error!(job = %execution.id, error = %e, "cannot read an adopted job");
                            continue;
                        }
                    };
                    tracing::info!(job = %execution.id, "analyzer adopted after a restart");
                    // It runs already: it takes a slot if one is free, but is never refused.
                    let permit = slots.clone().try_acquire_owned().ok();
                    tokio::spawn(follow(
                        deps.clone(),
                        hub.clone(),
                        launcher.name(),
                        job,
                        analyzer,
                        permit,
                    ));
                    continue;
                }
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(job = %execution.id, error = %e, "cannot adopt");
                    continue;
                }
            }
        }
        launcher.stop_leftover(&execution).await;
        match deps.metastore.requeue(execution.id, silent_since).await {
            Ok(true) => tracing::info!(job = %execution.id, "job queued again after a restart"),
            Ok(false) => {}
            Err(e) => tracing::error!(job = %execution.id, error = %e, "cannot requeue"),
        }
    }
}

/// Ends a failed attempt of a job: queued again after a pause when the failure may pass
/// (`transient`) and attempts remain, failed otherwise. The pause doubles with each attempt.
pub(super) async fn fail_attempt(
    deps: &Deps,
    hub: &Arc<JobHub>,
    id: uuid::Uuid,
    attempt: u32,
    reason: &str,
    transient: bool,
) {
    let config = &deps.config.scheduler;
    if transient && attempt < config.max_attempts {
        let pause = config.retry_backoff_seconds * 2f64.powi(attempt.saturating_sub(1) as i32);
        let at = Utc::now() + chrono::Duration::milliseconds((pause * 1e3) as i64);
        let why = format!(
            "attempt {attempt} of {} failed: {reason}; retrying in {pause:.1} s",
            config.max_attempts
        );
        match deps.metastore.retry(id, attempt, &why, at).await {
            Ok(true) => {
                tracing::warn!(job = %id, attempt, reason, pause, "job queued again to retry");
                hub.changed(id);
                let hub = hub.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs_f64(pause)).await;
                    hub.wake();
                });
                return;
            }
            Ok(false) => return, // It has moved on: finished, or another attempt runs.
            Err(e) => tracing::error!(job = %id, error = %e, "cannot queue a retry"),
        }
    }
    let reason = if transient && attempt > 1 {
        format!(
            "{reason} (attempt {attempt} of {}; no more retries)",
            config.max_attempts
        )
    } else {
        reason.to_string()
    };
    settle(deps.metastore.as_ref(), id, &reason).await;
    hub.changed(id);
}

async fn settle(metastore: &dyn Metastore, id: uuid::Uuid, reason: &str) {
    match metastore.finish(id, JobState::Failed, Some(reason)).await {
        Ok(true) => tracing::warn!(job = %id, reason, "job failed"),
        Ok(false) => {}
        Err(e) => tracing::error!(job = %id, error = %e, "cannot record a failure"),
    }
}

/// CPU, memory and shards for a job, from its cost and what the launcher can do.
async fn sizing(deps: &Deps, launcher: &dyn Launcher, job: &sextant_api::Job) -> Sizing {
    let spec = &job.spec;
    let fallback = Sizing {
        cpu_millis: (spec.resources.threads.max(1) * 1000) as u32,
        memory_mib: spec.resources.memory_mib,
        work: 0.0,
        shards: 1,
    };
    let k = &deps.config.kubernetes;
    let model = deps.metastore.model(&job.project, &spec.model().name).await;
    let dataset = deps
        .metastore
        .dataset(&job.project, &spec.data().name)
        .await;
    let (Ok(model), Ok(dataset)) = (model, dataset) else {
        return fallback;
    };
    let background_rows = match spec.background() {
        Some(b) => deps
            .metastore
            .dataset(&job.project, &b.name)
            .await
            .ok()
            .map(|d| d.summary.rows),
        None => None,
    };
    let mut sizing = sizing::estimate(
        spec,
        &model.summary,
        &dataset.summary,
        background_rows,
        k.max_cpu,
        k.max_memory_mib,
    );
    let rows = spec
        .options
        .rows
        .map_or(dataset.summary.rows, |n| n.min(dataset.summary.rows));
    sizing.shards = sizing::shards(
        spec,
        &model.summary,
        &sizing,
        rows,
        launcher.shards_by_cost(),
        launcher.max_shards(),
    );
    sizing
}

async fn supervise(
    deps: Deps,
    hub: Arc<JobHub>,
    launcher: Arc<dyn Launcher>,
    server_url: String,
    claimed: ClaimedJob,
    permit: OwnedSemaphorePermit,
) {
    let job = claimed.job;
    let id = job.id;
    hub.changed(id);
    let request = LaunchRequest {
        job_id: id,
        attempt: job.attempt,
        token: claimed.token,
        server_url,
        memory_mib: job.spec.resources.memory_mib,
        threads: job.spec.resources.threads,
        sizing: sizing(&deps, launcher.as_ref(), &job).await,
        // A transient fault passes: the first attempt has it, a retry does not.
        fault: (deps.config.scheduler.analyzer_fault)
            .filter(|f| *f != Fault::Transient || job.attempt == 1),
        environment: deps.config.scheduler.analyzer_environment.clone(),
    };
    let analyzer = match launcher.launch(&request).await {
        Ok(analyzer) => analyzer,
        Err(why) => {
            // The cluster or the container engine may well take it next time.
            let reason = format!("could not start an analyzer: {why}");
            fail_attempt(&deps, &hub, id, job.attempt, &reason, true).await;
            return;
        }
    };
    follow(deps, hub, launcher.name(), job, analyzer, Some(permit)).await;
}

/// Watches a started analyzer to its end: exit, cancellation, heartbeat; settles the job.
async fn follow(
    deps: Deps,
    hub: Arc<JobHub>,
    launcher: &'static str,
    job: sextant_api::Job,
    mut analyzer: Box<dyn Analyzer>,
    _permit: Option<OwnedSemaphorePermit>,
) {
    let id = job.id;
    let config = &deps.config.scheduler;
    let started = Instant::now();
    if let Some(pid) = analyzer.pid()
        && let Err(e) = deps.metastore.set_pid(id, pid).await
    {
        tracing::error!(job = %id, error = %e, "cannot record the analyzer's pid");
    }
    tracing::info!(job = %id, attempt = job.attempt, pid = ?analyzer.pid(), launcher, "analyzer started");
    let (cancel_tx, mut cancel_rx) = watch::channel(false);
    hub.cancels
        .lock()
        .expect("cancel lock")
        .insert(id, cancel_tx);
    let timeout = Duration::from_secs_f64(config.heartbeat_timeout_seconds);
    let mut tick =
        tokio::time::interval(Duration::from_secs_f64(config.heartbeat_interval_seconds));
    // When the analyzer was first seen running: silence before that (a pod waiting for a node)
    // is not a missed heartbeat.
    let mut running_since: Option<Instant> = None;
    let exit = loop {
        tokio::select! {
            exit = analyzer.wait() => break Some(exit),
            _ = cancel_rx.changed() => {
                analyzer.kill().await;
                break None;
            }
            _ = tick.tick() => {
                let Ok(execution) = deps.metastore.execution(id).await else { continue };
                if execution.state.is_terminal() || execution.state == JobState::Queued {
                    // Cancelled, finished by a report, or queued to retry, while we looked
                    // elsewhere.
                    if execution.state != JobState::Succeeded {
                        analyzer.kill().await;
                        break None;
                    }
                    continue;
                }
                if running_since.is_none() && analyzer.running() {
                    running_since = Some(Instant::now());
                }
                let Some(since) = running_since else { continue };
                let silent = execution
                    .heartbeat_at
                    .map(|t| (Utc::now() - t).to_std().unwrap_or_default())
                    .unwrap_or_default()
                    .min(since.elapsed());
                if silent > timeout {
                    analyzer.kill().await;
                    settle(
                        deps.metastore.as_ref(),
                        id,
                        &format!(
                            "analyzer sent no progress for {:.0} s (heartbeat timeout); it was stopped",
                            silent.as_secs_f64()
                        ),
                    )
                    .await;
                    break None;
                }
            }
        }
    };
    hub.cancels.lock().expect("cancel lock").remove(&id);
    hub.forget_shards(id);
    if let Some(exit) = exit {
        // A job that has finished, or was queued to retry, is settled already.
        let now = deps.metastore.job(id).await;
        if let Ok(now) = now
            && !now.state.is_terminal()
            && now.state != JobState::Queued
            && now.attempt == job.attempt
        {
            match exit {
                AnalyzerExit::Success => {
                    settle(
                        deps.metastore.as_ref(),
                        id,
                        "analyzer exited without reporting a result",
                    )
                    .await
                }
                AnalyzerExit::Failed(reason) => settle(deps.metastore.as_ref(), id, &reason).await,
                AnalyzerExit::Cancelled(reason) => {
                    match deps
                        .metastore
                        .finish(id, JobState::Cancelled, Some(&reason))
                        .await
                    {
                        Ok(true) => tracing::warn!(job = %id, reason, "job cancelled"),
                        Ok(false) => {}
                        Err(e) => tracing::error!(job = %id, error = %e, "cannot record a cancel"),
                    }
                }
            }
        }
    }
    let outcome = deps
        .metastore
        .job(id)
        .await
        .map(|j| match j.state {
            JobState::Queued => "retried",
            state => state.as_str(),
        })
        .unwrap_or("unknown");
    let kind = job.spec.kind.as_str();
    let seconds = started.elapsed().as_secs_f64();
    deps.telemetry.observe_analyzer(kind, outcome, seconds);
    tracing::info!(job = %id, outcome, seconds, "analyzer finished");
    hub.changed(id);
}
