//! What the SQL metastore backends share: one implementation of [`Metastore`](crate::Metastore),
//! written once and expanded per database by [`sql_metastore!`]. Every statement is written in
//! the SQL both SQLite and PostgreSQL accept (`$n` placeholders, `CAST`, `COUNT`); where they must
//! differ (row locks), the backend's [`Dialect`] supplies the words.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};

/// States in which a job still needs its inputs.
pub(crate) const ACTIVE: &str = "('queued','starting','running')";

/// The words a backend adds for transactions and row locks.
pub(crate) struct Dialect {
    /// Starts a transaction that reads, then writes.
    pub begin_write: &'static str,
    /// After the claim's subquery: lock the row, skipping rows others hold.
    pub claim_lock: &'static str,
    /// After a read of a job's inputs while the job is recorded.
    pub share_lock: &'static str,
    /// After the read of a model or dataset about to be deleted.
    pub update_lock: &'static str,
    /// A statement that holds a lock named by the text `$1` until the transaction ends (empty
    /// where write transactions are serialised anyway).
    pub key_lock: &'static str,
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub(crate) fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialise")
}

pub(crate) fn parse<T: DeserializeOwned>(what: &'static str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|source| StoreError::Corrupt { what, source })
}

pub(crate) fn taken(e: sqlx::Error, message: String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(message),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::Conflict(message),
        _ => StoreError::Database {
            context: "insert",
            source: e,
        },
    }
}

pub(crate) fn not_found(what: &'static str, name: impl Into<String>) -> StoreError {
    StoreError::NotFound {
        what,
        name: name.into(),
    }
}

/// A fresh job-scoped secret.
pub(crate) fn new_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// Expands the [`Metastore`](crate::Metastore) implementation for a backend type `$store` with a
/// `pool` field, over database `$db` with rows `$row`; `DIALECT` must be in scope.
macro_rules! sql_metastore {
    ($store:ty, $db:ty, $row:ty) => {
fn get<'r, T: sqlx::Decode<'r, $db> + sqlx::Type<$db>>(
    row: &'r $row,
    column: &str,
) -> StoreResult<T> {
    row.try_get(column).map_err(db("read a row"))
}

fn project_row(row: &$row) -> StoreResult<Project> {
    Ok(Project {
        name: get(row, "name")?,
        schema: parse("project schema", &get::<String>(row, "schema")?)?,
        created_at: time(get(row, "created_at")?),
    })
}

fn model_row(row: &$row) -> StoreResult<Model> {
    Ok(Model {
        project: get(row, "project")?,
        name: get(row, "name")?,
        sha256: get(row, "sha256")?,
        summary: parse("model summary", &get::<String>(row, "summary")?)?,
        created_at: time(get(row, "created_at")?),
    })
}

fn dataset_row(row: &$row) -> StoreResult<Dataset> {
    Ok(Dataset {
        project: get(row, "project")?,
        name: get(row, "name")?,
        sha256: get(row, "sha256")?,
        summary: parse("dataset summary", &get::<String>(row, "summary")?)?,
        created_at: time(get(row, "created_at")?),
    })
}

fn state_of(row: &$row) -> StoreResult<JobState> {
    let name: String = get(row, "state")?;
    JobState::parse(&name).ok_or_else(|| StoreError::Corrupt {
        what: "job state",
        source: serde::de::Error::custom(format!("unknown state {name:?}")),
    })
}

fn id_of(row: &$row) -> StoreResult<Uuid> {
    let id: String = get(row, "id")?;
    Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt {
        what: "job id",
        source: serde::de::Error::custom(e.to_string()),
    })
}

fn job_row(row: &$row) -> StoreResult<Job> {
    Ok(Job {
        id: id_of(row)?,
        project: get(row, "project")?,
        spec: parse("job spec", &get::<String>(row, "spec")?)?,
        cache_key: get(row, "cache_key")?,
        state: state_of(row)?,
        reason: get(row, "reason")?,
        progress: parse("job progress", &get::<String>(row, "progress")?)?,
        attempt: get::<i64>(row, "attempt")? as u32,
        cached: get::<i64>(row, "cached")? != 0,
        follows: get::<Option<String>>(row, "follows")?
            .map(|id| {
                Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt {
                    what: "followed job id",
                    source: serde::de::Error::custom(e.to_string()),
                })
            })
            .transpose()?,
        retry_at: get::<Option<i64>>(row, "retry_at")?.map(time),
        created_at: time(get(row, "created_at")?),
        started_at: get::<Option<i64>>(row, "started_at")?.map(time),
        running_at: get::<Option<i64>>(row, "running_at")?.map(time),
        finished_at: get::<Option<i64>>(row, "finished_at")?.map(time),
    })
}

/// A conflict naming the unfinished jobs (rows with an `id`) that stand in the way, if any.
fn refuse_while_running(jobs: &[$row], what: &str) -> StoreResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = jobs
        .iter()
        .map(|r| get::<String>(r, "id"))
        .collect::<StoreResult<_>>()?;
    Err(StoreError::Conflict(format!(
        "{what} unfinished job(s) {}; cancel them or wait",
        ids.join(", ")
    )))
}

fn execution_row(row: &$row) -> StoreResult<JobExecution> {
    Ok(JobExecution {
        id: id_of(row)?,
        state: state_of(row)?,
        token: get(row, "token")?,
        pid: get(row, "pid")?,
        lease_owner: get(row, "lease_owner")?,
        heartbeat_at: get::<Option<i64>>(row, "heartbeat_at")?.map(time),
    })
}


#[async_trait]
impl Metastore for $store {
    async fn check(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db("check the database"))?;
        Ok(())
    }

    async fn create_project(&self, project: &Project, owner: Option<&Member>) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(DIALECT.begin_write).await.map_err(db("begin"))?;
        sqlx::query("INSERT INTO projects (name, schema, created_at) VALUES ($1, $2, $3)")
            .bind(&project.name)
            .bind(json(&project.schema))
            .bind(millis(project.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| taken(e, format!("project {:?} already exists", project.name)))?;
        if let Some(owner) = owner {
            sqlx::query(
                "INSERT INTO members (project, user_name, role, granted_at, granted_by)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&project.name)
            .bind(&owner.user)
            .bind(owner.role.as_str())
            .bind(millis(owner.granted_at))
            .bind(&owner.granted_by)
            .execute(&mut *tx)
            .await
            .map_err(|e| taken(e, format!("user {:?} does not exist", owner.user)))?;
        }
        tx.commit().await.map_err(db("commit"))?;
        Ok(())
    }

    async fn delete_project(&self, name: &str) -> StoreResult<ProjectRemains> {
        self.remove_project(name).await
    }

    async fn project(&self, name: &str) -> StoreResult<Project> {
        let row = sqlx::query("SELECT * FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("read a project"))?
            .ok_or_else(|| not_found("project", name))?;
        project_row(&row)
    }

    async fn projects(&self) -> StoreResult<Vec<Project>> {
        sqlx::query("SELECT * FROM projects ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db("list projects"))?
            .iter()
            .map(project_row)
            .collect()
    }

    async fn add_model(&self, model: &Model) -> StoreResult<()> {
        self.insert_input(
            "models",
            "model",
            (&model.project, &model.name, &model.sha256),
            json(&model.summary),
            model.created_at,
        )
        .await
    }

    async fn model(&self, project: &str, name: &str) -> StoreResult<Model> {
        model_row(&self.input_row("models", "model", project, name).await?)
    }

    async fn models(&self, project: &str) -> StoreResult<Vec<Model>> {
        self.input_rows("models", project)
            .await?
            .iter()
            .map(model_row)
            .collect()
    }

    async fn delete_model(&self, project: &str, name: &str) -> StoreResult<Model> {
        self.delete_input("models", "model", project, name)
            .await
            .and_then(|row| model_row(&row))
    }

    async fn add_dataset(&self, dataset: &Dataset) -> StoreResult<()> {
        self.insert_input(
            "datasets",
            "dataset",
            (&dataset.project, &dataset.name, &dataset.sha256),
            json(&dataset.summary),
            dataset.created_at,
        )
        .await
    }

    async fn dataset(&self, project: &str, name: &str) -> StoreResult<Dataset> {
        dataset_row(&self.input_row("datasets", "dataset", project, name).await?)
    }

    async fn datasets(&self, project: &str) -> StoreResult<Vec<Dataset>> {
        self.input_rows("datasets", project)
            .await?
            .iter()
            .map(dataset_row)
            .collect()
    }

    async fn delete_dataset(&self, project: &str, name: &str) -> StoreResult<Dataset> {
        self.delete_input("datasets", "dataset", project, name)
            .await
            .and_then(|row| dataset_row(&row))
    }

    async fn content_in_use(&self, sha256: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS used FROM (SELECT 1 AS one FROM models WHERE sha256 = $1
             UNION ALL SELECT 1 AS one FROM datasets WHERE sha256 = $1) AS uses",
        )
        .bind(sha256)
        .fetch_one(&self.pool)
        .await
        .map_err(db("look up content"))?;
        Ok(get::<i64>(&row, "used")? != 0)
    }

    async fn create_job(&self, job: &Job) -> StoreResult<Job> {
        self.sql_create_job(job).await
    }

    async fn job(&self, id: Uuid) -> StoreResult<Job> {
        self.sql_job(id).await
    }

    async fn jobs(&self, project: Option<&str>, limit: u32) -> StoreResult<Vec<Job>> {
        self.sql_jobs(project, limit).await
    }

    async fn jobs_in(&self, projects: &[String], limit: u32) -> StoreResult<Vec<Job>> {
        self.sql_jobs_in(projects, limit).await
    }

    async fn succeeded_jobs(
        &self,
        project: &str,
        kind: JobKind,
        model: &str,
        dataset: &str,
    ) -> StoreResult<Vec<Job>> {
        self.sql_succeeded_jobs(project, kind, model, dataset).await
    }

    async fn job_counts(&self) -> StoreResult<Vec<(JobState, u64)>> {
        self.sql_job_counts().await
    }

    async fn execution(&self, id: Uuid) -> StoreResult<JobExecution> {
        self.sql_execution(id).await
    }

    async fn executions(&self, states: &[JobState]) -> StoreResult<Vec<JobExecution>> {
        self.sql_executions(states).await
    }

    async fn claim_next(&self, owner: &str) -> StoreResult<Option<ClaimedJob>> {
        self.sql_claim_next(owner).await
    }

    async fn set_pid(&self, id: Uuid, pid: i64) -> StoreResult<()> {
        self.sql_set_pid(id, pid).await
    }

    async fn report_progress(
        &self,
        id: Uuid,
        token: &str,
        progress: &JobProgress,
    ) -> StoreResult<bool> {
        self.sql_report_progress(id, token, progress).await
    }

    async fn finish(&self, id: Uuid, state: JobState, reason: Option<&str>) -> StoreResult<bool> {
        self.sql_finish(id, state, reason).await
    }

    async fn retry(
        &self,
        id: Uuid,
        attempt: u32,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.sql_retry(id, attempt, reason, at).await
    }

    async fn requeue(&self, id: Uuid, silent_since: Option<DateTime<Utc>>) -> StoreResult<bool> {
        self.sql_requeue(id, silent_since).await
    }

    async fn adopt(
        &self,
        id: Uuid,
        owner: &str,
        silent_since: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        self.sql_adopt(id, owner, silent_since).await
    }

    async fn put_result(&self, manifest: &ResultManifest) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO results (cache_key, manifest, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (cache_key) DO NOTHING",
        )
        .bind(&manifest.cache_key)
        .bind(json(manifest))
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(db("store a result"))?;
        Ok(())
    }

    async fn result(&self, cache_key: &str) -> StoreResult<Option<StoredResult>> {
        let row = sqlx::query("SELECT * FROM results WHERE cache_key = $1")
            .bind(cache_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("read a result"))?;
        row.map(|row| {
            Ok(StoredResult {
                manifest: parse("result manifest", &get::<String>(&row, "manifest")?)?,
                created_at: time(get(&row, "created_at")?),
            })
        })
        .transpose()
    }
}

/// Models and datasets share one layout: `(project, name, sha256, summary, created_at)`. The
/// table names below are constants of this file, never input.
impl $store {
    async fn insert_input(
        &self,
        table: &'static str,
        kind: &'static str,
        (project, name, sha256): (&str, &str, &str),
        summary: String,
        created_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (project, name, sha256, summary, created_at) VALUES ($1, $2, $3, $4, $5)"
        )))
        .bind(project)
        .bind(name)
        .bind(sha256)
        .bind(summary)
        .bind(millis(created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            taken(
                e,
                format!("project {project:?} already has a {kind} named {name:?}"),
            )
        })?;
        Ok(())
    }

    async fn input_row(
        &self,
        table: &'static str,
        kind: &'static str,
        project: &str,
        name: &str,
    ) -> StoreResult<$row> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT * FROM {table} WHERE project = $1 AND name = $2"
        )))
        .bind(project)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("read a model or dataset"))?
        .ok_or_else(|| not_found(kind, name))
    }

    async fn input_rows(&self, table: &'static str, project: &str) -> StoreResult<Vec<$row>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT * FROM {table} WHERE project = $1 ORDER BY name"
        )))
        .bind(project)
        .fetch_all(&self.pool)
        .await
        .map_err(db("list models or datasets"))
    }

    /// Deletes a model or dataset row unless an unfinished job reads it; returns the row.
    async fn delete_input(
        &self,
        table: &'static str,
        kind: &'static str,
        project: &str,
        name: &str,
    ) -> StoreResult<$row> {
        let mut tx = self.pool.begin_with(DIALECT.begin_write).await.map_err(db("begin"))?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT * FROM {table} WHERE project = $1 AND name = $2{}",
            DIALECT.update_lock
        )))
        .bind(project)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("read before delete"))?
        .ok_or_else(|| not_found(kind, name))?;
        let users = sqlx::query(AssertSqlSafe(format!(
            "SELECT jobs.id FROM job_inputs JOIN jobs ON jobs.id = job_inputs.job_id
             WHERE job_inputs.project = $1 AND job_inputs.kind = $2 AND job_inputs.name = $3
             AND jobs.state IN {ACTIVE}"
        )))
        .bind(project)
        .bind(kind)
        .bind(name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("look up jobs"))?;
        refuse_while_running(&users, &format!("{kind} {name:?} is in use by"))?;
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE project = $1 AND name = $2"
        )))
        .bind(project)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(db("delete"))?;
        tx.commit().await.map_err(db("commit"))?;
        Ok(row)
    }
}

    };
}

pub(crate) use sql_metastore;
