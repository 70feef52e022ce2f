//! trawl-store: trawl's durable crawl state, the single source of truth for `resume`.
//!
//! Metadata lives in sled (0.34.7) in five trees. Each canonical URL's [`UrlRecord`] is kept in
//! two parts: `url_index` (URL -> state, depth, attempts, queue seq and an id: a dozen bytes, so
//! the lookups of every discovered link stay in sled's cache at millions of URLs) and
//! `url_details` (id, in discovery order -> the URL, its host key, where it was found and the
//! page data). Then `queue` (host key ++ 0x00 ++ seq -> URL), `meta` (schema version, counters,
//! committed segment lengths, values from [`Store::put_meta`]) and `hosts` (host key ->
//! [`HostStats`]). Page bodies live outside sled in append-only, zstd-compressed segment files;
//! sled keeps a [`BodyPointer`] to each. A store of schema 1 (whole records in one `urls` tree)
//! is converted when opened.
//!
//! [`Store::commit`] is a group commit: (1) append the batch's bodies to the segment, (2) fsync
//! it, (3) apply the batch in ONE transaction over the five trees (a batch that discovers more
//! than 256 URLs first queues the extra ones in transactions of their own, which bounds the
//! memory one transaction holds), (4) flush sled. [`Store::commit_unflushed`] stops before (4),
//! so a writer can apply its next batch while another thread flushes (one [`Store::flush`] makes
//! every batch applied before it durable). After a crash a URL is either done with all its
//! links queued, or still queued; segment bytes past the committed length are cut off on the next
//! open. [`Store::verify`] checks every invariant of a store. No sled type appears in the API.
//!
//! ```
//! use trawl_store::{CommitBatch, Completion, NewUrl, Outcome, PageMeta, Store, StoreConfig};
//!
//! let dir = std::env::temp_dir().join(format!("trawl-store-doctest-{}", std::process::id()));
//! # std::fs::remove_dir_all(&dir).ok();
//! let store = Store::open(&dir, &StoreConfig::default())?;
//! let host = "https://example.com:443";
//! let out = store.commit(CommitBatch {
//!     discovered: vec![NewUrl {
//!         url: "https://example.com/".into(),
//!         host_key: host.into(),
//!         depth: 0,
//!         ..NewUrl::default()
//!     }],
//!     ..CommitBatch::default()
//! })?;
//! assert_eq!(out.newly_queued.len(), 1);
//! assert_eq!(store.queued_hosts()?, vec![host.to_string()]);
//!
//! store.commit(CommitBatch {
//!     discovered: vec![],
//!     completed: vec![Completion {
//!         url: "https://example.com/".into(),
//!         host_key: host.into(),
//!         outcome: Outcome::Done,
//!         page: PageMeta { status: Some(200), ..PageMeta::default() },
//!         body: Some(bytes::Bytes::from_static(b"<html>hi</html>").into()),
//!     }],
//!     ..CommitBatch::default()
//! })?;
//! let record = store.url("https://example.com/")?.expect("stored");
//! let pointer = record.page.and_then(|p| p.body).expect("body stored");
//! assert_eq!(&store.read_body(&pointer)?[..], b"<html>hi</html>");
//! assert_eq!(store.counters()?.done, 1);
//! assert!(store.verify()?.is_clean());
//!
//! drop(store);
//! std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), trawl_store::StoreError>(())
//! ```

mod commit;
mod config;
mod encode;
mod entries;
mod error;
mod hosts;
mod migrate;
mod records;
mod segments;
mod store;
mod verify;

pub use config::StoreConfig;
pub use encode::{payload_digest, Body, EncodedBody};
pub use error::StoreError;
pub use hosts::{HostStats, HostStatsDelta};
pub use records::{
    BodyPointer, CommitBatch, CommitOutcome, Completion, Counters, NewUrl, Outcome, PageMeta,
    QueuedUrl, UrlRecord, UrlState, UrlSummary, RECORD_VERSION,
};
pub use store::{Store, SCHEMA_VERSION};
pub use verify::{VerifyReport, MAX_REPORTED_VIOLATIONS};
