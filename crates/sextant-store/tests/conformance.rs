//! The metastore conformance suite: every backend must pass the same tests. A backend joins by
//! one `conformance!` line naming how to open a fresh, empty store.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use sextant_api::*;
use sextant_store::*;
use uuid::Uuid;

#[path = "conformance/accounts.rs"]
mod accounts;
use accounts::*;

#[path = "conformance/segments.rs"]
mod segments;
use segments::*;

fn schema() -> ProjectSchema {
    ProjectSchema {
        features: vec![FeatureSpec {
            name: "x".into(),
            kind: FeatureType::Numeric,
            categories: None,
        }],
        label: Some("y".into()),
        id: None,
        task: Task::Binary,
        score_type: ScoreType::Probability,
        classes: None,
    }
}

fn project(name: &str) -> Project {
    Project {
        name: name.into(),
        schema: schema(),
        created_at: Utc::now(),
    }
}

fn model(project: &str, name: &str, sha: &str) -> Model {
    Model {
        project: project.into(),
        name: name.into(),
        sha256: sha.into(),
        summary: ModelSummary {
            format: "xgboost-json".into(),
            objective: "binary:logistic".into(),
            library_version: "3.2.0".into(),
            trees: Some(TreeSummary {
                trees: 1,
                leaves: 2,
                max_depth: 1,
            }),
            outputs: 1,
            features: vec!["x".into()],
            size_bytes: 10,
            cost_per_row: None,
            without_covers: false,
        },
        created_at: Utc::now(),
    }
}

fn dataset(project: &str, name: &str, sha: &str) -> Dataset {
    Dataset {
        project: project.into(),
        name: name.into(),
        sha256: sha.into(),
        summary: DatasetSummary {
            format: "csv".into(),
            role: DatasetRole::Test,
            rows: 3,
            size_bytes: 30,
            has_label: true,
            columns: vec!["x".into(), "y".into()],
        },
        created_at: Utc::now(),
    }
}

fn input(name: &str, sha: &str) -> InputRef {
    InputRef {
        name: name.into(),
        sha256: sha.into(),
        key: format!("k/{sha}"),
        format: None,
    }
}

/// A queued influences job over model `m` and dataset `d`, created `age_ms` ago.
fn job(project: &str, age_ms: i64, cache_key: &str) -> Job {
    Job {
        id: Uuid::new_v4(),
        project: project.into(),
        spec: JobSpec {
            version: JOB_SPEC_VERSION,
            kind: JobKind::Influences,
            inputs: JobInputs::new(input("m", "msha"), input("d", "dsha")),
            options: JobOptions::default(),
            resources: Resources {
                memory_mib: 512,
                threads: 1,
                shards: None,
            },
        },
        cache_key: cache_key.into(),
        state: JobState::Queued,
        reason: None,
        progress: JobProgress::default(),
        attempt: 0,
        cached: false,
        follows: None,
        retry_at: None,
        created_at: Utc::now() - Duration::milliseconds(age_ms),
        started_at: None,
        running_at: None,
        finished_at: None,
    }
}

async fn seeded(store: &Arc<dyn Metastore>) {
    store.create_project(&project("p"), None).await.unwrap();
    store.add_model(&model("p", "m", "msha")).await.unwrap();
    store.add_dataset(&dataset("p", "d", "dsha")).await.unwrap();
}

pub async fn projects_are_unique_and_listed(store: Arc<dyn Metastore>) {
    store.create_project(&project("b"), None).await.unwrap();
    store.create_project(&project("a"), None).await.unwrap();
    assert!(matches!(
        store.create_project(&project("a"), None).await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<String> = store
        .projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(store.project("a").await.unwrap().schema, schema());
    assert!(matches!(
        store.project("zzz").await,
        Err(StoreError::NotFound {
            what: "project",
            ..
        })
    ));
    assert!(matches!(
        store.add_model(&model("zzz", "m", "s")).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn inputs_in_use_cannot_be_deleted(store: Arc<dyn Metastore>) {
    seeded(&store).await;
    store.add_model(&model("p", "m2", "msha")).await.unwrap();
    assert!(matches!(
        store.add_model(&model("p", "m", "other")).await,
        Err(StoreError::Conflict(_))
    ));
    let j = job("p", 0, "key");
    store.create_job(&j).await.unwrap();
    let refused = store.delete_model("p", "m").await.unwrap_err();
    assert!(refused.to_string().contains(&j.id.to_string()), "{refused}");
    assert!(matches!(
        store.delete_dataset("p", "d").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .finish(j.id, JobState::Cancelled, Some("stop"))
            .await
            .unwrap()
    );
    let removed = store.delete_model("p", "m").await.unwrap();
    assert_eq!(removed.sha256, "msha");
    assert!(store.content_in_use("msha").await.unwrap(), "m2 has it");
    store.delete_model("p", "m2").await.unwrap();
    assert!(!store.content_in_use("msha").await.unwrap());
    assert!(matches!(
        store.delete_model("p", "m").await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_dataset("p", "d").await.unwrap();
    assert!(store.datasets("p").await.unwrap().is_empty());
}

pub async fn claims_are_exclusive_and_oldest_first(store: Arc<dyn Metastore>) {
    seeded(&store).await;
    let jobs: Vec<Job> = (0..6)
        .map(|i| job("p", 10_000 - i * 1000, &format!("k{i}")))
        .collect();
    for j in &jobs {
        store.create_job(j).await.unwrap();
    }
    let first = store.claim_next("a").await.unwrap().unwrap();
    assert_eq!(first.job.id, jobs[0].id, "the oldest job first");
    assert_eq!(first.job.state, JobState::Starting);
    assert_eq!(first.job.attempt, 1);
    // Eight claimers race for the five left: each job goes to exactly one.
    let claims = futures_race(&store, 8).await;
    let ids: HashSet<Uuid> = claims.iter().map(|c| c.job.id).collect();
    assert_eq!(claims.len(), 5);
    assert_eq!(ids.len(), 5);
    assert!(store.claim_next("a").await.unwrap().is_none());
    let tokens: HashSet<&str> = claims.iter().map(|c| c.token.as_str()).collect();
    assert_eq!(tokens.len(), 5, "every attempt gets its own token");
}

async fn futures_race(store: &Arc<dyn Metastore>, n: usize) -> Vec<ClaimedJob> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_next(&format!("c{i}")).await.unwrap() })
        })
        .collect();
    let mut claims = Vec::new();
    for h in handles {
        if let Some(c) = h.await.unwrap() {
            claims.push(c);
        }
    }
    claims
}

pub async fn progress_needs_the_current_token(store: Arc<dyn Metastore>) {
    seeded(&store).await;
    let j = job("p", 0, "k");
    store.create_job(&j).await.unwrap();
    let claimed = store.claim_next("a").await.unwrap().unwrap();
    store.set_pid(j.id, 4242).await.unwrap();
    let progress = JobProgress {
        phase: "computing".into(),
        rows_done: 5,
        rows_total: Some(10),
        percent: 50.0,
        eta_seconds: Some(1.0),
    };
    assert!(
        !store
            .report_progress(j.id, "wrong", &progress)
            .await
            .unwrap()
    );
    assert_eq!(store.job(j.id).await.unwrap().state, JobState::Starting);
    assert!(
        store
            .report_progress(j.id, &claimed.token, &progress)
            .await
            .unwrap()
    );
    let now = store.job(j.id).await.unwrap();
    assert_eq!(
        (now.state, now.progress.clone()),
        (JobState::Running, progress.clone())
    );
    assert!(now.running_at.is_some());
    let execution = store.execution(j.id).await.unwrap();
    assert_eq!(execution.pid, Some(4242));
    assert_eq!(execution.token.as_deref(), Some(claimed.token.as_str()));
    assert!(execution.heartbeat_at.is_some());
    assert_eq!(
        store.executions(&[JobState::Running]).await.unwrap().len(),
        1
    );

    // A job that reported recently is not taken from a scheduler that may still be alive.
    let an_hour_ago = Utc::now() - Duration::hours(1);
    assert!(!store.requeue(j.id, Some(an_hour_ago)).await.unwrap());
    assert!(!store.adopt(j.id, "c", Some(an_hour_ago)).await.unwrap());
    // A silent one is adopted: the lease moves, the attempt and its token stay valid.
    assert!(
        store
            .adopt(j.id, "c", Some(Utc::now() + Duration::seconds(1)))
            .await
            .unwrap()
    );
    let adopted = store.execution(j.id).await.unwrap();
    assert_eq!(adopted.lease_owner.as_deref(), Some("c"));
    assert_eq!(adopted.state, JobState::Running);
    assert!(
        store
            .report_progress(j.id, &claimed.token, &progress)
            .await
            .unwrap()
    );
    // A restart puts it back; the old token is void; the next claim is attempt 2.
    assert!(
        store
            .requeue(j.id, Some(Utc::now() + Duration::seconds(1)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .report_progress(j.id, &claimed.token, &progress)
            .await
            .unwrap()
    );
    let again = store.claim_next("b").await.unwrap().unwrap();
    assert_eq!(again.job.attempt, 2);
    assert_ne!(again.token, claimed.token);
    assert!(store.finish(j.id, JobState::Succeeded, None).await.unwrap());
    assert!(
        !store
            .finish(j.id, JobState::Failed, Some("late"))
            .await
            .unwrap()
    );
    assert!(!store.requeue(j.id, None).await.unwrap());
    assert!(!store.adopt(j.id, "c", None).await.unwrap());
    let done = store.job(j.id).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert!(done.finished_at.is_some() && done.reason.is_none());
    let counts = store.job_counts().await.unwrap();
    assert!(counts.contains(&(JobState::Succeeded, 1)) && counts.contains(&(JobState::Queued, 0)));
    let found = store
        .succeeded_jobs("p", JobKind::Influences, "m", "d")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        store
            .succeeded_jobs("p", JobKind::Predict, "m", "d")
            .await
            .unwrap()
            .is_empty()
    );
    // Sixty newer jobs answered from one other result: both results are still found, each
    // once, the newest job of each.
    let mut newest = None;
    for age in (0..60).rev() {
        // As the server records a job answered from a stored result: succeeded at once.
        let mut other = job("p", age, "other-key");
        other.state = JobState::Succeeded;
        other.cached = true;
        other.finished_at = Some(other.created_at);
        store.create_job(&other).await.unwrap();
        newest = Some(other.id);
    }
    let found = store
        .succeeded_jobs("p", JobKind::Influences, "m", "d")
        .await
        .unwrap();
    let keys: Vec<&str> = found.iter().map(|j| j.cache_key.as_str()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&"other-key"), "{keys:?}");
    assert_eq!(found[0].id, newest.unwrap(), "newest first");
}

pub async fn identical_jobs_follow_one(store: Arc<dyn Metastore>) {
    seeded(&store).await;
    // Eight identical submissions at once: one leads, the rest follow it.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.create_job(&job("p", 0, "same")).await.unwrap() })
        })
        .collect();
    let mut jobs = Vec::new();
    for h in handles {
        jobs.push(h.await.unwrap());
    }
    let leaders: Vec<&Job> = jobs.iter().filter(|j| j.follows.is_none()).collect();
    assert_eq!(leaders.len(), 1, "{jobs:?}");
    let leader = leaders[0].id;
    assert!(jobs.iter().all(|j| j.follows.is_none_or(|f| f == leader)));
    // Only the leader is ever claimed.
    let claimed = store.claim_next("a").await.unwrap().unwrap();
    assert_eq!(claimed.job.id, leader);
    assert!(store.claim_next("a").await.unwrap().is_none());
    let done = JobProgress {
        phase: "done".into(),
        rows_done: 10,
        rows_total: Some(10),
        percent: 100.0,
        eta_seconds: Some(0.0),
    };
    assert!(
        store
            .report_progress(leader, &claimed.token, &done)
            .await
            .unwrap()
    );
    // A cancelled follower is left out of the leader's end.
    let quitter = jobs.iter().find(|j| j.id != leader).unwrap().id;
    assert!(
        store
            .finish(quitter, JobState::Cancelled, Some("no"))
            .await
            .unwrap()
    );
    assert!(
        store
            .finish(leader, JobState::Succeeded, None)
            .await
            .unwrap()
    );
    for j in jobs.iter().filter(|j| j.id != leader && j.id != quitter) {
        let now = store.job(j.id).await.unwrap();
        assert_eq!(now.state, JobState::Succeeded, "{now:?}");
        assert!(now.cached);
        assert_eq!(now.progress, done);
        assert!(now.finished_at.is_some());
    }
    assert_eq!(store.job(quitter).await.unwrap().state, JobState::Cancelled);
    // Nothing active is left with that key: the next one leads.
    let next = store.create_job(&job("p", 0, "same")).await.unwrap();
    assert_eq!(next.follows, None);
}

pub async fn a_cancelled_leader_hands_over_and_a_failed_one_fails_its_followers(
    store: Arc<dyn Metastore>,
) {
    seeded(&store).await;
    let a = store.create_job(&job("p", 3000, "k")).await.unwrap();
    let b = store.create_job(&job("p", 2000, "k")).await.unwrap();
    let c = store.create_job(&job("p", 1000, "k")).await.unwrap();
    assert_eq!((b.follows, c.follows), (Some(a.id), Some(a.id)));
    store.claim_next("x").await.unwrap().unwrap();
    assert!(store.finish(a.id, JobState::Cancelled, None).await.unwrap());
    // The oldest follower computes now, and the other follows it.
    assert_eq!(store.job(b.id).await.unwrap().follows, None);
    assert_eq!(store.job(c.id).await.unwrap().follows, Some(b.id));
    let claimed = store.claim_next("x").await.unwrap().unwrap();
    assert_eq!(claimed.job.id, b.id);
    assert!(
        store
            .finish(b.id, JobState::Failed, Some("bad input"))
            .await
            .unwrap()
    );
    let c = store.job(c.id).await.unwrap();
    assert_eq!(c.state, JobState::Failed);
    assert_eq!(
        c.reason.as_deref(),
        Some(
            format!(
                "job {}, which computes the same result, failed: bad input",
                b.id
            )
            .as_str()
        )
    );
    assert_eq!(store.job(a.id).await.unwrap().state, JobState::Cancelled);
}

pub async fn a_retry_waits_its_turn(store: Arc<dyn Metastore>) {
    seeded(&store).await;
    let j = store.create_job(&job("p", 0, "k")).await.unwrap();
    let first = store.claim_next("a").await.unwrap().unwrap();
    // Another attempt's retry is refused.
    let later = Utc::now() + Duration::seconds(60);
    assert!(!store.retry(j.id, 2, "flaky", later).await.unwrap());
    assert!(store.retry(j.id, 1, "flaky", later).await.unwrap());
    let queued = store.job(j.id).await.unwrap();
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!(queued.reason.as_deref(), Some("flaky"));
    assert!(queued.retry_at.is_some());
    // The old attempt's token is void, and the job waits for its time.
    let progress = JobProgress::default();
    assert!(
        !store
            .report_progress(j.id, &first.token, &progress)
            .await
            .unwrap()
    );
    assert!(store.claim_next("a").await.unwrap().is_none());
    // An identical job submitted meanwhile follows the one waiting to retry.
    let twin = store.create_job(&job("p", 0, "k")).await.unwrap();
    assert_eq!(twin.follows, Some(j.id));
    // Due now: claimed again, as attempt 2.
    assert!(
        !store.retry(j.id, 1, "flaky", Utc::now()).await.unwrap(),
        "queued already"
    );
    store.finish(j.id, JobState::Cancelled, None).await.unwrap();
    let k = store.create_job(&job("p", 0, "k2")).await.unwrap();
    store.claim_next("a").await.unwrap().unwrap(); // the twin, handed over
    let second = store.claim_next("a").await.unwrap().unwrap();
    assert_eq!(second.job.id, k.id);
    assert!(
        store
            .retry(k.id, 1, "flaky", Utc::now() - Duration::seconds(1))
            .await
            .unwrap()
    );
    let again = store.claim_next("a").await.unwrap().unwrap();
    assert_eq!((again.job.id, again.job.attempt), (k.id, 2));
    assert_eq!(again.job.retry_at, None);
}

pub async fn results_are_stored_once(store: Arc<dyn Metastore>) {
    let manifest = |rows| ResultManifest {
        drift: None,
        version: 1,
        kind: JobKind::Predict,
        cache_key: "key".into(),
        rows,
        table: "results/key/table.parquet".into(),
        columns: vec!["margin".into()],
        metrics: None,
        importance: None,
        method: None,
        additivity: None,
        algorithm_version: "v".into(),
        seconds: 1.0,
        part: None,
        parts: Vec::new(),
    };
    assert!(store.result("key").await.unwrap().is_none());
    store.put_result(&manifest(10)).await.unwrap();
    store.put_result(&manifest(20)).await.unwrap();
    assert_eq!(
        store.result("key").await.unwrap().unwrap().manifest.rows,
        10
    );
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (store, _guard) = $open.await;
                        super::$name(store).await;
                    }
                };
            }

            case!(projects_are_unique_and_listed);
            case!(inputs_in_use_cannot_be_deleted);
            case!(claims_are_exclusive_and_oldest_first);
            case!(progress_needs_the_current_token);
            case!(results_are_stored_once);
            case!(identical_jobs_follow_one);
            case!(a_cancelled_leader_hands_over_and_a_failed_one_fails_its_followers);
            case!(a_retry_waits_its_turn);
            case!(users_tokens_and_roles);
            case!(the_audit_log_is_read_newest_first_and_filtered);
            case!(a_project_is_deleted_with_what_it_holds);
            case!(segments_are_unique_per_project_and_go_with_it);
            case!(feature_groups_are_unique_per_project_and_go_with_it);
        }
    };
}

async fn open_sqlite() -> (Arc<dyn Metastore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("meta.db").display());
    (open_metastore(&uri).await.unwrap(), dir)
}

/// The PostgreSQL the tests use: `tools/dev-postgres.sh` starts one at the default address.
fn postgres_admin_uri() -> String {
    std::env::var("SEXTANT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://sextant@127.0.0.1:55432/postgres".into())
}

/// A fresh database on the test server for one test.
async fn open_postgres() -> (Arc<dyn Metastore>, ()) {
    use sqlx::Connection;
    let admin = postgres_admin_uri();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("cannot reach PostgreSQL at {admin} ({e}): run tools/dev-postgres.sh, or set SEXTANT_TEST_POSTGRES")
    });
    let name = format!("sextant_test_{}", Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').expect("a database in the URI");
    let store = open_metastore(&format!("{base}/{name}")).await.unwrap();
    (store, ())
}

conformance!(sqlite, open_sqlite());
conformance!(postgres, open_postgres());
