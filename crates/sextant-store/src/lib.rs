//! Sextant's storage.
//!
//! - The **metastore** ([`Metastore`]) records projects, models, datasets, jobs and results. The
//!   embedded backend is SQLite ([`SqliteMetastore`]), the shared one PostgreSQL
//!   ([`PostgresMetastore`]); backends are chosen by URI ([`open_metastore`]).
//! - The **artifact store** ([`Artifacts`]) keeps the files themselves under content-derived keys
//!   (`models/<sha256>`, `datasets/<sha256>.<format>`, `results/<cache-key>/…`), written
//!   atomically, through the `object_store` crate.

mod artifacts;
mod bookkeeping;
mod error;
mod metastore;
mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

pub use artifacts::{Artifacts, Hasher, install_crypto, sha256_hex};
pub use bookkeeping::{ClaimedJob, JobExecution};
pub use error::{StoreError, StoreResult};
pub use metastore::Metastore;
pub use postgres::PostgresMetastore;
pub use sqlite::SqliteMetastore;

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
