//! The store's data types and their compact binary encoding.
//!
//! Every value written to the database starts with a version byte (URL records:
//! [`RECORD_VERSION`], which added the host key in version 2 and still reads version 1; other
//! values: version 1), then fields in a fixed order: integers as LEB128 varints, strings as length + UTF-8 bytes, options
//! as a 0/1 tag. Queue keys are `host_key ++ 0x00 ++ seq (u64 big-endian)` so one host's entries
//! are contiguous and in seq order.

use serde::{Deserialize, Serialize};

use crate::{HostStatsDelta, StoreError};

/// Version byte at the start of every URL record this build writes. Version 1 records (without
/// [`UrlRecord::host_key`]) are still read.
pub const RECORD_VERSION: u8 = 3;

/// Version byte of the other values (counters, integers, host statistics).
pub(crate) const VALUE_VERSION: u8 = 1;

/// A batch of changes applied atomically by `Store::commit`.
#[derive(Debug, Clone, Default)]
pub struct CommitBatch {
    /// URLs found (links, redirect targets, seeds); queued unless already known.
    pub discovered: Vec<NewUrl>,
    /// Pages whose fetch finished (successfully or not), or is to be retried later.
    pub completed: Vec<Completion>,
    /// Per-host statistics to merge into the stored [`HostStats`](crate::HostStats) (see [`HostStatsDelta`]).
    pub host_stats: Vec<HostStatsDelta>,
}

/// A discovered URL.
#[derive(Debug, Clone, Default)]
pub struct NewUrl {
    /// The canonical URL.
    pub url: String,
    /// The host key (scheme + host + port) whose queue it joins. Must not contain a 0 byte.
    pub host_key: String,
    /// Link depth from the seeds.
    pub depth: u32,
    /// The page it was found on (None for seeds).
    pub found_on: Option<String>,
    /// Redirect hops taken to reach it.
    pub redirect_hops: u32,
    /// The `lastmod` a sitemap gave for it, if it came from one.
    pub lastmod: Option<String>,
}

/// A finished fetch.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The canonical URL.
    pub url: String,
    /// The host key it was queued under (the same as at discovery).
    pub host_key: String,
    /// Whether it ended Done or Failed, or goes back to the end of its host's queue.
    pub outcome: Outcome,
    /// What is known about the page; `page.body` is filled in by the store when `body` is Some.
    pub page: PageMeta,
    /// The body to keep, if any (raw, or encoded beforehand with `Store::encode_body`).
    pub body: Option<crate::Body>,
}

/// The result of a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fetched (any HTTP status).
    Done,
    /// Could not be fetched (network error, limit, ...).
    Failed,
    /// Try again later: the URL stays Queued, its attempts go up by one, its queue entry moves to
    /// the end of its host's queue, and `page` is kept on the record (the last error). Ignored for
    /// a URL that is already Done or Failed.
    Retry,
}

/// What `commit` did.
#[derive(Debug, Clone, Default)]
pub struct CommitOutcome {
    /// Discovered URLs that were new, in batch order, with their queue seq.
    pub newly_queued: Vec<QueuedUrl>,
    /// URLs of [`Outcome::Retry`] completions, in batch order, with their new seq and attempts.
    pub requeued: Vec<QueuedUrl>,
}

/// A URL waiting in a host's queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedUrl {
    /// Position in the queue (global, monotonic).
    pub seq: u64,
    /// The canonical URL.
    pub url: String,
    /// Its host key.
    pub host_key: String,
    /// Link depth.
    pub depth: u32,
    /// Redirect hops taken to reach it.
    pub redirect_hops: u32,
    /// Fetch attempts so far.
    pub attempts: u32,
}

/// The state of a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UrlState {
    /// Waiting to be fetched.
    Queued,
    /// Fetched.
    Done,
    /// Gave up.
    Failed,
}

/// Everything the store knows about one canonical URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlRecord {
    /// Current state.
    pub state: UrlState,
    /// Link depth from the seeds.
    pub depth: u32,
    /// The page it was first found on.
    pub found_on: Option<String>,
    /// Redirect hops taken to reach it.
    pub redirect_hops: u32,
    /// Completed fetch attempts.
    pub attempts: u32,
    /// Its queue position while `state == Queued`, None otherwise.
    pub queue_seq: Option<u64>,
    /// The result of the last fetch (for a Queued URL: the last failed attempt, if any).
    pub page: Option<PageMeta>,
    /// The host key whose queue it is in. None only for records written by version 1 of the
    /// record format.
    pub host_key: Option<String>,
    /// The `lastmod` a sitemap gave for it, if it came from one (record version 3).
    pub lastmod: Option<String>,
}

/// What was learnt fetching a page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageMeta {
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Content-Type header.
    pub content_type: Option<String>,
    /// ETag header.
    pub etag: Option<String>,
    /// Last-Modified header.
    pub last_modified: Option<String>,
    /// When the fetch finished, unix milliseconds.
    pub fetched_at_ms: u64,
    /// How long the fetch took, milliseconds.
    pub elapsed_ms: u64,
    /// Body size in bytes (decoded).
    pub body_size: u64,
    /// Number of links found.
    pub outlinks: u32,
    /// Page title.
    pub title: Option<String>,
    /// Redirect target, for 3xx.
    pub redirect_to: Option<String>,
    /// Error class, for failures.
    pub error_kind: Option<String>,
    /// Error message, for failures.
    pub error: Option<String>,
    /// Where the body is stored; filled by the store on commit.
    pub body: Option<BodyPointer>,
    /// Records extracted from the page by the crawl's extraction rules, as a JSON array
    /// (record version 3, like the fields below).
    pub records: Option<String>,
    /// The page's `<link rel=canonical>`, canonicalised.
    pub canonical: Option<String>,
    /// The page asked not to be indexed (meta robots or X-Robots-Tag `noindex`).
    pub noindex: bool,
    /// Links not followed because of `rel=nofollow` (or a page-wide nofollow).
    pub nofollow_links: u32,
    /// Links dropped by the per-page outlink cap or the URL length cap.
    pub dropped_links: u32,
}

/// Where a body lives in the segment files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyPointer {
    /// Segment id (`segments/seg-{id:06}.dat`).
    pub segment: u32,
    /// Byte offset of the record (its header) in the segment.
    pub offset: u64,
    /// Length of the whole record (header + compressed payload).
    pub length: u32,
    /// `sha1:` + base32 of the SHA-1 of the uncompressed body (WARC-Payload-Digest form).
    pub digest: String,
}

/// How many URLs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// URLs waiting.
    pub queued: u64,
    /// URLs fetched.
    pub done: u64,
    /// URLs given up on.
    pub failed: u64,
}

impl Counters {
    /// queued + done + failed.
    pub fn total(&self) -> u64 {
        self.queued + self.done + self.failed
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// The queue key of `seq` in `host_key`'s queue.
pub(crate) fn queue_key(host_key: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(host_key.len() + 9);
    k.extend_from_slice(host_key.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Splits a queue key into host key and seq.
pub(crate) fn split_queue_key(key: &[u8]) -> Result<(&str, u64), StoreError> {
    let bad = || StoreError::corrupt(format!("malformed queue key {key:?}"));
    if key.len() < 9 || key[key.len() - 9] != 0 {
        return Err(bad());
    }
    let (host, rest) = key.split_at(key.len() - 9);
    let host = std::str::from_utf8(host).map_err(|_| bad())?;
    let seq: [u8; 8] = rest[1..].try_into().map_err(|_| bad())?;
    Ok((host, u64::from_be_bytes(seq)))
}

// ---------------------------------------------------------------------------------------------
// Encoding

pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn new(version: u8) -> Self {
        Writer(vec![version])
    }
    pub(crate) fn uint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    pub(crate) fn opt_str(&mut self, s: &Option<String>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }
    pub(crate) fn opt_uint(&mut self, v: Option<u64>) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.uint(v);
            }
        }
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: What<'a>,
    /// The value's version byte.
    pub(crate) version: u8,
}

/// What a value is, for error messages ("record of" + URL), formatted only if one is needed:
/// records are decoded on every lookup.
#[derive(Clone, Copy)]
pub(crate) struct What<'a> {
    pub(crate) kind: &'a str,
    pub(crate) of: &'a str,
}

impl std::fmt::Display for What<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.of.is_empty() {
            f.write_str(self.kind)
        } else {
            write!(f, "{} {}", self.kind, self.of)
        }
    }
}

impl<'a> Reader<'a> {
    /// A reader of a value whose version byte must be one of `versions`; `kind` and `of` name
    /// it in errors (`of` may be empty).
    pub(crate) fn new(
        buf: &'a [u8],
        kind: &'a str,
        of: &'a str,
        versions: &[u8],
    ) -> Result<Self, StoreError> {
        let what = What { kind, of };
        match buf.split_first() {
            Some((v, rest)) if versions.contains(v) => Ok(Reader {
                buf: rest,
                what,
                version: *v,
            }),
            Some((v, _)) => Err(StoreError::corrupt(format!(
                "{what}: unknown record version {v}"
            ))),
            None => Err(StoreError::corrupt(format!("{what}: empty value"))),
        }
    }
    pub(crate) fn err(&self, msg: &str) -> StoreError {
        StoreError::corrupt(format!("{}: {msg}", self.what))
    }
    pub(crate) fn byte(&mut self) -> Result<u8, StoreError> {
        let (&b, rest) = self
            .buf
            .split_first()
            .ok_or_else(|| self.err("truncated"))?;
        self.buf = rest;
        Ok(b)
    }
    pub(crate) fn uint(&mut self) -> Result<u64, StoreError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint too long"))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, StoreError> {
        u32::try_from(self.uint()?).map_err(|_| self.err("integer out of range"))
    }
    pub(crate) fn str(&mut self) -> Result<String, StoreError> {
        let len = usize::try_from(self.uint()?).map_err(|_| self.err("length out of range"))?;
        if len > self.buf.len() {
            return Err(self.err("truncated string"));
        }
        let (s, rest) = self.buf.split_at(len);
        self.buf = rest;
        String::from_utf8(s.to_vec()).map_err(|_| self.err("invalid UTF-8"))
    }
    pub(crate) fn tag(&mut self) -> Result<bool, StoreError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.err("bad option tag")),
        }
    }
    pub(crate) fn opt_str(&mut self) -> Result<Option<String>, StoreError> {
        Ok(if self.tag()? { Some(self.str()?) } else { None })
    }
    pub(crate) fn opt_uint(&mut self) -> Result<Option<u64>, StoreError> {
        Ok(if self.tag()? {
            Some(self.uint()?)
        } else {
            None
        })
    }
    pub(crate) fn finish(self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.err("trailing bytes"))
        }
    }
}

fn state_code(s: UrlState) -> u64 {
    match s {
        UrlState::Queued => 0,
        UrlState::Done => 1,
        UrlState::Failed => 2,
    }
}

/// Encodes a URL record.
pub(crate) fn encode_record(r: &UrlRecord) -> Vec<u8> {
    let mut w = Writer::new(RECORD_VERSION);
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
    }
    w.opt_str(&r.host_key);
    w.opt_str(&r.lastmod);
    if let Some(p) = &r.page {
        w.opt_str(&p.records);
        w.opt_str(&p.canonical);
        w.uint(u64::from(p.noindex));
        w.uint(p.nofollow_links.into());
        w.uint(p.dropped_links.into());
    }
    w.0
}

/// Decodes a URL record; `url` is only used in error messages.
pub(crate) fn decode_record(bytes: &[u8], url: &str) -> Result<UrlRecord, StoreError> {
    let mut r = Reader::new(bytes, "record of", url, &[1, 2, RECORD_VERSION])?;
    let state = match r.uint()? {
        0 => UrlState::Queued,
        1 => UrlState::Done,
        2 => UrlState::Failed,
        _ => return Err(r.err("unknown state")),
    };
    let depth = r.u32()?;
    let found_on = r.opt_str()?;
    let redirect_hops = r.u32()?;
    let attempts = r.u32()?;
    let queue_seq = r.opt_uint()?;
    let page = if r.tag()? {
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
            body: None,
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
        Some(p)
    } else {
        None
    };
    let host_key = if r.version >= 2 { r.opt_str()? } else { None };
    let lastmod = if r.version >= 3 { r.opt_str()? } else { None };
    let mut page = page;
    if let (Some(page), true) = (&mut page, r.version >= 3) {
        page.records = r.opt_str()?;
        page.canonical = r.opt_str()?;
        page.noindex = r.uint()? != 0;
        page.nofollow_links = r.u32()?;
        page.dropped_links = r.u32()?;
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

/// Encodes the counters.
pub(crate) fn encode_counters(c: &Counters) -> Vec<u8> {
    let mut w = Writer::new(VALUE_VERSION);
    w.uint(c.queued);
    w.uint(c.done);
    w.uint(c.failed);
    w.0
}

/// Decodes the counters.
pub(crate) fn decode_counters(bytes: &[u8]) -> Result<Counters, StoreError> {
    let mut r = Reader::new(bytes, "counters", "", &[VALUE_VERSION])?;
    let c = Counters {
        queued: r.uint()?,
        done: r.uint()?,
        failed: r.uint()?,
    };
    r.finish()?;
    Ok(c)
}

/// Encodes one unsigned integer (seq counter, segment lengths, schema version).
pub(crate) fn encode_u64(v: u64) -> Vec<u8> {
    let mut w = Writer::new(VALUE_VERSION);
    w.uint(v);
    w.0
}

/// Decodes one unsigned integer; `what` names it in errors.
pub(crate) fn decode_u64(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let mut r = Reader::new(bytes, what, "", &[VALUE_VERSION])?;
    let v = r.uint()?;
    r.finish()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_record() -> UrlRecord {
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
    fn record_round_trips() {
        let r = full_record();
        let bytes = encode_record(&r);
        assert_eq!(bytes[0], RECORD_VERSION);
        assert_eq!(decode_record(&bytes, "u").unwrap(), r);
        let q = UrlRecord {
            state: UrlState::Queued,
            depth: 0,
            found_on: None,
            redirect_hops: 0,
            attempts: 0,
            queue_seq: Some(42),
            page: None,
            host_key: None,
            lastmod: None,
        };
        let bytes = encode_record(&q);
        assert!(bytes.len() <= 12, "compact: {} bytes", bytes.len());
        assert_eq!(decode_record(&bytes, "u").unwrap(), q);
    }

    #[test]
    fn version_1_records_still_decode() {
        // A version 1 record is a version 3 record without the trailing host key, lastmod and
        // records; version 2 has the host key.
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
        let mut v1 = encode_record(&r);
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
        assert_eq!(decode_record(&v2, "u").unwrap(), r);
        assert_eq!(v1.pop(), Some(0), "the None host key tag");
        v1[0] = 1;
        assert_eq!(decode_record(&v1, "u").unwrap(), r);
        // ... and a version 1 record with a host key tag appended is rejected.
        v1.push(0);
        assert!(decode_record(&v1, "u").unwrap_err().is_corrupt());
    }

    #[test]
    fn bad_bytes_are_corrupt_not_panics() {
        let bytes = encode_record(&full_record());
        for cut in 0..bytes.len() {
            assert!(decode_record(&bytes[..cut], "u").unwrap_err().is_corrupt());
        }
        let mut v = bytes.clone();
        v[0] = 99;
        let e = decode_record(&v, "https://x/").unwrap_err();
        assert!(e.to_string().contains("https://x/"));
        let mut v = bytes;
        v.push(0);
        assert!(decode_record(&v, "u").is_err());
    }

    #[test]
    fn counters_and_keys() {
        let c = Counters {
            queued: 1,
            done: 300,
            failed: u64::MAX,
        };
        assert_eq!(decode_counters(&encode_counters(&c)).unwrap(), c);
        assert_eq!(decode_u64(&encode_u64(12345), "x").unwrap(), 12345);
        let k = queue_key("https://a.example:443", 258);
        assert_eq!(split_queue_key(&k).unwrap(), ("https://a.example:443", 258));
        // seq order is byte order within a host
        assert!(queue_key("h", 255) < queue_key("h", 256));
        assert!(split_queue_key(b"short").is_err());
    }
}
