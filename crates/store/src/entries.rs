//! How a [`UrlRecord`] is stored since schema 2: in two parts, so that the part every lookup
//! needs stays small enough for sled's cache however large the crawl grows.
//!
//! - The **index entry** (`url_index` tree, key = the canonical URL): state, depth, redirect
//!   hops, attempts, queue seq and the id of the details. About a dozen bytes: it is what link
//!   deduplication, the queue and the completion of a page read, and at a million URLs the whole
//!   tree still fits in the cache. (Whole records in one tree did not: every discovered link then
//!   read a random leaf from disk, and the crawl slowed down as the store grew.)
//! - The **details** (`url_details` tree, key = id, 8 bytes big-endian, handed out in discovery
//!   order): the URL again, its host key, where it was found, its sitemap `lastmod` and the page
//!   data. Written at discovery (always at the end of the tree) and rewritten when the page is
//!   fetched: pages are fetched in about the order they were found, so the leaves written are few
//!   and hot.
//!
//! Both start with [`RECORD_VERSION`] and use the varint encoding of [`crate::records`].

use crate::records::{Reader, Writer};
use crate::{BodyPointer, PageMeta, StoreError, UrlRecord, UrlState, RECORD_VERSION};

/// The small, hot part of a URL's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlIndex {
    pub(crate) state: UrlState,
    pub(crate) depth: u32,
    pub(crate) redirect_hops: u32,
    pub(crate) attempts: u32,
    pub(crate) queue_seq: Option<u64>,
    /// Key of the URL's [`UrlDetails`].
    pub(crate) id: u64,
}

/// The rest of a URL's record.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct UrlDetails {
    pub(crate) url: String,
    pub(crate) host_key: Option<String>,
    pub(crate) found_on: Option<String>,
    pub(crate) lastmod: Option<String>,
    pub(crate) page: Option<PageMeta>,
}

/// The `url_details` key of `id`.
pub(crate) fn details_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// The id in a `url_details` key.
pub(crate) fn details_id(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("malformed URL details key {key:?}")))?;
    Ok(u64::from_be_bytes(bytes))
}

/// The record the two parts make.
pub(crate) fn join(index: UrlIndex, details: UrlDetails) -> UrlRecord {
    UrlRecord {
        state: index.state,
        depth: index.depth,
        found_on: details.found_on,
        redirect_hops: index.redirect_hops,
        attempts: index.attempts,
        queue_seq: index.queue_seq,
        page: details.page,
        host_key: details.host_key,
        lastmod: details.lastmod,
    }
}

/// Splits `record` of `url` into its two parts, the details under `id`.
pub(crate) fn split(url: String, record: UrlRecord, id: u64) -> (UrlIndex, UrlDetails) {
    let index = UrlIndex {
        state: record.state,
        depth: record.depth,
        redirect_hops: record.redirect_hops,
        attempts: record.attempts,
        queue_seq: record.queue_seq,
        id,
    };
    let details = UrlDetails {
        url,
        host_key: record.host_key,
        found_on: record.found_on,
        lastmod: record.lastmod,
        page: record.page,
    };
    (index, details)
}

pub(crate) fn state_code(s: UrlState) -> u64 {
    match s {
        UrlState::Queued => 0,
        UrlState::Done => 1,
        UrlState::Failed => 2,
    }
}

pub(crate) fn state_from_code(r: &Reader<'_>, code: u64) -> Result<UrlState, StoreError> {
    match code {
        0 => Ok(UrlState::Queued),
        1 => Ok(UrlState::Done),
        2 => Ok(UrlState::Failed),
        _ => Err(r.err("unknown state")),
    }
}

/// Encodes an index entry.
pub(crate) fn encode_index(e: &UrlIndex) -> Vec<u8> {
    let mut w = Writer::new(RECORD_VERSION);
    w.uint(state_code(e.state));
    w.uint(e.depth.into());
    w.uint(e.redirect_hops.into());
    w.uint(e.attempts.into());
    w.opt_uint(e.queue_seq);
    w.uint(e.id);
    w.0
}

/// Decodes the index entry of `url` (`url` is only used in error messages).
pub(crate) fn decode_index(bytes: &[u8], url: &str) -> Result<UrlIndex, StoreError> {
    let mut r = Reader::new(bytes, "record of", url, &[RECORD_VERSION])?;
    let code = r.uint()?;
    let state = state_from_code(&r, code)?;
    let entry = UrlIndex {
        state,
        depth: r.u32()?,
        redirect_hops: r.u32()?,
        attempts: r.u32()?,
        queue_seq: r.opt_uint()?,
        id: r.uint()?,
    };
    r.finish()?;
    Ok(entry)
}

/// Encodes the details of a URL.
pub(crate) fn encode_details(d: &UrlDetails) -> Vec<u8> {
    let mut w = Writer::new(RECORD_VERSION);
    w.str(&d.url);
    w.opt_str(&d.host_key);
    w.opt_str(&d.found_on);
    w.opt_str(&d.lastmod);
    match &d.page {
        None => w.0.push(0),
        Some(p) => {
            w.0.push(1);
            encode_page(&mut w, p);
            encode_page_extras(&mut w, p);
        }
    }
    w.0
}

/// Decodes the details stored under `id`.
pub(crate) fn decode_details(bytes: &[u8], id: u64) -> Result<UrlDetails, StoreError> {
    let of = id.to_string();
    let mut r = Reader::new(bytes, "URL details", &of, &[RECORD_VERSION])?;
    let url = r.str()?;
    let host_key = r.opt_str()?;
    let found_on = r.opt_str()?;
    let lastmod = r.opt_str()?;
    let page = if r.tag()? {
        let mut page = decode_page(&mut r)?;
        decode_page_extras(&mut r, &mut page)?;
        Some(page)
    } else {
        None
    };
    r.finish()?;
    Ok(UrlDetails {
        url,
        host_key,
        found_on,
        lastmod,
        page,
    })
}

/// The page fields of record version 1 (the order older records store them in).
pub(crate) fn encode_page(w: &mut Writer, p: &PageMeta) {
    w.opt_uint(p.status.map(u64::from));
    w.opt_str(&p.content_type);
    w.opt_str(&p.etag);
    w.opt_str(&p.last_modified);
    w.uint(p.fetched_at_ms);
    w.uint(p.elapsed_ms);
    w.uint(p.body_size);
    w.uint(p.outlinks.into());
    w.opt_str(&p.title);
    w.opt_str(&p.redirect_to);
    w.opt_str(&p.error_kind);
    w.opt_str(&p.error);
    match &p.body {
        None => w.0.push(0),
        Some(b) => {
            w.0.push(1);
            w.uint(b.segment.into());
            w.uint(b.offset);
            w.uint(b.length.into());
            w.str(&b.digest);
        }
    }
}

/// Reads the fields [`encode_page`] writes.
pub(crate) fn decode_page(r: &mut Reader<'_>) -> Result<PageMeta, StoreError> {
    let status = match r.opt_uint()? {
        None => None,
        Some(s) => Some(u16::try_from(s).map_err(|_| r.err("status out of range"))?),
    };
    let mut p = PageMeta {
        status,
        content_type: r.opt_str()?,
        etag: r.opt_str()?,
        last_modified: r.opt_str()?,
        fetched_at_ms: r.uint()?,
        elapsed_ms: r.uint()?,
        body_size: r.uint()?,
        outlinks: r.u32()?,
        title: r.opt_str()?,
        redirect_to: r.opt_str()?,
        error_kind: r.opt_str()?,
        error: r.opt_str()?,
        ..PageMeta::default()
    };
    if r.tag()? {
        p.body = Some(BodyPointer {
            segment: r.u32()?,
            offset: r.uint()?,
            length: r.u32()?,
            digest: r.str()?,
        });
    }
    Ok(p)
}

/// The page fields added by record version 3.
pub(crate) fn encode_page_extras(w: &mut Writer, p: &PageMeta) {
    w.opt_str(&p.records);
    w.opt_str(&p.canonical);
    w.uint(u64::from(p.noindex));
    w.uint(p.nofollow_links.into());
    w.uint(p.dropped_links.into());
}

/// Reads the fields [`encode_page_extras`] writes.
pub(crate) fn decode_page_extras(r: &mut Reader<'_>, p: &mut PageMeta) -> Result<(), StoreError> {
    p.records = r.opt_str()?;
    p.canonical = r.opt_str()?;
    p.noindex = r.uint()? != 0;
    p.nofollow_links = r.u32()?;
    p.dropped_links = r.u32()?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn full_record() -> UrlRecord {
        UrlRecord {
            state: UrlState::Done,
            depth: 3,
            found_on: Some("https://a.example/".into()),
            redirect_hops: 1,
            attempts: 2,
            queue_seq: None,
            page: Some(PageMeta {
                status: Some(200),
                content_type: Some("text/html; charset=utf-8".into()),
                etag: Some("\"abc\"".into()),
                last_modified: None,
                fetched_at_ms: 1_700_000_000_000,
                elapsed_ms: 123,
                body_size: 4567,
                outlinks: 10,
                title: Some("Héllo".into()),
                redirect_to: None,
                error_kind: None,
                error: None,
                body: Some(BodyPointer {
                    segment: 7,
                    offset: u64::MAX,
                    length: 99,
                    digest: "sha1:ABC".into(),
                }),
                records: Some(r#"[{"rule":0,"name":"x"}]"#.into()),
                canonical: Some("https://a.example/canonical".into()),
                noindex: true,
                nofollow_links: 3,
                dropped_links: 4,
            }),
            host_key: Some("https://a.example:443".into()),
            lastmod: Some("2026-11-01".into()),
        }
    }

    #[test]
    fn a_record_round_trips_through_its_two_parts() {
        let record = full_record();
        let (index, details) = split("https://a.example/x".into(), record.clone(), 77);
        let index_bytes = encode_index(&index);
        let details_bytes = encode_details(&details);
        assert_eq!(index_bytes[0], RECORD_VERSION);
        assert_eq!(details_bytes[0], RECORD_VERSION);
        let index = decode_index(&index_bytes, "u").unwrap();
        assert_eq!(index.id, 77);
        let details = decode_details(&details_bytes, 77).unwrap();
        assert_eq!(details.url, "https://a.example/x");
        assert_eq!(join(index, details), record);
    }

    #[test]
    fn a_queued_url_s_index_entry_is_a_few_bytes() {
        let queued = UrlIndex {
            state: UrlState::Queued,
            depth: 4,
            redirect_hops: 0,
            attempts: 0,
            queue_seq: Some(900_000),
            id: 1_000_000,
        };
        let bytes = encode_index(&queued);
        assert!(bytes.len() <= 12, "{} bytes", bytes.len());
        assert_eq!(decode_index(&bytes, "u").unwrap(), queued);
    }

    #[test]
    fn damaged_parts_are_corrupt_not_panics() {
        let (index, details) = split("u".into(), full_record(), 5);
        let index = encode_index(&index);
        let details = encode_details(&details);
        for cut in 0..index.len() {
            assert!(decode_index(&index[..cut], "u").unwrap_err().is_corrupt());
        }
        for cut in 0..details.len() {
            assert!(decode_details(&details[..cut], 5).unwrap_err().is_corrupt());
        }
        let mut old = index.clone();
        old[0] = 3;
        let e = decode_index(&old, "https://x/").unwrap_err();
        assert!(e.to_string().contains("https://x/"), "{e}");
        let mut long = details;
        long.push(0);
        assert!(decode_details(&long, 5).unwrap_err().is_corrupt());
        assert!(details_id(b"short").is_err());
        assert_eq!(details_id(&details_key(258)).unwrap(), 258);
    }
}
