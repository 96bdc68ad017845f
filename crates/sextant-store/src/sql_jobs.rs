//! The job queue for the SQL backends: jobs created (or answered from a stored result), listed,
//! claimed by the scheduler, their progress, their end, retries and adoption after a restart.
//! Expanded per database by [`sql_job_queue!`] beside [`sql_metastore!`](crate::sql::sql_metastore),
//! whose row helpers it uses; the [`Metastore`](crate::Metastore) methods call these.

/// Expands the job queue of `$store` (a `pool` field) with rows `$row`.
macro_rules! sql_job_queue {
    ($store:ty, $row:ty) => {
impl $store {
    /// [`Metastore::create_job`](crate::Metastore::create_job).
    async fn sql_create_job(&self, job: &Job) -> StoreResult<Job> {
        let mut job = job.clone();
        let mut tx = self.pool.begin_with(DIALECT.begin_write).await.map_err(db("begin"))?;
        // Hold the inputs while the job is recorded, so a concurrent delete waits and then sees it.
        let models = job.spec.inputs.models.iter().map(|m| ("models", "model", &m.name));
        let datasets = (job.spec.inputs.datasets.values()).map(|d| ("datasets", "dataset", &d.name));
        let inputs: Vec<(&str, &str, &String)> = models.chain(datasets).collect();
        for (table, kind, name) in &inputs {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT name FROM {table} WHERE project = $1 AND name = $2{}",
                DIALECT.share_lock
            )))
            .bind(&job.project)
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("lock job inputs"))?
            .ok_or_else(|| not_found(kind, name.as_str()))?;
        }
        // A queued job follows an identical one that is queued or running. The lock on the
        // cache key makes concurrent identical submissions take turns here, so one leads.
        if job.state == JobState::Queued {
            if !DIALECT.key_lock.is_empty() {
                sqlx::query(DIALECT.key_lock)
                    .bind(&job.cache_key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("lock a cache key"))?;
            }
            let leader = sqlx::query(AssertSqlSafe(format!(
                "SELECT id FROM jobs WHERE cache_key = $1 AND state IN {ACTIVE} AND follows IS NULL
                 ORDER BY created_at, id LIMIT 1"
            )))
            .bind(&job.cache_key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("look up identical jobs"))?;
            job.follows = leader.as_ref().map(id_of).transpose()?;
        }
        sqlx::query(
            "INSERT INTO jobs (id, project, kind, model, dataset, spec, cache_key, state, reason,
                               progress, attempt, cached, created_at, started_at, finished_at,
                               follows)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(job.id.to_string())
        .bind(&job.project)
        .bind(job.spec.kind.as_str())
        .bind(&job.spec.model().name)
        .bind(&job.spec.data().name)
        .bind(json(&job.spec))
        .bind(&job.cache_key)
        .bind(job.state.as_str())
        .bind(&job.reason)
        .bind(json(&job.progress))
        .bind(job.attempt as i64)
        .bind(job.cached as i64)
        .bind(millis(job.created_at))
        .bind(job.started_at.map(millis))
        .bind(job.finished_at.map(millis))
        .bind(job.follows.map(|id| id.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(|e| taken(e, format!("job {} already exists", job.id)))?;
        for (_, kind, name) in inputs {
            sqlx::query("INSERT INTO job_inputs (job_id, project, kind, name) VALUES ($1, $2, $3, $4)")
                .bind(job.id.to_string())
                .bind(&job.project)
                .bind(kind)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db("record job inputs"))?;
        }
        tx.commit().await.map_err(db("commit"))?;
        Ok(job)
    }

    /// [`Metastore::job`](crate::Metastore::job).
    async fn sql_job(&self, id: Uuid) -> StoreResult<Job> {
        job_row(&self.job_record(id).await?)
    }

    /// The row of job `id`, whatever is read of it.
    async fn job_record(&self, id: Uuid) -> StoreResult<$row> {
        sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("read a job"))?
            .ok_or_else(|| not_found("job", id.to_string()))
    }

    /// [`Metastore::jobs`](crate::Metastore::jobs).
    async fn sql_jobs(&self, project: Option<&str>, limit: u32) -> StoreResult<Vec<Job>> {
        sqlx::query(
            "SELECT * FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR project = $1)
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(project)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db("list jobs"))?
        .iter()
        .map(job_row)
        .collect()
    }

    /// [`Metastore::jobs_in`](crate::Metastore::jobs_in).
    async fn sql_jobs_in(&self, projects: &[String], limit: u32) -> StoreResult<Vec<Job>> {
        if projects.is_empty() {
            return Ok(Vec::new());
        }
        let places: Vec<String> = (2..projects.len() + 2).map(|i| format!("${i}")).collect();
        let statement = format!(
            "SELECT * FROM jobs WHERE project IN ({}) ORDER BY created_at DESC, id DESC LIMIT $1",
            places.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(statement)).bind(limit as i64);
        for project in projects {
            query = query.bind(project);
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(db("list jobs"))?
            .iter()
            .map(job_row)
            .collect()
    }

    /// [`Metastore::succeeded_jobs`](crate::Metastore::succeeded_jobs).
    async fn sql_succeeded_jobs(
        &self,
        project: &str,
        kind: JobKind,
        model: &str,
        dataset: &str,
    ) -> StoreResult<Vec<Job>> {
        // One job per result (the newest of those sharing its cache key), every result: many
        // jobs answered from one stored result must not push an older, different one out.
        sqlx::query(
            "SELECT * FROM (
                 SELECT *, ROW_NUMBER() OVER (PARTITION BY cache_key
                                              ORDER BY created_at DESC, id DESC) AS newest
                 FROM jobs WHERE project = $1 AND kind = $2 AND model = $3 AND dataset = $4
                 AND state = 'succeeded'
             ) AS results WHERE newest = 1 ORDER BY created_at DESC, id DESC",
        )
        .bind(project)
        .bind(kind.as_str())
        .bind(model)
        .bind(dataset)
        .fetch_all(&self.pool)
        .await
        .map_err(db("find results"))?
        .iter()
        .map(job_row)
        .collect()
    }

    /// [`Metastore::job_counts`](crate::Metastore::job_counts).
    async fn sql_job_counts(&self) -> StoreResult<Vec<(JobState, u64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(db("count jobs"))?;
        let mut counts: Vec<(JobState, u64)> = JobState::ALL.iter().map(|s| (*s, 0)).collect();
        for row in &rows {
            let state = state_of(row)?;
            let n: i64 = get(row, "n")?;
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == state) {
                slot.1 = n as u64;
            }
        }
        Ok(counts)
    }

    /// [`Metastore::execution`](crate::Metastore::execution).
    async fn sql_execution(&self, id: Uuid) -> StoreResult<JobExecution> {
        execution_row(&self.job_record(id).await?)
    }

    /// [`Metastore::executions`](crate::Metastore::executions).
    async fn sql_executions(&self, states: &[JobState]) -> StoreResult<Vec<JobExecution>> {
        // The names come from the enum, never from input.
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        sqlx::query(AssertSqlSafe(format!(
            "SELECT * FROM jobs WHERE state IN ({}) ORDER BY created_at, id",
            names.join(", ")
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db("list jobs"))?
        .iter()
        .map(execution_row)
        .collect()
    }

    /// [`Metastore::claim_next`](crate::Metastore::claim_next).
    async fn sql_claim_next(&self, owner: &str) -> StoreResult<Option<ClaimedJob>> {
        let token = new_token();
        let now = millis(Utc::now());
        // One statement. SQLite serialises writers; PostgreSQL skips rows another claimer has
        // locked. Either way two claimers never take the same job.
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'starting', attempt = attempt + 1, token = $1,
                    lease_owner = $2, heartbeat_at = $3, pid = NULL, retry_at = NULL,
                    started_at = COALESCE(started_at, $3)
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND follows IS NULL
                         AND (retry_at IS NULL OR retry_at <= $3)
                         ORDER BY created_at, id LIMIT 1{})
             RETURNING *",
            DIALECT.claim_lock
        )))
        .bind(&token)
        .bind(owner)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("claim a job"))?;
        row.map(|row| {
            Ok(ClaimedJob {
                job: job_row(&row)?,
                token,
            })
        })
        .transpose()
    }

    /// [`Metastore::set_pid`](crate::Metastore::set_pid).
    async fn sql_set_pid(&self, id: Uuid, pid: i64) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET pid = $1 WHERE id = $2")
            .bind(pid)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("record an analyzer"))?;
        Ok(())
    }

    /// [`Metastore::report_progress`](crate::Metastore::report_progress).
    async fn sql_report_progress(
        &self,
        id: Uuid,
        token: &str,
        progress: &JobProgress,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'running', progress = $1, heartbeat_at = $2,
                    running_at = COALESCE(running_at, $2)
             WHERE id = $3 AND token = $4 AND state IN ('starting', 'running')",
        )
        .bind(json(progress))
        .bind(millis(Utc::now()))
        .bind(id.to_string())
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(db("record progress"))?;
        Ok(done.rows_affected() == 1)
    }

    /// [`Metastore::finish`](crate::Metastore::finish).
    async fn sql_finish(&self, id: Uuid, state: JobState, reason: Option<&str>) -> StoreResult<bool> {
        debug_assert!(state.is_terminal());
        let now = millis(Utc::now());
        let mut tx = self.pool.begin_with(DIALECT.begin_write).await.map_err(db("begin"))?;
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET state = $1, reason = $2, finished_at = $3, token = NULL,
                    retry_at = NULL
             WHERE id = $4 AND state IN {ACTIVE}"
        )))
        .bind(state.as_str())
        .bind(reason)
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("finish a job"))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let leader = id.to_string();
        match state {
            // The followers end with the result their leader computed.
            JobState::Succeeded => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE jobs SET state = 'succeeded', cached = 1, finished_at = $1,
                            progress = (SELECT progress FROM jobs WHERE id = $2)
                     WHERE follows = $2 AND state IN {ACTIVE}"
                )))
                .bind(now)
                .bind(&leader)
                .execute(&mut *tx)
                .await
                .map_err(db("finish followers"))?;
            }
            // Its failure (already retried if it could pass) would be theirs.
            JobState::Failed => {
                let why = format!(
                    "job {id}, which computes the same result, failed: {}",
                    reason.unwrap_or("no reason given")
                );
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE jobs SET state = 'failed', reason = $1, finished_at = $2
                     WHERE follows = $3 AND state IN {ACTIVE}"
                )))
                .bind(why)
                .bind(now)
                .bind(&leader)
                .execute(&mut *tx)
                .await
                .map_err(db("fail followers"))?;
            }
            // Cancelling one job cancels nobody else's: the oldest follower computes the result
            // instead, and the others follow it.
            _ => {
                let next = sqlx::query(
                    "SELECT id FROM jobs WHERE follows = $1 AND state = 'queued'
                     ORDER BY created_at, id LIMIT 1",
                )
                .bind(&leader)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("find a follower"))?;
                if let Some(next) = next {
                    let next = get::<String>(&next, "id")?;
                    sqlx::query(
                        "UPDATE jobs SET follows = CASE WHEN id = $1 THEN NULL ELSE $1 END
                         WHERE follows = $2 AND state = 'queued'",
                    )
                    .bind(&next)
                    .bind(&leader)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("hand over to a follower"))?;
                }
            }
        }
        tx.commit().await.map_err(db("commit"))?;
        Ok(true)
    }

    /// [`Metastore::retry`](crate::Metastore::retry).
    async fn sql_retry(
        &self,
        id: Uuid,
        attempt: u32,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', reason = $1, retry_at = $2, token = NULL,
                    pid = NULL, lease_owner = NULL, running_at = NULL
             WHERE id = $3 AND attempt = $4 AND state IN ('starting', 'running')",
        )
        .bind(reason)
        .bind(millis(at))
        .bind(id.to_string())
        .bind(attempt as i64)
        .execute(&self.pool)
        .await
        .map_err(db("queue a retry"))?;
        Ok(done.rows_affected() == 1)
    }

    /// [`Metastore::requeue`](crate::Metastore::requeue).
    async fn sql_requeue(&self, id: Uuid, silent_since: Option<DateTime<Utc>>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', token = NULL, pid = NULL, lease_owner = NULL,
                    running_at = NULL
             WHERE id = $1 AND state IN ('starting', 'running')
             AND (CAST($2 AS BIGINT) IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $2)",
        )
        .bind(id.to_string())
        .bind(silent_since.map(millis))
        .execute(&self.pool)
        .await
        .map_err(db("requeue a job"))?;
        Ok(done.rows_affected() == 1)
    }

    /// [`Metastore::adopt`](crate::Metastore::adopt).
    async fn sql_adopt(
        &self,
        id: Uuid,
        owner: &str,
        silent_since: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_owner = $1, heartbeat_at = $2, pid = NULL
             WHERE id = $3 AND state IN ('starting', 'running')
             AND (CAST($4 AS BIGINT) IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $4)",
        )
        .bind(owner)
        .bind(millis(Utc::now()))
        .bind(id.to_string())
        .bind(silent_since.map(millis))
        .execute(&self.pool)
        .await
        .map_err(db("adopt a job"))?;
        Ok(done.rows_affected() == 1)
    }
}
    };
}

pub(crate) use sql_job_queue;
