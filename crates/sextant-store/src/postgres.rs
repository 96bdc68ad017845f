//! The server metastore backend: PostgreSQL, through sqlx. Several scheduler replicas may share
//! it: a job is claimed by one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::accounts::{Accounts, TokenRecord, UserChange, UserRecord};
use crate::accounts_sql::sql_accounts;
use crate::bookkeeping::{ClaimedJob, JobExecution};
use crate::error::{StoreError, StoreResult, db};
use crate::metastore::{Metastore, ProjectRemains};
use crate::segments::Segments;
use crate::segments_sql::sql_segments;
use crate::sql::{
    ACTIVE, Dialect, json, millis, new_token, not_found, parse, sql_metastore, taken, time,
};
use crate::sql_jobs::sql_job_queue;
use crate::sql_projects::sql_projects;
use sextant_api::{
    AuditEntry, AuditQuery, Dataset, FeatureGroup, Job, JobKind, JobProgress, JobState, Member,
    Model, Project, ResultManifest, Role, Segment, StoredResult, TokenInfo, User,
};

/// Rows are locked where two servers could race: claims skip locked jobs, deletes wait for jobs
/// being recorded.
const DIALECT: Dialect = Dialect {
    begin_write: "BEGIN",
    claim_lock: " FOR UPDATE SKIP LOCKED",
    share_lock: " FOR SHARE",
    update_lock: " FOR UPDATE",
    key_lock: "SELECT pg_advisory_xact_lock(hashtext($1))",
};

/// A metastore in a PostgreSQL database.
pub struct PostgresMetastore {
    pool: PgPool,
}

impl PostgresMetastore {
    /// Connects to the database a `postgres://user:password@host:port/database` URI names and
    /// brings its schema up to date.
    pub async fn open(uri: &str) -> StoreResult<PostgresMetastore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(uri)
            .await
            .map_err(db("connect to PostgreSQL"))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresMetastore { pool })
    }
}

sql_metastore!(PostgresMetastore, sqlx::Postgres, PgRow);
sql_accounts!(PostgresMetastore, PgRow);
sql_projects!(PostgresMetastore);
sql_segments!(PostgresMetastore, PgRow);
sql_job_queue!(PostgresMetastore, PgRow);
