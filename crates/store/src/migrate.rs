//! Opening a store of schema 1 (whole URL records, versions 1 to 3, in one `urls` tree) converts
//! it to schema 2 (each record split into an index entry and details, see [`crate::entries`]).
//!
//! The conversion writes the two new trees in batches, then switches the schema version with one
//! write, flushes, and only then drops the old tree. A crash before the switch leaves a schema 1
//! store whose conversion starts over (the new trees are cleared first); a crash after it leaves
//! at most the old tree behind, dropped on the next open.

use crate::entries::{
    decode_page, decode_page_extras, details_key, encode_details, encode_index, split,
    state_from_code,
};
use crate::records::{encode_u64, Reader};
use crate::store::meta_keys;
use crate::{StoreError, UrlRecord};

/// The tree whole records lived in under schema 1.
pub(crate) const LEGACY_URLS_TREE: &str = "urls";

/// Records converted per sled batch.
const RECORDS_PER_BATCH: usize = 4096;

/// Converts the schema 1 records of `db` to schema `to`; returns how many there were.
pub(crate) fn from_schema_1(
    db: &sled::Db,
    index: &sled::Tree,
    details: &sled::Tree,
    meta: &sled::Tree,
    to: u32,
) -> Result<u64, StoreError> {
    let legacy = db.open_tree(LEGACY_URLS_TREE)?;
    // Left by a conversion that crashed before its switch.
    index.clear()?;
    details.clear()?;
    let mut next_id = 0u64;
    let mut index_batch = sled::Batch::default();
    let mut details_batch = sled::Batch::default();
    let mut pending = 0;
    for item in legacy.iter() {
        let (key, value) = item?;
        let url = String::from_utf8(key.to_vec())
            .map_err(|_| StoreError::corrupt(format!("URL key {key:?} is not UTF-8")))?;
        let record = decode_legacy_record(&value, &url)?;
        let (entry, rest) = split(url, record, next_id);
        index_batch.insert(key, encode_index(&entry));
        details_batch.insert(&details_key(next_id), encode_details(&rest));
        next_id += 1;
        pending += 1;
        if pending == RECORDS_PER_BATCH {
            index.apply_batch(std::mem::take(&mut index_batch))?;
            details.apply_batch(std::mem::take(&mut details_batch))?;
            pending = 0;
        }
    }
    index.apply_batch(index_batch)?;
    details.apply_batch(details_batch)?;
    meta.insert(meta_keys::NEXT_ID, encode_u64(next_id))?;
    // The switch: sled recovers a prefix of its writes, so once this survives, so did the above.
    meta.insert(meta_keys::SCHEMA_VERSION, encode_u64(to.into()))?;
    db.flush()?;
    drop_legacy_tree(db)?;
    Ok(next_id)
}

/// Drops the schema 1 tree if a conversion left it behind.
pub(crate) fn drop_legacy_tree(db: &sled::Db) -> Result<(), StoreError> {
    if db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == LEGACY_URLS_TREE.as_bytes())
    {
        db.drop_tree(LEGACY_URLS_TREE)?;
        db.flush()?;
    }
    Ok(())
}

/// Decodes a whole URL record of version 1, 2 or 3; `url` is only used in error messages.
pub(crate) fn decode_legacy_record(bytes: &[u8], url: &str) -> Result<UrlRecord, StoreError> {
    let mut r = Reader::new(bytes, "record of", url, &[1, 2, 3])?;
    let code = r.uint()?;
    let state = state_from_code(&r, code)?;
    let depth = r.u32()?;
    let found_on = r.opt_str()?;
    let redirect_hops = r.u32()?;
    let attempts = r.u32()?;
    let queue_seq = r.opt_uint()?;
    let mut page = if r.tag()? {
        Some(decode_page(&mut r)?)
    } else {
        None
    };
    let host_key = if r.version >= 2 { r.opt_str()? } else { None };
    let lastmod = if r.version >= 3 { r.opt_str()? } else { None };
    if let (Some(page), true) = (&mut page, r.version >= 3) {
        decode_page_extras(&mut r, page)?;
    }
    r.finish()?;
    Ok(UrlRecord {
        state,
        depth,
        found_on,
        redirect_hops,
        attempts,
        queue_seq,
        page,
        host_key,
        lastmod,
    })
}

/// Encodes a whole record as version 3 did (tests build schema 1 stores with it).
#[cfg(test)]
pub(crate) fn encode_legacy_record(r: &UrlRecord) -> Vec<u8> {
    use crate::entries::{encode_page, encode_page_extras, state_code};
    let mut w = crate::records::Writer::new(3);
    w.uint(state_code(r.state));
    w.uint(r.depth.into());
    w.opt_str(&r.found_on);
    w.uint(r.redirect_hops.into());
    w.uint(r.attempts.into());
    w.opt_uint(r.queue_seq);
    match &r.page {
        None => w.0.push(0),
        Some(p) => {
            w.0.push(1);
            encode_page(&mut w, p);
        }
    }
    w.opt_str(&r.host_key);
    w.opt_str(&r.lastmod);
    if let Some(p) = &r.page {
        encode_page_extras(&mut w, p);
    }
    w.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::tests::full_record;
    use crate::records::{decode_u64, queue_key};
    use crate::{PageMeta, Store, StoreConfig, UrlState};

    #[test]
    fn version_1_and_2_records_still_decode() {
        // A version 1 record is a version 3 record without the trailing host key, lastmod and
        // page extras; version 2 has the host key.
        let mut r = UrlRecord {
            host_key: None,
            lastmod: None,
            ..full_record()
        };
        if let Some(page) = &mut r.page {
            *page = PageMeta {
                records: None,
                canonical: None,
                noindex: false,
                nofollow_links: 0,
                dropped_links: 0,
                ..page.clone()
            };
        }
        let mut v1 = encode_legacy_record(&r);
        assert_eq!(decode_legacy_record(&v1, "u").unwrap(), r);
        for field in [
            "dropped",
            "nofollow",
            "noindex",
            "canonical",
            "records",
            "lastmod",
        ] {
            assert_eq!(v1.pop(), Some(0), "the empty {field} field");
        }
        let mut v2 = v1.clone();
        v2[0] = 2;
        assert_eq!(decode_legacy_record(&v2, "u").unwrap(), r);
        assert_eq!(v1.pop(), Some(0), "the None host key tag");
        v1[0] = 1;
        assert_eq!(decode_legacy_record(&v1, "u").unwrap(), r);
        // ... and a version 1 record with a host key tag appended is rejected.
        v1.push(0);
        assert!(decode_legacy_record(&v1, "u").unwrap_err().is_corrupt());
        for cut in 0..v2.len() {
            assert!(decode_legacy_record(&v2[..cut], "u").is_err());
        }
    }

    /// Opens the store's sled database directly, waiting while a handle this test just dropped
    /// still holds sled's file lock (sled releases it from a background thread a moment later).
    fn open_raw_db(dir: &std::path::Path) -> sled::Db {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match sled::open(dir.join("db")) {
                Ok(db) => return db,
                Err(e)
                    if crate::store::is_lock_error(&e) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("opening {}: {e}", dir.display()),
            }
        }
    }

    /// Writes a schema 1 store by hand: one Done record with page data, `queued` Queued ones
    /// (with their queue entries), the counters and the seq counter.
    fn schema_1_store(dir: &std::path::Path, queued: u64) {
        let db = open_raw_db(dir);
        let urls = db.open_tree(LEGACY_URLS_TREE).unwrap();
        let queue = db.open_tree("queue").unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(meta_keys::SCHEMA_VERSION, encode_u64(1))
            .unwrap();
        let host = "https://a.example:443";
        let done = UrlRecord {
            page: full_record().page.map(|p| PageMeta { body: None, ..p }),
            ..full_record()
        };
        urls.insert("https://a.example/", encode_legacy_record(&done))
            .unwrap();
        for seq in 0..queued {
            let url = format!("https://a.example/q{seq:05}");
            let record = UrlRecord {
                state: UrlState::Queued,
                depth: 1,
                found_on: Some("https://a.example/".into()),
                redirect_hops: 0,
                attempts: 0,
                queue_seq: Some(seq),
                page: None,
                host_key: Some(host.into()),
                lastmod: None,
            };
            urls.insert(url.as_bytes(), encode_legacy_record(&record))
                .unwrap();
            queue.insert(queue_key(host, seq), url.as_bytes()).unwrap();
        }
        let counters = crate::Counters {
            queued,
            done: 1,
            failed: 0,
        };
        meta.insert(
            meta_keys::COUNTERS,
            crate::records::encode_counters(&counters),
        )
        .unwrap();
        meta.insert(meta_keys::NEXT_SEQ, encode_u64(queued))
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn a_schema_1_store_is_converted_on_open_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // More records than one conversion batch.
        let queued = RECORDS_PER_BATCH as u64 + 10;
        schema_1_store(dir.path(), queued);
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let done = store.url("https://a.example/").unwrap().unwrap();
        let want = UrlRecord {
            page: full_record().page.map(|p| PageMeta { body: None, ..p }),
            ..full_record()
        };
        assert_eq!(done, want);
        let last = format!("https://a.example/q{:05}", queued - 1);
        let record = store.url(&last).unwrap().unwrap();
        assert_eq!(
            (record.state, record.queue_seq, record.depth),
            (UrlState::Queued, Some(queued - 1), 1)
        );
        assert_eq!(store.counters().unwrap().queued, queued);
        assert_eq!(store.records().count() as u64, queued + 1);
        let report = store.verify().unwrap();
        assert!(report.is_clean(), "{:#?}", report.violations);
        assert_eq!(report.urls, queued + 1);
        let page = store
            .queued_for_host("https://a.example:443", None, 3)
            .unwrap();
        assert_eq!(page.len(), 3);
        assert_eq!(page[0].url, "https://a.example/q00000");
        let db = &store.inner.db;
        assert!(
            !db.tree_names()
                .iter()
                .any(|n| n.as_ref() == LEGACY_URLS_TREE.as_bytes()),
            "the old tree is dropped"
        );
        let version = store.inner.meta.get(meta_keys::SCHEMA_VERSION).unwrap();
        assert_eq!(
            decode_u64(&version.unwrap(), "v").unwrap(),
            u64::from(crate::SCHEMA_VERSION)
        );
    }

    #[test]
    fn a_conversion_cut_short_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        schema_1_store(dir.path(), 3);
        {
            // What a crash mid-conversion leaves: part of the new trees, schema still 1.
            let db = open_raw_db(dir.path());
            let index = db.open_tree(crate::store::INDEX_TREE).unwrap();
            let details = db.open_tree(crate::store::DETAILS_TREE).unwrap();
            index
                .insert("https://a.example/stale", &[4u8, 0][..])
                .unwrap();
            details.insert(details_key(99), &[4u8][..]).unwrap();
            db.flush().unwrap();
        }
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        assert_eq!(store.url("https://a.example/stale").unwrap(), None);
        assert_eq!(store.records().count(), 4);
        assert!(store.verify().unwrap().is_clean());
    }
}
