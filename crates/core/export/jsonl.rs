//! JSON Lines export: one object per fetched or failed page, without collecting them in memory.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use trawl_store::{Store, UrlRecord, UrlState};

use super::readable::{Exported, Readable};
use crate::Error;

/// One exported page.
#[derive(Debug, Serialize)]
struct ExportedPage<'a> {
    url: &'a str,
    state: &'static str,
    status: Option<u16>,
    content_type: Option<&'a str>,
    etag: Option<&'a str>,
    last_modified: Option<&'a str>,
    depth: u32,
    found_on: Option<&'a str>,
    fetched_at: String,
    elapsed_ms: u64,
    body_size: u64,
    outlinks: u32,
    title: Option<&'a str>,
    redirect_to: Option<&'a str>,
    error_kind: Option<&'a str>,
    error: Option<&'a str>,
    attempts: u32,
    digest: Option<&'a str>,
    lastmod: Option<&'a str>,
    canonical: Option<&'a str>,
    noindex: bool,
    nofollow_links: u32,
    dropped_links: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

/// Writes every done or failed page of `store` as one JSON object per line; returns how many,
/// and how many were left out as unreadable (each named in a warning).
/// With `with_body`, the body is included as `body` (UTF-8 text) or `body_base64` (anything else);
/// a page whose body cannot be read is left out rather than written without it.
pub fn export_jsonl(
    store: &Store,
    out: &mut dyn Write,
    with_body: bool,
) -> Result<Exported, Error> {
    let readable = Readable::new(store);
    let mut written = 0;
    for entry in readable.records() {
        let (url, record) = entry?;
        if record.state == UrlState::Queued {
            continue;
        }
        let body = match (&record.page, with_body) {
            (Some(page), true) => match &page.body {
                Some(pointer) => match readable.body(&url, pointer) {
                    Some(body) => Some(body),
                    None => continue,
                },
                None => None,
            },
            _ => None,
        };
        write_line(out, &url, &record, body.as_deref())?;
        written += 1;
    }
    out.flush().map_err(|source| Error::Io {
        what: "export".into(),
        source,
    })?;
    Ok(readable.finish(written))
}

fn write_line(
    out: &mut dyn Write,
    url: &str,
    record: &UrlRecord,
    body: Option<&[u8]>,
) -> Result<(), Error> {
    use base64::Engine as _;
    let page = record.page.as_ref();
    let (body_text, body_base64) = match body {
        None => (None, None),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text.to_string()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ),
        },
    };
    let fetched_at = page.map_or(0, |p| p.fetched_at_ms);
    let line = ExportedPage {
        url,
        state: match record.state {
            UrlState::Done => "done",
            UrlState::Failed => "failed",
            UrlState::Queued => "queued",
        },
        status: page.and_then(|p| p.status),
        content_type: page.and_then(|p| p.content_type.as_deref()),
        etag: page.and_then(|p| p.etag.as_deref()),
        last_modified: page.and_then(|p| p.last_modified.as_deref()),
        depth: record.depth,
        found_on: record.found_on.as_deref(),
        fetched_at: humantime::format_rfc3339_millis(
            UNIX_EPOCH + Duration::from_millis(fetched_at),
        )
        .to_string(),
        elapsed_ms: page.map_or(0, |p| p.elapsed_ms),
        body_size: page.map_or(0, |p| p.body_size),
        outlinks: page.map_or(0, |p| p.outlinks),
        title: page.and_then(|p| p.title.as_deref()),
        redirect_to: page.and_then(|p| p.redirect_to.as_deref()),
        error_kind: page.and_then(|p| p.error_kind.as_deref()),
        error: page.and_then(|p| p.error.as_deref()),
        attempts: record.attempts,
        digest: page
            .and_then(|p| p.body.as_ref())
            .map(|b| b.digest.as_str()),
        lastmod: record.lastmod.as_deref(),
        canonical: page.and_then(|p| p.canonical.as_deref()),
        noindex: page.is_some_and(|p| p.noindex),
        nofollow_links: page.map_or(0, |p| p.nofollow_links),
        dropped_links: page.map_or(0, |p| p.dropped_links),
        body: body_text,
        body_base64,
    };
    let io = |source| Error::Io {
        what: "export".into(),
        source,
    };
    serde_json::to_writer(&mut *out, &line).map_err(|err| io(std::io::Error::from(err)))?;
    out.write_all(b"\n").map_err(io)
}
