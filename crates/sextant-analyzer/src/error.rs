//! What can stop an analyzer.

/// Why a job or a file computation failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzerError {
    /// The inputs cannot be used (a model or data the job cannot read, a request that does not
    /// fit); the message names the file, column or field.
    #[error("{0}")]
    Input(String),
    /// A correctness check failed: influences that do not add up to the model's output.
    #[error("{0}")]
    Check(String),
    /// The data could not be read or written.
    #[cfg(feature = "compute")]
    #[error(transparent)]
    Data(#[from] sextant_data::DataError),
    /// The artifact store failed.
    #[cfg(feature = "compute")]
    #[error(transparent)]
    Store(#[from] sextant_store::StoreError),
    /// The scheduler could not be asked or told.
    #[cfg(feature = "compute")]
    #[error(transparent)]
    Scheduler(#[from] sextant_client::ClientError),
    /// A local file or the runtime failed.
    #[error("{0}")]
    Io(String),
    /// Something outside failed for a moment (injected by the `transient` fault).
    #[error("{0}")]
    Transient(String),
}

impl AnalyzerError {
    /// An error of the inputs, with context.
    pub fn input(message: impl Into<String>) -> AnalyzerError {
        AnalyzerError::Input(message.into())
    }

    /// Whether a correctness check failed (rather than the inputs or the machinery).
    pub fn is_check(&self) -> bool {
        matches!(self, AnalyzerError::Check(_))
    }

    /// Whether the failure may pass, so that another attempt is worth it: the artifact store or
    /// the scheduler could not be reached or failed on their side. A failure of the inputs, the
    /// computation or a local file is the same next time.
    pub fn is_transient(&self) -> bool {
        match self {
            #[cfg(feature = "compute")]
            AnalyzerError::Store(e) => e.is_transient(),
            #[cfg(feature = "compute")]
            AnalyzerError::Scheduler(e) => e.is_transient(),
            AnalyzerError::Transient(_) => true,
            _ => false,
        }
    }
}

/// An analyzer's result.
pub type AnalyzerResult<T> = Result<T, AnalyzerError>;
