//! CSV export: one row per done/failed page (header row first), the same columns as the JSONL
//! export except bodies.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use trawl_store::{Store, UrlRecord, UrlState};

use super::readable::{Exported, Readable};
use crate::Error;

/// The header row, in column order.
const COLUMNS: [&str; 18] = [
    "url",
    "state",
    "status",
    "content_type",
    "etag",
    "last_modified",
    "depth",
    "found_on",
    "fetched_at",
    "elapsed_ms",
    "body_size",
    "outlinks",
    "title",
    "redirect_to",
    "error_kind",
    "error",
    "attempts",
    "digest",
];

fn io_error(source: std::io::Error) -> Error {
    Error::Io {
        what: "CSV export".into(),
        source,
    }
}

fn csv_error(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => io_error(source),
        other => io_error(std::io::Error::other(format!("{other:?}"))),
    }
}

/// Writes every done or failed page of `store` as one CSV row after a header row, streaming;
/// returns how many pages (rows after the header) were written, and how many URL records were
/// left out as unreadable. Absent values are empty cells.
pub fn export_csv(store: &Store, out: &mut dyn Write) -> Result<Exported, Error> {
    let readable = Readable::new(store);
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS).map_err(csv_error)?;
    let mut written = 0;
    for entry in readable.records() {
        let (url, record) = entry?;
        if record.state == UrlState::Queued {
            continue;
        }
        writer.write_record(row(&url, &record)).map_err(csv_error)?;
        written += 1;
    }
    writer.flush().map_err(io_error)?;
    Ok(readable.finish(written))
}

/// The cells of one page, in [`COLUMNS`] order.
fn row(url: &str, record: &UrlRecord) -> [String; 18] {
    let page = record.page.as_ref();
    let text = |f: fn(&trawl_store::PageMeta) -> Option<&String>| {
        page.and_then(f).cloned().unwrap_or_default()
    };
    let fetched_at = page.map_or(0, |p| p.fetched_at_ms);
    [
        url.to_string(),
        match record.state {
            UrlState::Done => "done",
            UrlState::Failed => "failed",
            UrlState::Queued => "queued",
        }
        .to_string(),
        page.and_then(|p| p.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        text(|p| p.content_type.as_ref()),
        text(|p| p.etag.as_ref()),
        text(|p| p.last_modified.as_ref()),
        record.depth.to_string(),
        record.found_on.clone().unwrap_or_default(),
        humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(fetched_at))
            .to_string(),
        page.map_or(0, |p| p.elapsed_ms).to_string(),
        page.map_or(0, |p| p.body_size).to_string(),
        page.map_or(0, |p| p.outlinks).to_string(),
        text(|p| p.title.as_ref()),
        text(|p| p.redirect_to.as_ref()),
        text(|p| p.error_kind.as_ref()),
        text(|p| p.error.as_ref()),
        record.attempts.to_string(),
        page.and_then(|p| p.body.as_ref())
            .map(|b| b.digest.clone())
            .unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_store::{CommitBatch, Completion, NewUrl, Outcome, PageMeta, StoreConfig};

    #[test]
    fn rows_with_header_quoting_and_empty_cells() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let host = "http://a.test:80";
        let page = |url: &str, outcome, page: PageMeta, body: Option<&'static [u8]>| Completion {
            url: url.into(),
            host_key: host.into(),
            outcome,
            page,
            body: body.map(|b| bytes::Bytes::from_static(b).into()),
        };
        store
            .commit(CommitBatch {
                discovered: vec![NewUrl {
                    url: "http://a.test/queued".into(),
                    host_key: host.into(),
                    depth: 1,
                    found_on: None,
                    redirect_hops: 0,
                    lastmod: None,
                }],
                completed: vec![
                    page(
                        "http://a.test/",
                        Outcome::Done,
                        PageMeta {
                            status: Some(200),
                            content_type: Some("text/html".into()),
                            title: Some("Hello, \"world\"\nline 2".into()),
                            fetched_at_ms: 1_700_000_000_123,
                            body_size: 5,
                            ..PageMeta::default()
                        },
                        Some(b"hello"),
                    ),
                    page(
                        "http://a.test/down",
                        Outcome::Failed,
                        PageMeta {
                            error_kind: Some("connect".into()),
                            error: Some("refused".into()),
                            ..PageMeta::default()
                        },
                        None,
                    ),
                ],
                ..CommitBatch::default()
            })
            .unwrap();

        let mut out = Vec::new();
        assert_eq!(export_csv(&store, &mut out).unwrap().written, 2);
        let mut reader = csv::Reader::from_reader(out.as_slice());
        assert_eq!(reader.headers().unwrap(), COLUMNS.as_slice());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2, "the queued URL is not exported");
        let col = |row: &csv::StringRecord, name: &str| {
            let i = COLUMNS.iter().position(|c| *c == name).unwrap();
            row[i].to_string()
        };
        let done = &rows[0];
        assert_eq!(col(done, "url"), "http://a.test/");
        assert_eq!(col(done, "state"), "done");
        assert_eq!(col(done, "status"), "200");
        assert_eq!(col(done, "title"), "Hello, \"world\"\nline 2");
        assert_eq!(col(done, "fetched_at"), "2023-11-14T22:13:20.123Z");
        assert_eq!(col(done, "attempts"), "1");
        assert_eq!(
            col(done, "digest"),
            trawl_store::payload_digest(b"hello").as_str()
        );
        let failed = &rows[1];
        assert_eq!(col(failed, "state"), "failed");
        assert_eq!(col(failed, "status"), "");
        assert_eq!(col(failed, "error"), "refused");
        assert_eq!(col(failed, "digest"), "");
    }
}
