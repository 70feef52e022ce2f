//! The error type of the `trawl` library, and the process exit code each kind of error maps to.

/// Why a crawl (or another store command) could not run to the end. Failures of single URLs are
/// not errors: they are recorded in the store and counted in the [`crate::Summary`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad flag, config key, seed or store path: the message says what to change.
    #[error("{0}")]
    Usage(String),
    /// The store could not be opened or written.
    #[error("{0}")]
    Store(#[from] trawl_store::StoreError),
    /// The HTTP client could not be set up.
    #[error("{0}")]
    Fetcher(#[from] trawl_fetcher::FetchError),
    /// A pipeline task failed (a bug or a panic in a stage).
    #[error("crawl pipeline failed: {0}")]
    Pipeline(String),
    /// Writing an export failed.
    #[error("cannot write {what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code for this error: 2 for usage problems (including a store that is in
    /// use or unwritable), 1 for everything that stopped a crawl midway.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Fetcher(trawl_fetcher::FetchError::CaCert { .. }) => 2,
            _ => 1,
        }
    }
}
