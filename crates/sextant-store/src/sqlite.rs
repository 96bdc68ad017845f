//! The embedded metastore backend: SQLite in WAL mode, through sqlx.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
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

/// SQLite serialises writers, so it needs no row locks; but a transaction that reads before it
/// writes must take the write lock at its start (`IMMEDIATE`): a deferred one that another
/// writer overtakes between its read and its write fails at once with SQLITE_BUSY_SNAPSHOT,
/// which no busy timeout waits out.
const DIALECT: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    claim_lock: "",
    share_lock: "",
    update_lock: "",
    key_lock: "",
};

/// A metastore in one SQLite file.
pub struct SqliteMetastore {
    pool: SqlitePool,
}

impl SqliteMetastore {
    /// Opens (creating if needed) the database a `sqlite://path` URI names and brings its schema
    /// up to date.
    pub async fn open(uri: &str) -> StoreResult<SqliteMetastore> {
        let options = SqliteConnectOptions::from_str(uri)
            .map_err(|e| StoreError::Uri {
                what: "metastore",
                uri: uri.to_string(),
                message: e.to_string(),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(db("open the database"))?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteMetastore { pool })
    }
}

sql_metastore!(SqliteMetastore, sqlx::Sqlite, SqliteRow);
sql_accounts!(SqliteMetastore, SqliteRow);
sql_projects!(SqliteMetastore);
sql_segments!(SqliteMetastore, SqliteRow);
sql_job_queue!(SqliteMetastore, SqliteRow);
