//! The store's one error type, [`StoreError`], with enough context (path, URL, key) to act on.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the store. Display messages are one line and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another `Store` in this process) has the store open.
    #[error("store {} is in use by another trawl process; stop it or use another --store", path.display())]
    InUse {
        /// The store directory.
        path: PathBuf,
    },
    /// A file-system operation failed.
    #[error("store I/O error on {}: {source}; check the path exists, is writable and the disk is not full", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The store was written by a different schema version of trawl.
    #[error("store schema version is {found}, this trawl expects {expected}; use a matching trawl version or start a new --store")]
    SchemaVersion {
        /// The version found in the store.
        found: u32,
        /// The version this build writes.
        expected: u32,
    },
    /// Stored data failed a check (checksum, digest, decoding).
    #[error("store data is corrupt: {what}; export what is readable and start a new --store")]
    Corrupt {
        /// What was corrupt, and where.
        what: String,
    },
    /// The embedded database reported an error.
    #[error("store database error: {message}; the store may be damaged or the disk full")]
    Db {
        /// The database's message.
        message: String,
    },
    /// A commit batch broke the API contract (e.g. a host key containing a 0 byte).
    #[error("invalid commit batch: {message}; this is a bug in the caller, please report it")]
    InvalidBatch {
        /// What is wrong, naming the URL.
        message: String,
    },
    /// A body could not be compressed for its segment.
    #[error("could not encode a body: {message}")]
    Encode {
        /// What failed, with the body's size.
        message: String,
    },
    /// The store configuration is invalid.
    #[error("invalid store config: {message}")]
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    /// True for errors that mean the store is busy rather than broken (a usage error for the CLI).
    pub fn is_in_use(&self) -> bool {
        matches!(self, StoreError::InUse { .. })
    }

    /// True when the stored data itself is damaged.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt { what: what.into() }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { at, .. } => StoreError::Corrupt {
                what: format!("database corruption at {at:?}"),
            },
            other => StoreError::Db {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_actionable() {
        let e = StoreError::InUse {
            path: PathBuf::from("/x"),
        };
        assert_eq!(
            e.to_string(),
            "store /x is in use by another trawl process; stop it or use another --store"
        );
        assert!(e.is_in_use());
        let e = StoreError::io("/y", io::Error::other("boom"));
        assert!(!e.to_string().contains('\n'));
        assert!(e.to_string().contains("/y"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
