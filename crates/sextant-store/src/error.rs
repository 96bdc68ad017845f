//! The storage error.

/// What can go wrong in the metastore or the artifact store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A named thing does not exist.
    #[error("{what} {name:?} does not exist")]
    NotFound {
        /// `project`, `model`, `dataset`, `job`, `result`.
        what: &'static str,
        /// Its name or id.
        name: String,
    },
    /// A name is taken, or a thing is in use.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[cfg(feature = "metastore")]
    #[error("metastore: {context}: {source}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database schema could not be brought up to date.
    #[cfg(feature = "metastore")]
    #[error("metastore migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored document could not be read back.
    #[error("metastore: stored {what} is not valid: {source}")]
    Corrupt {
        /// Which document.
        what: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The artifact store failed.
    #[error("artifact store: {context}: {source}")]
    Artifact {
        /// What was being done.
        context: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A store URI is not one this build understands.
    #[error("unsupported {what} URI {uri:?}: {message}")]
    Uri {
        /// `metastore` or `artifact store`.
        what: &'static str,
        /// The URI.
        uri: String,
        /// What is supported.
        message: String,
    },
}

impl StoreError {
    /// Whether the failure may pass on another try: the artifact store failed on its side or
    /// could not be reached (not: a missing or invalid object, a local file, bad input).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Artifact { source, .. } => !matches!(
                source,
                object_store::Error::NotFound { .. }
                    | object_store::Error::AlreadyExists { .. }
                    | object_store::Error::InvalidPath { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::NotImplemented { .. }
                    | object_store::Error::UnknownConfigurationKey { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
            ),
            #[cfg(feature = "metastore")]
            StoreError::Database { source, .. } => {
                matches!(
                    source,
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
                )
            }
            _ => false,
        }
    }
}

/// A storage result.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(feature = "metastore")]
pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}
