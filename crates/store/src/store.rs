//! [`Store`]: opening (lock, schema check, segment recovery) and the read-side queries.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fs2::FileExt;

use crate::entries::{decode_details, decode_index, details_id, details_key, join, UrlIndex};
use crate::hosts::decode_host_stats;
use crate::records::{decode_counters, decode_u64, encode_u64, split_queue_key};
use crate::segments::{self, SegmentWriter};
use crate::{
    BodyPointer, Counters, HostStats, QueuedUrl, StoreConfig, StoreError, UrlRecord, UrlState,
    UrlSummary,
};

/// The schema version this build writes. Schema 1 stores (whole URL records in one tree) are
/// converted when opened.
pub const SCHEMA_VERSION: u32 = 2;

/// The tree of URL index entries (URL -> [`UrlIndex`]).
pub(crate) const INDEX_TREE: &str = "url_index";
/// The tree of URL details (id -> [`crate::entries::UrlDetails`]).
pub(crate) const DETAILS_TREE: &str = "url_details";

/// Keys of the `meta` tree. Internal keys live under `store/`, `put_meta` keys under `user/`.
pub(crate) mod meta_keys {
    pub(crate) const SCHEMA_VERSION: &str = "store/schema_version";
    pub(crate) const COUNTERS: &str = "store/counters";
    pub(crate) const NEXT_SEQ: &str = "store/next_seq";
    pub(crate) const NEXT_ID: &str = "store/next_id";
    pub(crate) const SEGMENT_PREFIX: &str = "store/segment/";
    pub(crate) const USER_PREFIX: &str = "user/";

    pub(crate) fn segment(id: u32) -> String {
        format!("{SEGMENT_PREFIX}{id:06}")
    }

    pub(crate) fn user(key: &str) -> String {
        format!("{USER_PREFIX}{key}")
    }
}

/// The durable crawl store. Cheap to clone (an `Arc`); all methods block, so async callers run
/// them in `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    path: PathBuf,
    pub(crate) segments_dir: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) index: sled::Tree,
    pub(crate) details: sled::Tree,
    pub(crate) queue: sled::Tree,
    pub(crate) meta: sled::Tree,
    pub(crate) hosts: sled::Tree,
    pub(crate) writer: Mutex<SegmentWriter>,
    /// zstd level for bodies.
    pub(crate) compression_level: i32,
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.db.flush() {
            tracing::error!(path = %self.path.display(), error = %e, "flushing the store on close failed");
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

pub(crate) fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// The file that says a store was created (see [`Store::open`]).
const MARKER_FILE: &str = "store.format";

fn write_marker(dir: &Path, marker: &Path) -> Result<(), StoreError> {
    let text = format!("trawl-store schema {SCHEMA_VERSION}\n");
    let mut f = File::create(marker).map_err(|e| StoreError::io(marker, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::io(marker, e))?;
    crate::segments::sync_dir(dir)
}

/// The database and its trees.
struct Trees {
    db: sled::Db,
    index: sled::Tree,
    details: sled::Tree,
    queue: sled::Tree,
    meta: sled::Tree,
    hosts: sled::Tree,
}

/// How long to wait for sled's own lock once ours is held (see [`open_db_holding_our_lock`]).
const SLED_LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens sled once this process holds the store's own lock. Another process would have failed
/// that lock already, so a sled lock error here comes from a handle of this process that was just
/// dropped: sled releases its file lock from a background thread a moment later. Retried briefly
/// (bounded), so that reopening a store right after closing it works.
fn open_db_holding_our_lock(
    store: &Path,
    db_path: &Path,
    config: &StoreConfig,
) -> Result<Trees, StoreError> {
    let started = std::time::Instant::now();
    loop {
        match open_db(store, db_path, config.cache_capacity) {
            Err(StoreError::InUse { .. }) if started.elapsed() < SLED_LOCK_GRACE => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Opens the sled database and its trees. sled 0.34 panics on some kinds of damaged files: such a
/// panic becomes [`StoreError::Corrupt`] naming the path.
fn open_db(store: &Path, db_path: &Path, cache_capacity: u64) -> Result<Trees, StoreError> {
    let open = || -> Result<Trees, StoreError> {
        let db = sled::Config::new()
            .path(db_path)
            .cache_capacity(cache_capacity)
            .open()
            .map_err(|e| {
                if is_lock_error(&e) {
                    StoreError::InUse {
                        path: store.to_path_buf(),
                    }
                } else {
                    match e {
                        sled::Error::Io(io) => StoreError::io(db_path, io),
                        sled::Error::Corruption { at, .. } => StoreError::corrupt(format!(
                            "sled database {}: corruption at {at:?}",
                            db_path.display()
                        )),
                        // Unsupported (a damaged `conf`), ReportableBug, ...: the files are not
                        // a database this sled can read.
                        other => StoreError::corrupt(format!(
                            "sled database {}: {other}",
                            db_path.display()
                        )),
                    }
                }
            })?;
        Ok(Trees {
            index: db.open_tree(INDEX_TREE)?,
            details: db.open_tree(DETAILS_TREE)?,
            queue: db.open_tree("queue")?,
            meta: db.open_tree("meta")?,
            hosts: db.open_tree("hosts")?,
            db,
        })
    };
    catch_panic(db_path, open)
}

/// Runs `f`, turning a panic into [`StoreError::Corrupt`] naming `db_path`.
fn catch_panic<T>(
    db_path: &Path,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic without a message".into());
            Err(StoreError::corrupt(format!(
                "sled database {}: {message}",
                db_path.display()
            )))
        }
    }
}

impl Store {
    /// Opens (creating if missing) the store in directory `path`.
    ///
    /// Fails with [`StoreError::InUse`] if another process or another `Store` in this process
    /// has it open, with [`StoreError::SchemaVersion`] if it was written by another schema, and
    /// with [`StoreError::Corrupt`] or [`StoreError::Io`] (naming the path) if its database files
    /// are damaged or unreadable.
    pub fn open(path: &Path, config: &StoreConfig) -> Result<Store, StoreError> {
        config.validate()?;
        fs::create_dir_all(path).map_err(|e| StoreError::io(path, e))?;
        let path = path.to_path_buf();

        // Our own lock first: flock is per open file, so it also stops a second open in-process,
        // and its failure is unambiguous.
        let lock_path = path.join("store.lock");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        if let Err(e) = lock.try_lock_exclusive() {
            if e.kind() == fs2::lock_contended_error().kind() {
                return Err(StoreError::InUse { path });
            }
            return Err(StoreError::io(&lock_path, e));
        }

        let db_path = path.join("db");
        let Trees {
            db,
            index,
            details,
            queue,
            meta,
            hosts,
        } = open_db_holding_our_lock(&path, &db_path, config)?;
        // Written once the database holds a schema version: a database that comes back empty
        // while it exists was lost, and must not be taken for a new store.
        let marker = path.join(MARKER_FILE);

        match meta.get(meta_keys::SCHEMA_VERSION)? {
            Some(v) => {
                let found = decode_u64(&v, "schema version")?;
                if found == 1 {
                    let records = catch_panic(&db_path, || {
                        crate::migrate::from_schema_1(&db, &index, &details, &meta, SCHEMA_VERSION)
                    })?;
                    tracing::info!(path = %path.display(), records, "converted the store from schema 1 to {SCHEMA_VERSION}");
                    write_marker(&path, &marker)?;
                } else if found != u64::from(SCHEMA_VERSION) {
                    return Err(StoreError::SchemaVersion {
                        found: u32::try_from(found).unwrap_or(u32::MAX),
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                let segments_dir = path.join("segments");
                let has_bodies =
                    segments_dir.exists() && !segments::list_segments(&segments_dir)?.is_empty();
                if marker.exists() || has_bodies {
                    return Err(StoreError::corrupt(format!(
                        "sled database {} is empty, but the store was in use ({}); \
                         its database files were lost or damaged",
                        db_path.display(),
                        if has_bodies {
                            "segments/ holds page bodies"
                        } else {
                            "store.format exists"
                        }
                    )));
                }
                meta.insert(meta_keys::SCHEMA_VERSION, encode_u64(SCHEMA_VERSION.into()))?;
                db.flush()?;
            }
        }
        if !marker.exists() {
            write_marker(&path, &marker)?;
        }
        crate::migrate::drop_legacy_tree(&db)?;

        let segments_dir = path.join("segments");
        fs::create_dir_all(&segments_dir).map_err(|e| StoreError::io(&segments_dir, e))?;
        let mut committed = BTreeMap::new();
        for item in meta.scan_prefix(meta_keys::SEGMENT_PREFIX) {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let id = key[meta_keys::SEGMENT_PREFIX.len()..]
                .parse::<u32>()
                .map_err(|_| StoreError::corrupt(format!("bad meta key {key:?}")))?;
            committed.insert(id, decode_u64(&v, &key)?);
        }
        let dropped = segments::recover(&segments_dir, &committed)?;
        if dropped > 0 {
            tracing::info!(bytes = dropped, "dropped uncommitted segment bytes");
        }
        let writer = SegmentWriter::new(
            segments_dir.clone(),
            config.segment_max_bytes,
            config.compression_level,
            committed,
        );
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                segments_dir,
                db,
                index,
                details,
                queue,
                meta,
                hosts,
                writer: Mutex::new(writer),
                compression_level: config.compression_level,
                _lock: lock,
            }),
        })
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The record of `url` (canonical form), if known.
    pub fn url(&self, url: &str) -> Result<Option<UrlRecord>, StoreError> {
        let Some(index) = self.index_entry(url)? else {
            return Ok(None);
        };
        let details = self.details(index.id, url)?;
        Ok(Some(join(index, details)))
    }

    /// The small part of `url`'s record (state, depth, hops, attempts, queue seq), if known:
    /// one lookup in the URL index, cheaper than [`Store::url`], which also reads the details.
    pub fn url_summary(&self, url: &str) -> Result<Option<UrlSummary>, StoreError> {
        Ok(self.index_entry(url)?.map(|index| UrlSummary {
            state: index.state,
            depth: index.depth,
            redirect_hops: index.redirect_hops,
            attempts: index.attempts,
            queue_seq: index.queue_seq,
        }))
    }

    /// The index entry of `url`, if known.
    pub(crate) fn index_entry(&self, url: &str) -> Result<Option<UrlIndex>, StoreError> {
        match self.inner.index.get(url.as_bytes())? {
            None => Ok(None),
            Some(v) => decode_index(&v, url).map(Some),
        }
    }

    /// The details `url`'s index entry points at (their absence is corruption).
    pub(crate) fn details(
        &self,
        id: u64,
        url: &str,
    ) -> Result<crate::entries::UrlDetails, StoreError> {
        let bytes = self.inner.details.get(details_key(id))?.ok_or_else(|| {
            StoreError::corrupt(format!("record of {url}: its details #{id} are missing"))
        })?;
        let details = decode_details(&bytes, id)?;
        if details.url != url {
            return Err(StoreError::corrupt(format!(
                "record of {url}: its details #{id} are those of {}",
                details.url
            )));
        }
        Ok(details)
    }

    /// Queued URLs of one host with seq > `after` (None = from the start), up to `limit`, in seq
    /// order.
    pub fn queued_for_host(
        &self,
        host_key: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<QueuedUrl>, StoreError> {
        let start = match after {
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(a) => a + 1,
        };
        let from = crate::records::queue_key(host_key, start);
        let mut end = host_key.as_bytes().to_vec();
        end.push(1);
        let mut out = Vec::new();
        for item in self.inner.queue.range(from..end) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            let (_, seq) = split_queue_key(&k)?;
            let url = String::from_utf8(v.to_vec())
                .map_err(|_| StoreError::corrupt(format!("queue entry {seq} is not UTF-8")))?;
            let Some(record) = self.index_entry(&url)? else {
                tracing::warn!(%url, seq, "queue entry without a URL record; skipped");
                continue;
            };
            if record.state != UrlState::Queued {
                tracing::warn!(%url, seq, "queue entry for a finished URL; skipped");
                continue;
            }
            out.push(QueuedUrl {
                seq,
                url,
                host_key: host_key.to_owned(),
                depth: record.depth,
                redirect_hops: record.redirect_hops,
                attempts: record.attempts,
            });
        }
        Ok(out)
    }

    /// Distinct host keys with queued URLs, in key order. Seeks past each host's entries rather
    /// than visiting them.
    pub fn queued_hosts(&self) -> Result<Vec<String>, StoreError> {
        let mut hosts = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        while let Some(item) = self.inner.queue.range(from.as_slice()..).next() {
            let (k, _) = item?;
            let (host, _) = split_queue_key(&k)?;
            hosts.push(host.to_owned());
            // Every key of this host is host ++ 0x00 ++ seq; host ++ 0x01 sorts after all of them.
            from = host.as_bytes().to_vec();
            from.push(1);
        }
        Ok(hosts)
    }

    /// Every URL record, in the order the URLs were first stored (discovery order), streamed
    /// from the database.
    pub fn records(&self) -> impl Iterator<Item = Result<(String, UrlRecord), StoreError>> + '_ {
        self.inner.details.iter().map(|item| {
            let (k, v) = item?;
            let id = details_id(&k)?;
            let details = decode_details(&v, id)?;
            let index = self.index_entry(&details.url)?.ok_or_else(|| {
                StoreError::corrupt(format!(
                    "URL details #{id} ({}) have no index entry",
                    details.url
                ))
            })?;
            if index.id != id {
                return Err(StoreError::corrupt(format!(
                    "URL details #{id} ({}) are not the ones its index entry names (#{})",
                    details.url, index.id
                )));
            }
            let url = details.url.clone();
            Ok((url, join(index, details)))
        })
    }

    /// Compresses `body` for a later [`Completion`](crate::Completion) at this store's level.
    /// Safe to call from many threads at once: the work the one committer would otherwise do
    /// for every body (zstd, CRC, SHA-1) runs where the caller likes.
    pub fn encode_body(&self, body: &[u8]) -> Result<crate::EncodedBody, StoreError> {
        crate::encode::encode(body, self.inner.compression_level)
    }

    /// Reads a stored body, checking its checksum and digest.
    pub fn read_body(&self, pointer: &BodyPointer) -> Result<Bytes, StoreError> {
        segments::read_body(&self.inner.segments_dir, pointer)
    }

    /// The maintained per-state counts.
    pub fn counters(&self) -> Result<Counters, StoreError> {
        match self.inner.meta.get(meta_keys::COUNTERS)? {
            None => Ok(Counters::default()),
            Some(v) => decode_counters(&v),
        }
    }

    /// Counts the states by scanning every record (for verification; `counters` is O(1)).
    pub fn recount(&self) -> Result<Counters, StoreError> {
        let mut c = Counters::default();
        for item in self.inner.index.iter() {
            let (k, v) = item?;
            match decode_index(&v, &String::from_utf8_lossy(&k))?.state {
                UrlState::Queued => c.queued += 1,
                UrlState::Done => c.done += 1,
                UrlState::Failed => c.failed += 1,
            }
        }
        Ok(c)
    }

    /// The statistics of every host that has any, in host key order.
    pub fn host_stats(&self) -> Result<Vec<(String, HostStats)>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.hosts.iter() {
            let (k, v) = item?;
            let host = String::from_utf8(k.to_vec())
                .map_err(|_| StoreError::corrupt(format!("host key {k:?} is not UTF-8")))?;
            let stats = decode_host_stats(&v, &host)?;
            out.push((host, stats));
        }
        Ok(out)
    }

    /// A value stored with [`Store::put_meta`].
    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .inner
            .meta
            .get(meta_keys::user(key))?
            .map(|v| v.to_vec()))
    }

    /// Stores a value (e.g. the crawl's config) under `key`, durably.
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.meta.insert(meta_keys::user(key), value)?;
        self.flush()
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// Bytes on disk: the database plus the body segments.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()? + segments::total_size(&self.inner.segments_dir)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn store_is_send_sync_clone() {
        assert_send_sync::<Store>();
    }

    #[test]
    fn a_panic_while_opening_becomes_corrupt_with_the_path() {
        let e = catch_panic::<()>(Path::new("/s/db"), || panic!("bad page {}", 7)).unwrap_err();
        assert!(e.is_corrupt());
        assert!(
            e.to_string().contains("sled database /s/db: bad page 7"),
            "{e}"
        );
        let e = catch_panic::<()>(Path::new("/s/db"), || panic!("static")).unwrap_err();
        assert!(e.to_string().contains("/s/db: static"), "{e}");
        assert_eq!(catch_panic(Path::new("/s/db"), || Ok(5)).unwrap(), 5);
    }

    #[test]
    fn user_meta_does_not_clash_with_internal_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        store.put_meta("store/counters", b"not counters").unwrap();
        assert_eq!(store.counters().unwrap(), Counters::default());
        assert_eq!(
            store.get_meta("store/counters").unwrap().as_deref(),
            Some(&b"not counters"[..])
        );
        assert_eq!(store.get_meta("missing").unwrap(), None);
    }
}
