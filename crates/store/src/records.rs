//! The store's data types and their compact binary encoding.
//!
//! Every value written to the database starts with a version byte (the two parts of URL records:
//! [`RECORD_VERSION`], see [`crate::entries`]; other values: version 1), then fields in a fixed order: integers as LEB128 varints, strings as length + UTF-8 bytes, options
//! as a 0/1 tag. Queue keys are `host_key ++ 0x00 ++ seq (u64 big-endian)` so one host's entries
//! are contiguous and in seq order.

use serde::{Deserialize, Serialize};

use crate::{HostStatsDelta, StoreError};

/// Version byte at the start of both parts of every URL record this build writes (the index
/// entry and the details, see the crate docs). Versions 1 to 3 were whole records in one tree
/// (schema 1); opening such a store converts them.
pub const RECORD_VERSION: u8 = 4;

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

/// The fields of a [`UrlRecord`] that [`Store::url_summary`](crate::Store::url_summary) reads
/// without the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlSummary {
    /// Current state.
    pub state: UrlState,
    /// Link depth from the seeds.
    pub depth: u32,
    /// Redirect hops taken to reach it.
    pub redirect_hops: u32,
    /// Completed fetch attempts.
    pub attempts: u32,
    /// Its queue position while `state == Queued`, None otherwise.
    pub queue_seq: Option<u64>,
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

/// Room a [`Writer`] starts with: a URL's details entry (URL, host key, found-on) usually fits, so
/// encoding it costs one allocation instead of the five or six regrowths from one byte (in a docs
/// crawl, reallocating these buffers was ~4% of the commit thread's samples).
const WRITER_START_CAPACITY: usize = 256;

impl Writer {
    pub(crate) fn new(version: u8) -> Self {
        let mut bytes = Vec::with_capacity(WRITER_START_CAPACITY);
        bytes.push(version);
        Writer(bytes)
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
