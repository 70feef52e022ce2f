//! WARC 1.1 export: a warcinfo record, then per page a request and a response record.
//!
//! Only Done pages with an HTTP status are written (failed pages have no response). The response
//! block is a reconstructed HTTP/1.1 message: the status line, the headers the store keeps
//! (Content-Type, ETag, Last-Modified, Location) and Content-Length of the stored body, then the
//! body as stored (already content-decoded, so no Content-Encoding). Record ids are name-based
//! (SHA-1) UUIDs of the URL and body digest, so the same store exports the same ids. With `gzip`,
//! every record is its own gzip member, as WARC readers expect of `.warc.gz` files.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use trawl_store::{payload_digest, Store, UrlRecord, UrlState};

use super::readable::{Exported, Readable};
use crate::Error;

const CRLF: &str = "\r\n";

fn io_error(source: std::io::Error) -> Error {
    Error::Io {
        what: "WARC export".into(),
        source,
    }
}

/// Writes `store`'s Done pages as WARC 1.1 records, streaming; returns how many pages (request +
/// response pairs) were written, and how many were left out as unreadable (a damaged record or
/// body: a response is never written without its stored body).
pub fn export_warc(store: &Store, out: &mut dyn Write, gzip: bool) -> Result<Exported, Error> {
    let readable = Readable::new(store);
    let now = SystemTime::now();
    let info_date = humantime::format_rfc3339_seconds(now).to_string();
    let warcinfo_id = record_id(&[
        b"warcinfo",
        store.path().to_string_lossy().as_bytes(),
        info_date.as_bytes(),
    ]);
    let info = format!(
        "software: trawl/{}\r\nformat: WARC File Format 1.1\r\n\
         conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let headers = [
        ("WARC-Type", "warcinfo"),
        ("WARC-Record-ID", warcinfo_id.as_str()),
        ("WARC-Date", info_date.as_str()),
        ("Content-Type", "application/warc-fields"),
    ];
    write_record(out, gzip, &headers, info.as_bytes())?;

    let mut written = 0;
    for entry in readable.records() {
        let (url, record) = entry?;
        if record.state != UrlState::Done {
            continue;
        }
        let Some(page) = &record.page else { continue };
        let Some(status) = page.status else { continue };
        let body = match &page.body {
            Some(pointer) => match readable.body(&url, pointer) {
                Some(body) => body,
                None => continue,
            },
            None => bytes::Bytes::new(),
        };
        write_page(out, gzip, &url, &record, status, &body, &warcinfo_id)?;
        written += 1;
    }
    out.flush().map_err(io_error)?;
    Ok(readable.finish(written))
}

/// Writes the request and response records of one page.
fn write_page(
    out: &mut dyn Write,
    gzip: bool,
    url: &str,
    record: &UrlRecord,
    status: u16,
    body: &[u8],
    warcinfo_id: &str,
) -> Result<(), Error> {
    let page = record.page.as_ref();
    let payload_digest_value = page
        .and_then(|p| p.body.as_ref())
        .map(|b| b.digest.clone())
        .unwrap_or_else(|| payload_digest(body));
    let fetched_at = UNIX_EPOCH + Duration::from_millis(page.map_or(0, |p| p.fetched_at_ms));
    let date = humantime::format_rfc3339_seconds(fetched_at).to_string();
    let response_id = record_id(&[b"response", url.as_bytes(), payload_digest_value.as_bytes()]);
    let request_id = record_id(&[b"request", url.as_bytes(), payload_digest_value.as_bytes()]);

    // The request: what trawl sent, reduced to the request line and Host.
    let (target, host) = match url::Url::parse(url) {
        Ok(u) => {
            let mut target = u.path().to_string();
            if let Some(q) = u.query() {
                target.push('?');
                target.push_str(q);
            }
            let mut host = u.host_str().unwrap_or_default().to_string();
            if let Some(port) = u.port() {
                host.push_str(&format!(":{port}"));
            }
            (target, host)
        }
        Err(_) => ("/".to_string(), String::new()),
    };
    let request_block = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");

    // The response: status line, the headers we kept, the body.
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut head = format!("HTTP/1.1 {status} {reason}").trim_end().to_string();
    head.push_str(CRLF);
    if let Some(p) = page {
        for (name, value) in [
            ("Content-Type", &p.content_type),
            ("ETag", &p.etag),
            ("Last-Modified", &p.last_modified),
            ("Location", &p.redirect_to),
        ] {
            if let Some(v) = value {
                head.push_str(&format!("{name}: {}\r\n", header_value(v)));
            }
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut response_block = Vec::with_capacity(head.len() + body.len());
    response_block.extend_from_slice(head.as_bytes());
    response_block.extend_from_slice(body);

    let target_uri = header_value(url);
    let request_digest = payload_digest(request_block.as_bytes());
    let request_headers = [
        ("WARC-Type", "request"),
        ("WARC-Record-ID", request_id.as_str()),
        ("WARC-Date", date.as_str()),
        ("WARC-Target-URI", target_uri.as_str()),
        ("WARC-Concurrent-To", response_id.as_str()),
        ("WARC-Warcinfo-ID", warcinfo_id),
        ("WARC-Block-Digest", request_digest.as_str()),
        ("Content-Type", "application/http;msgtype=request"),
    ];
    write_record(out, gzip, &request_headers, request_block.as_bytes())?;

    let response_digest = payload_digest(&response_block);
    let response_headers = [
        ("WARC-Type", "response"),
        ("WARC-Record-ID", response_id.as_str()),
        ("WARC-Date", date.as_str()),
        ("WARC-Target-URI", target_uri.as_str()),
        ("WARC-Warcinfo-ID", warcinfo_id),
        ("WARC-Payload-Digest", payload_digest_value.as_str()),
        ("WARC-Block-Digest", response_digest.as_str()),
        ("Content-Type", "application/http;msgtype=response"),
    ];
    write_record(out, gzip, &response_headers, &response_block)
}

/// A header value on one line (stored values come from HTTP headers, but be safe).
fn header_value(v: &str) -> String {
    v.replace(['\r', '\n'], " ")
}

/// Writes one record: version line, headers, Content-Length, blank line, block, two CRLFs.
fn write_record(
    out: &mut dyn Write,
    gzip: bool,
    headers: &[(&str, &str)],
    block: &[u8],
) -> Result<(), Error> {
    let mut record = String::from("WARC/1.1\r\n");
    for (name, value) in headers {
        record.push_str(&format!("{name}: {value}\r\n"));
    }
    record.push_str(&format!("Content-Length: {}\r\n\r\n", block.len()));
    let mut bytes = Vec::with_capacity(record.len() + block.len() + 4);
    bytes.extend_from_slice(record.as_bytes());
    bytes.extend_from_slice(block);
    bytes.extend_from_slice(b"\r\n\r\n");
    if gzip {
        let mut member = flate2::write::GzEncoder::new(&mut *out, flate2::Compression::default());
        member.write_all(&bytes).map_err(io_error)?;
        member.finish().map_err(io_error)?;
        Ok(())
    } else {
        out.write_all(&bytes).map_err(io_error)
    }
}

/// `<urn:uuid:...>` of a name-based UUID (version 5 layout) from the SHA-1 of `parts`.
fn record_id(parts: &[&[u8]]) -> String {
    let mut name = Vec::new();
    for part in parts {
        name.extend_from_slice(part);
        name.push(0);
    }
    // `payload_digest` is "sha1:" + unpadded RFC 4648 base32 of the SHA-1 (20 bytes).
    let digest = payload_digest(&name);
    let mut hash = base32_decode(digest.trim_start_matches("sha1:"));
    hash.resize(16, 0);
    hash[6] = (hash[6] & 0x0f) | 0x50;
    hash[8] = (hash[8] & 0x3f) | 0x80;
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Decodes unpadded RFC 4648 base32 (upper case); other characters are skipped.
fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use trawl_store::{CommitBatch, Completion, NewUrl, Outcome, PageMeta, StoreConfig};

    /// One parsed record: headers in order, and the block.
    struct Record {
        headers: Vec<(String, String)>,
        block: Vec<u8>,
    }

    impl Record {
        fn get(&self, name: &str) -> &str {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {name} header"))
        }
    }

    /// Parses a whole uncompressed WARC file strictly; panics on any syntax error.
    fn parse(mut data: &[u8]) -> Vec<Record> {
        let mut records = Vec::new();
        while !data.is_empty() {
            let end = data
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("end of headers");
            let head = std::str::from_utf8(&data[..end]).unwrap();
            let mut lines = head.split("\r\n");
            assert_eq!(lines.next(), Some("WARC/1.1"));
            let headers: Vec<(String, String)> = lines
                .map(|l| {
                    let (n, v) = l.split_once(": ").expect("name: value");
                    (n.to_string(), v.to_string())
                })
                .collect();
            let len: usize = headers
                .iter()
                .find(|(n, _)| n == "Content-Length")
                .expect("Content-Length")
                .1
                .parse()
                .unwrap();
            let rest = &data[end + 4..];
            let block = rest[..len].to_vec();
            assert_eq!(&rest[len..len + 4], b"\r\n\r\n", "record separator");
            data = &rest[len + 4..];
            records.push(Record { headers, block });
        }
        records
    }

    fn sample_store(dir: &std::path::Path) -> Store {
        let store = Store::open(dir, &StoreConfig::default()).unwrap();
        let host = "http://a.test:8080";
        let completion = |url: &str, outcome, page, body: Option<&'static [u8]>| Completion {
            url: url.into(),
            host_key: host.into(),
            outcome,
            page,
            body: body.map(|b| bytes::Bytes::from_static(b).into()),
        };
        store
            .commit(CommitBatch {
                discovered: vec![NewUrl {
                    url: "http://a.test:8080/queued".into(),
                    host_key: host.into(),
                    depth: 1,
                    found_on: None,
                    redirect_hops: 0,
                    lastmod: None,
                }],
                completed: vec![
                    completion(
                        "http://a.test:8080/page?q=1",
                        Outcome::Done,
                        PageMeta {
                            status: Some(200),
                            content_type: Some("text/html; charset=utf-8".into()),
                            etag: Some("\"e1\"".into()),
                            fetched_at_ms: 1_700_000_000_999,
                            ..PageMeta::default()
                        },
                        Some(b"<html>hello \xff</html>"),
                    ),
                    completion(
                        "http://a.test:8080/old",
                        Outcome::Done,
                        PageMeta {
                            status: Some(301),
                            redirect_to: Some("http://a.test:8080/new".into()),
                            ..PageMeta::default()
                        },
                        None,
                    ),
                    completion(
                        "http://a.test:8080/down",
                        Outcome::Failed,
                        PageMeta {
                            error: Some("refused".into()),
                            ..PageMeta::default()
                        },
                        None,
                    ),
                ],
                ..CommitBatch::default()
            })
            .unwrap();
        store
    }

    fn check(records: &[Record]) {
        let types: Vec<_> = records.iter().map(|r| r.get("WARC-Type")).collect();
        assert_eq!(
            types,
            ["warcinfo", "request", "response", "request", "response"]
        );
        let info = &records[0];
        let text = std::str::from_utf8(&info.block).unwrap();
        assert!(text.starts_with(&format!(
            "software: trawl/{}\r\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(text.contains("format: WARC File Format 1.1\r\n"));
        let info_id = info.get("WARC-Record-ID");
        for r in records {
            let id = r.get("WARC-Record-ID");
            assert!(
                id.starts_with("<urn:uuid:") && id.ends_with('>') && id.len() == 47,
                "{id}"
            );
            assert_eq!(r.get("Content-Length"), r.block.len().to_string());
            let date = r.get("WARC-Date");
            assert!(date.len() == 20 && date.ends_with('Z'), "{date}");
        }
        // Store order is the order URLs were first stored: /page?q=1, then /old.
        let (req, resp) = (&records[1], &records[2]);
        assert_eq!(req.get("WARC-Target-URI"), "http://a.test:8080/page?q=1");
        assert_eq!(resp.get("WARC-Target-URI"), "http://a.test:8080/page?q=1");
        assert_eq!(req.get("WARC-Concurrent-To"), resp.get("WARC-Record-ID"));
        assert_ne!(req.get("WARC-Record-ID"), resp.get("WARC-Record-ID"));
        assert_eq!(resp.get("WARC-Warcinfo-ID"), info_id);
        assert_eq!(resp.get("WARC-Date"), "2023-11-14T22:13:20Z");
        assert_eq!(
            req.block,
            b"GET /page?q=1 HTTP/1.1\r\nHost: a.test:8080\r\n\r\n"
        );
        assert_eq!(req.get("Content-Type"), "application/http;msgtype=request");
        assert_eq!(
            resp.get("Content-Type"),
            "application/http;msgtype=response"
        );
        let body: &[u8] = b"<html>hello \xff</html>";
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nETag: \"e1\"\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        assert_eq!(&resp.block[..head.len()], head.as_bytes());
        assert_eq!(&resp.block[head.len()..], body);
        assert_eq!(resp.get("WARC-Payload-Digest"), payload_digest(body));
        for r in &records[1..] {
            assert_eq!(r.get("WARC-Block-Digest"), payload_digest(&r.block));
        }
        let redirect = &records[4];
        assert!(redirect.block.starts_with(
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://a.test:8080/new\r\nContent-Length: 0\r\n\r\n"
        ));
        assert_eq!(redirect.get("WARC-Payload-Digest"), payload_digest(b""));
    }

    #[test]
    fn records_are_well_formed_and_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let store = sample_store(dir.path());
        let mut out = Vec::new();
        assert_eq!(export_warc(&store, &mut out, false).unwrap().written, 2);
        let records = parse(&out);
        check(&records);
        // Ids of pages are stable across exports.
        let mut again = Vec::new();
        export_warc(&store, &mut again, false).unwrap();
        assert_eq!(
            parse(&again)[4].get("WARC-Record-ID"),
            records[4].get("WARC-Record-ID")
        );
    }

    #[test]
    fn gzip_writes_one_member_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = sample_store(dir.path());
        let mut out = Vec::new();
        assert_eq!(export_warc(&store, &mut out, true).unwrap().written, 2);
        let mut rest: &[u8] = &out;
        let mut plain = Vec::new();
        let mut members = 0;
        while !rest.is_empty() {
            let mut member = flate2::bufread::GzDecoder::new(rest);
            let mut one = Vec::new();
            member.read_to_end(&mut one).unwrap();
            assert_eq!(parse(&one).len(), 1, "exactly one record per member");
            plain.extend_from_slice(&one);
            rest = member.into_inner();
            members += 1;
        }
        assert_eq!(members, 5);
        check(&parse(&plain));
    }

    #[test]
    fn uuid_and_base32() {
        assert_eq!(base32_decode("MZXW6YTBOI"), b"foobar".to_vec());
        assert_eq!(base32_decode("MZXW6YTB"), b"fooba".to_vec());
        let id = record_id(&[b"x"]);
        assert_eq!(id, record_id(&[b"x"]));
        assert_ne!(id, record_id(&[b"y"]));
        assert_eq!(&id[24..25], "5", "{id}");
        assert!(matches!(&id[29..30], "8" | "9" | "a" | "b"), "{id}");
    }
}
