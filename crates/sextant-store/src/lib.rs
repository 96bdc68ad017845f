//! Sextant's storage.
//!
//! - The **metastore** ([`Metastore`]) records projects, models, datasets, jobs and results. The
//!   embedded backend is SQLite ([`SqliteMetastore`]), the shared one PostgreSQL
//!   ([`PostgresMetastore`]); backends are chosen by URI ([`open_metastore`]).
//! - **Accounts** ([`Accounts`], part of every metastore): users, token hashes, roles on
//!   projects and the append-only audit log.
//! - **Segments** ([`Segments`], part of every metastore): a project's named filter expressions.
//! - The **artifact store** ([`Artifacts`]) keeps the files themselves under content-derived keys
//!   (`models/<sha256>`, `datasets/<sha256>.<format>`, `results/<cache-key>/…`), written
//!   atomically, through the `object_store` crate.

#[cfg(feature = "metastore")]
mod accounts;
#[cfg(feature = "metastore")]
mod accounts_sql;
mod artifacts;
#[cfg(feature = "metastore")]
mod bookkeeping;
mod error;
#[cfg(feature = "metastore")]
mod metastore;
#[cfg(feature = "metastore")]
mod postgres;
#[cfg(feature = "metastore")]
mod segments;
#[cfg(feature = "metastore")]
mod segments_sql;
#[cfg(feature = "metastore")]
mod sql;
#[cfg(feature = "metastore")]
mod sql_jobs;
#[cfg(feature = "metastore")]
mod sql_projects;
#[cfg(feature = "metastore")]
mod sqlite;

#[cfg(feature = "metastore")]
use std::sync::Arc;

#[cfg(feature = "metastore")]
pub use accounts::{Accounts, TokenRecord, UserChange, UserRecord};
pub use artifacts::{Artifacts, Hasher, S3Credentials, install_crypto, sha256_hex};
#[cfg(feature = "metastore")]
pub use bookkeeping::{ClaimedJob, JobExecution};
pub use error::{StoreError, StoreResult};
#[cfg(feature = "metastore")]
pub use metastore::{Metastore, ProjectRemains};
#[cfg(feature = "metastore")]
pub use postgres::PostgresMetastore;
#[cfg(feature = "metastore")]
pub use segments::Segments;
#[cfg(feature = "metastore")]
pub use sqlite::SqliteMetastore;

#[cfg(feature = "metastore")]
/// Opens the metastore a URI names: `sqlite://path/to/file.db` (embedded) or
/// `postgres://user:password@host:port/database` (shared by several processes).
pub async fn open_metastore(uri: &str) -> StoreResult<Arc<dyn Metastore>> {
    if uri.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteMetastore::open(uri).await?));
    }
    if uri.starts_with("postgres:") || uri.starts_with("postgresql:") {
        return Ok(Arc::new(PostgresMetastore::open(uri).await?));
    }
    Err(StoreError::Uri {
        what: "metastore",
        uri: uri.to_string(),
        message: "expected sqlite://… or postgres://…".into(),
    })
}
