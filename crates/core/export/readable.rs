//! Reading a store for export without giving up at its first damaged entry. A URL record or a
//! body that fails its checks (a flipped byte, a truncated or missing segment) is skipped with a
//! warning that names it and counted, so an export of a damaged store still writes everything
//! readable; the CLI then exits 1. The database failing as a whole (I/O, sled) still ends the
//! export at once.

use std::cell::Cell;

use bytes::Bytes;
use trawl_store::{BodyPointer, Store, StoreError, UrlRecord};

use crate::Error;

/// What an export wrote, and what it had to leave out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    /// Pages (or, for the records export, extracted records) written.
    pub written: u64,
    /// Damaged URL records or bodies skipped, each named in a warning as it was met.
    pub unreadable: u64,
}

/// A store read for export: damaged entries are skipped and counted.
pub(crate) struct Readable<'a> {
    store: &'a Store,
    unreadable: Cell<u64>,
}

impl<'a> Readable<'a> {
    pub(crate) fn new(store: &'a Store) -> Readable<'a> {
        Readable {
            store,
            unreadable: Cell::new(0),
        }
    }

    /// Every URL record that decodes, in the store's order; damaged ones are skipped.
    pub(crate) fn records(&self) -> impl Iterator<Item = Result<(String, UrlRecord), Error>> + '_ {
        self.store.records().filter_map(|entry| match entry {
            Ok(record) => Some(Ok(record)),
            Err(StoreError::Corrupt { what }) => {
                self.skip(None, &what);
                None
            }
            Err(other) => Some(Err(other.into())),
        })
    }

    /// The stored body of `url`, or None (warned about and counted) when it cannot be read.
    pub(crate) fn body(&self, url: &str, pointer: &BodyPointer) -> Option<Bytes> {
        match self.store.read_body(pointer) {
            Ok(body) => Some(body),
            Err(err) => {
                self.skip(Some(url), &err.to_string());
                None
            }
        }
    }

    /// Leaves out one damaged entry, saying which and why.
    pub(crate) fn skip(&self, url: Option<&str>, reason: &str) {
        self.unreadable.set(self.unreadable.get() + 1);
        match url {
            Some(url) => tracing::warn!(%url, reason, "unreadable page left out of the export"),
            None => tracing::warn!(reason, "unreadable URL record left out of the export"),
        }
    }

    /// The export's result once `written` pages are out.
    pub(crate) fn finish(self, written: u64) -> Exported {
        Exported {
            written,
            unreadable: self.unreadable.get(),
        }
    }
}
