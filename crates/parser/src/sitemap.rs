//! Sitemaps (<https://www.sitemaps.org/protocol.html>): XML `<urlset>` and `<sitemapindex>`
//! (namespaced or not), plain-text sitemaps (one URL per line), optionally gzip-compressed.
//!
//! The XML is read with `quick-xml`'s streaming reader, which never expands DTD entities (only
//! the five predefined ones and character references), so "billion laughs" documents stay as
//! small as they are. Sizes are bounded by [`SitemapLimits`].

use std::io::Read;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::canonical::{canonicalize_owned, resolve};
use crate::ParseError;

/// Longest `<loc>` text looked at, in bytes; longer entries are counted as invalid.
const MAX_LOC_BYTES: usize = 64 * 1024;
/// Longest `<lastmod>` text kept, in bytes (a W3C datetime is ~25).
const MAX_LASTMOD_BYTES: usize = 64;

/// Bounds on one sitemap file (the protocol's own limits by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SitemapLimits {
    /// Most URLs taken from one file; further ones are dropped and counted in
    /// [`Sitemap::dropped`].
    pub max_urls: usize,
    /// Largest file in bytes, after gzip decompression; larger ones fail with
    /// [`ParseError::SitemapTooLarge`].
    pub max_bytes: usize,
    /// How deep sitemap indexes may nest (index -> index -> ... -> urlset). Not enforced by
    /// [`parse_sitemap`], which sees one file: the caller counts the depth of the child
    /// sitemaps it fetches and stops at this one.
    pub max_depth: usize,
}

impl SitemapLimits {
    /// Default for [`SitemapLimits::max_urls`] (the protocol's limit).
    pub const DEFAULT_MAX_URLS: usize = 50_000;
    /// Default for [`SitemapLimits::max_bytes`]: 50 MiB (the protocol's limit).
    pub const DEFAULT_MAX_BYTES: usize = 50 * 1024 * 1024;
    /// Default for [`SitemapLimits::max_depth`].
    pub const DEFAULT_MAX_DEPTH: usize = 3;
}

impl Default for SitemapLimits {
    fn default() -> Self {
        SitemapLimits {
            max_urls: Self::DEFAULT_MAX_URLS,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

/// One `<url>` of a urlset or `<sitemap>` of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapUrl {
    /// The `<loc>`, canonicalised (http(s) only).
    pub url: Url,
    /// The `<lastmod>` as written (W3C datetime, e.g. `2024-05-01` or
    /// `2024-05-01T10:00:00+00:00`), trimmed; `None` if absent or empty.
    pub lastmod: Option<String>,
}

/// A parsed sitemap file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sitemap {
    /// A `<urlset>` or a plain-text sitemap: pages to crawl.
    Urls {
        /// The pages, in file order, at most [`SitemapLimits::max_urls`].
        urls: Vec<SitemapUrl>,
        /// Valid entries beyond [`SitemapLimits::max_urls`], not returned.
        dropped: usize,
        /// Entries skipped because their URL was missing, unparsable or not http(s).
        invalid: usize,
    },
    /// A `<sitemapindex>`: child sitemaps to fetch (one level deeper).
    Index {
        /// The child sitemaps, in file order, at most [`SitemapLimits::max_urls`].
        sitemaps: Vec<SitemapUrl>,
        /// Valid entries beyond [`SitemapLimits::max_urls`], not returned.
        dropped: usize,
        /// Entries skipped because their URL was missing, unparsable or not http(s).
        invalid: usize,
    },
}

impl Sitemap {
    /// The pages of a urlset or the child sitemaps of an index.
    pub fn entries(&self) -> &[SitemapUrl] {
        match self {
            Sitemap::Urls { urls, .. } => urls,
            Sitemap::Index { sitemaps, .. } => sitemaps,
        }
    }

    /// Whether this is a sitemap index.
    pub fn is_index(&self) -> bool {
        matches!(self, Sitemap::Index { .. })
    }

    /// Valid entries dropped for exceeding [`SitemapLimits::max_urls`].
    pub fn dropped(&self) -> usize {
        match self {
            Sitemap::Urls { dropped, .. } | Sitemap::Index { dropped, .. } => *dropped,
        }
    }

    /// Entries skipped because their URL was missing, unparsable or not http(s).
    pub fn invalid(&self) -> usize {
        match self {
            Sitemap::Urls { invalid, .. } | Sitemap::Index { invalid, .. } => *invalid,
        }
    }
}

/// Parses one sitemap file fetched from `base`.
///
/// Gzip is detected by its magic bytes (`1f 8b`) and decompressed up to `limits.max_bytes`.
/// A `text/plain` Content-Type, or a body whose first non-blank character is not `<` (or a blank
/// body), is read as a plain-text sitemap (absolute URLs, one per line); anything else as XML. XML `<loc>`s are
/// resolved against `base` (the protocol wants absolute URLs; relative ones are tolerated).
/// Entries are canonicalised with [`crate::canonicalize`] (apply a [`crate::Canonicalizer`] to
/// strip tracking parameters) and non-http(s) ones skipped. Restricting URLs to the sitemap's
/// host and bounding index nesting ([`SitemapLimits::max_depth`]) are the caller's business.
///
/// Errors: [`ParseError::SitemapTooLarge`], and [`ParseError::SitemapInvalid`] for bad gzip data,
/// malformed XML, or an XML root that is neither `urlset` nor `sitemapindex`.
pub fn parse_sitemap(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
    limits: &SitemapLimits,
) -> Result<Sitemap, ParseError> {
    let decompressed;
    let body = if body.starts_with(&[0x1f, 0x8b]) {
        decompressed = gunzip(body, base, limits.max_bytes)?;
        &decompressed[..]
    } else if body.len() > limits.max_bytes {
        return Err(too_large(base, limits));
    } else {
        body
    };
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let plain_text = content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("text/plain"))
    });
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if plain_text || first != Some(&b'<') {
        Ok(parse_text(body, limits))
    } else {
        parse_xml(body, base, limits)
    }
}

fn too_large(base: &Url, limits: &SitemapLimits) -> ParseError {
    ParseError::SitemapTooLarge {
        url: base.to_string(),
        limit: limits.max_bytes,
    }
}

fn invalid(
    base: &Url,
    reason: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> ParseError {
    ParseError::SitemapInvalid {
        url: base.to_string(),
        reason,
        source,
    }
}

/// Decompresses gzip (all members), failing once the output would exceed `max_bytes`.
fn gunzip(body: &[u8], base: &Url, max_bytes: usize) -> Result<Vec<u8>, ParseError> {
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_bytes));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| invalid(base, "bad gzip data".to_owned(), Some(Box::new(e))))?;
    if out.len() > max_bytes {
        return Err(too_large(
            base,
            &SitemapLimits {
                max_bytes,
                ..SitemapLimits::default()
            },
        ));
    }
    Ok(out)
}

/// Collects entries, enforcing `max_urls`.
struct Entries {
    list: Vec<SitemapUrl>,
    dropped: usize,
    invalid: usize,
    max: usize,
}

impl Entries {
    fn new(max: usize) -> Entries {
        Entries {
            list: Vec::new(),
            dropped: 0,
            invalid: 0,
            max,
        }
    }

    fn push(&mut self, url: Option<Url>, lastmod: Option<String>) {
        match url {
            None => self.invalid += 1,
            Some(_) if self.list.len() >= self.max => self.dropped += 1,
            Some(url) => self.list.push(SitemapUrl { url, lastmod }),
        }
    }
}

fn parse_text(body: &[u8], limits: &SitemapLimits) -> Sitemap {
    let mut entries = Entries::new(limits.max_urls);
    for line in body.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let url = Url::parse(line).ok().and_then(canonicalize_owned);
        entries.push(url, None);
    }
    Sitemap::Urls {
        urls: entries.list,
        dropped: entries.dropped,
        invalid: entries.invalid,
    }
}

/// Which child of an entry is being read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    None,
    Loc,
    Lastmod,
}

/// The entry being read: its `<loc>` and `<lastmod>` text so far.
#[derive(Default)]
struct Pending {
    loc: String,
    lastmod: String,
    /// A piece of the `<loc>` could not be decoded (unknown entity, bad UTF-8) or it is too long.
    bad: bool,
}

fn parse_xml(body: &[u8], base: &Url, limits: &SitemapLimits) -> Result<Sitemap, ParseError> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let xml_err = |reader: &Reader<&[u8]>, e: quick_xml::Error| {
        let reason = format!("malformed XML at byte {}", reader.error_position());
        invalid(base, reason, Some(Box::new(e)))
    };

    let mut is_index = None::<bool>;
    let mut entries = Entries::new(limits.max_urls);
    let mut depth = 0usize;
    let mut pending: Option<Pending> = None;
    let mut capture = Capture::None;
    loop {
        let event = reader.read_event().map_err(|e| xml_err(&reader, e))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                let name = e.local_name();
                let name = name.as_ref();
                match depth {
                    1 => is_index = Some(root_kind(name, base)?),
                    2 if is_entry(name, is_index) => pending = Some(Pending::default()),
                    3 if pending.is_some() => {
                        capture = match name {
                            b"loc" => Capture::Loc,
                            b"lastmod" => Capture::Lastmod,
                            _ => Capture::None,
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(e) if depth == 0 => {
                // `<urlset/>`: an empty sitemap.
                is_index = Some(root_kind(e.local_name().as_ref(), base)?);
            }
            Event::End(_) => {
                if depth == 3 {
                    capture = Capture::None;
                } else if depth == 2 {
                    if let Some(p) = pending.take() {
                        finish_entry(p, base, &mut entries);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if capture != Capture::None && depth == 3 => {
                let text = t.unescape().ok();
                append(pending.as_mut(), capture, text.as_deref());
            }
            Event::CData(c) if capture != Capture::None && depth == 3 => {
                let text = std::str::from_utf8(&c).ok();
                append(pending.as_mut(), capture, text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(invalid(
            base,
            format!("malformed XML: {depth} element(s) left open at the end"),
            None,
        ));
    }
    let Some(is_index) = is_index else {
        return Err(invalid(base, "no root element".to_owned(), None));
    };
    Ok(if is_index {
        Sitemap::Index {
            sitemaps: entries.list,
            dropped: entries.dropped,
            invalid: entries.invalid,
        }
    } else {
        Sitemap::Urls {
            urls: entries.list,
            dropped: entries.dropped,
            invalid: entries.invalid,
        }
    })
}

/// `true` for `sitemapindex`, `false` for `urlset`, an error for anything else.
fn root_kind(name: &[u8], base: &Url) -> Result<bool, ParseError> {
    match name {
        b"urlset" => Ok(false),
        b"sitemapindex" => Ok(true),
        other => Err(invalid(
            base,
            format!(
                "not a sitemap: the root element is <{}>, not <urlset> or <sitemapindex>",
                String::from_utf8_lossy(&other[..other.len().min(64)])
            ),
            None,
        )),
    }
}

fn is_entry(name: &[u8], is_index: Option<bool>) -> bool {
    match is_index {
        Some(true) => name == b"sitemap",
        Some(false) => name == b"url",
        None => false,
    }
}

fn append(pending: Option<&mut Pending>, capture: Capture, text: Option<&str>) {
    let Some(p) = pending else {
        return;
    };
    let Some(text) = text else {
        if capture == Capture::Loc {
            p.bad = true;
        }
        return;
    };
    match capture {
        Capture::Loc if p.loc.len() + text.len() <= MAX_LOC_BYTES => p.loc.push_str(text),
        Capture::Loc => p.bad = true,
        Capture::Lastmod if p.lastmod.len() + text.len() <= MAX_LASTMOD_BYTES => {
            p.lastmod.push_str(text);
        }
        Capture::Lastmod | Capture::None => {}
    }
}

fn finish_entry(p: Pending, base: &Url, entries: &mut Entries) {
    let loc = p.loc.trim();
    let url = if p.bad || loc.is_empty() {
        None
    } else {
        resolve(base, loc)
    };
    let lastmod = p.lastmod.trim();
    let lastmod = (!lastmod.is_empty()).then(|| lastmod.to_owned());
    entries.push(url, lastmod);
}
