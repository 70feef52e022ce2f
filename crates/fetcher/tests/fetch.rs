//! Integration tests for `Fetcher::fetch` against real local hyper servers.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use tokio::io::AsyncReadExt;
use trawl_fetcher::{FetchError, Fetcher, FetcherConfig};

fn fetcher_with(f: impl FnOnce(&mut FetcherConfig)) -> Fetcher {
    let mut c = FetcherConfig::default();
    f(&mut c);
    Fetcher::new(c).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn ok_response_with_body_headers_and_request_headers() {
    let seen: Arc<Mutex<Option<http::HeaderMap>>> = Arc::default();
    let seen2 = seen.clone();
    let server = serve(handler(move |req| {
        *seen2.lock().unwrap() = Some(req.headers().clone());
        async move {
            response(
                200,
                &[
                    ("content-type", "text/html; charset=utf-8"),
                    ("x-test", "yes"),
                ],
                "<h1>hi</h1>",
            )
        }
    }))
    .await;
    let f = fetcher_with(|_| {});
    let page = f.fetch(&server.url("/page#frag")).await.unwrap();
    assert_eq!(page.status, http::StatusCode::OK);
    assert_eq!(&page.body[..], b"<h1>hi</h1>");
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(page.header_str("x-test"), Some("yes"));
    assert_eq!(page.redirect_to, None);
    assert_eq!(page.version, http::Version::HTTP_11);
    assert!(page.elapsed > Duration::ZERO);
    assert_eq!(page.url, server.url("/page#frag"));

    let h = seen.lock().unwrap().clone().unwrap();
    assert!(h["user-agent"].to_str().unwrap().starts_with("trawl/"));
    assert_eq!(
        h["accept"],
        "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
    );
    assert_eq!(h["accept-encoding"], "gzip, deflate, br, zstd");
    assert_eq!(server.hits("/page"), 1);
}

#[tokio::test]
async fn no_accept_encoding_when_disabled() {
    let seen: Arc<Mutex<Option<http::HeaderMap>>> = Arc::default();
    let seen2 = seen.clone();
    let server = serve(handler(move |req| {
        *seen2.lock().unwrap() = Some(req.headers().clone());
        async move { response(200, &[], "x") }
    }))
    .await;
    let f = fetcher_with(|c| {
        c.accept_encoding = false;
        c.user_agent = "mybot/2.0".into();
    });
    f.fetch(&server.url("/")).await.unwrap();
    let h = seen.lock().unwrap().clone().unwrap();
    assert!(h.get("accept-encoding").is_none());
    assert_eq!(h["user-agent"], "mybot/2.0");
}

#[tokio::test]
async fn not_found_is_data_not_error() {
    let server = serve(handler(|_| async { response(404, &[], "nope") })).await;
    let page = fetcher_with(|_| {})
        .fetch(&server.url("/missing"))
        .await
        .unwrap();
    assert_eq!(page.status, http::StatusCode::NOT_FOUND);
    assert_eq!(&page.body[..], b"nope");
}

#[tokio::test]
async fn redirect_is_not_followed_and_location_is_resolved() {
    let server = serve(handler(|req| async move {
        if req.uri().path() == "/a/b" {
            response(301, &[("location", "../other?x=1")], "")
        } else {
            response(200, &[], "target")
        }
    }))
    .await;
    let page = fetcher_with(|_| {})
        .fetch(&server.url("/a/b"))
        .await
        .unwrap();
    assert_eq!(page.status, http::StatusCode::MOVED_PERMANENTLY);
    assert_eq!(page.redirect_to, Some(server.url("/other?x=1")));
    assert_eq!(server.hits("/other"), 0, "redirect must not be followed");
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let server = serve(handler(|_| async { response(200, &[], "same conn") })).await;
    let f = fetcher_with(|_| {});
    for i in 0..20 {
        let page = f
            .clone()
            .fetch(&server.url(&format!("/p{i}")))
            .await
            .unwrap();
        assert_eq!(&page.body[..], b"same conn");
    }
    assert_eq!(server.connections(), 1);
}

async fn encode(encoding: &str, data: &[u8]) -> Vec<u8> {
    use async_compression::tokio::bufread::*;
    let mut out = Vec::new();
    match encoding {
        "gzip" => out = gzip(data),
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            out = e.finish().unwrap();
        }
        "raw-deflate" => {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            out = e.finish().unwrap();
        }
        "br" => {
            BrotliEncoder::new(data)
                .read_to_end(&mut out)
                .await
                .unwrap();
        }
        "zstd" => {
            ZstdEncoder::new(data).read_to_end(&mut out).await.unwrap();
        }
        other => panic!("unknown {other}"),
    }
    out
}

#[tokio::test]
async fn compressed_bodies_are_decoded() {
    let plain: Vec<u8> = b"hello compressed world. ".repeat(2000);
    for (name, header) in [
        ("gzip", "gzip"),
        ("gzip", "x-gzip"),
        ("deflate", "deflate"),
        ("raw-deflate", "deflate"),
        ("br", "br"),
        ("zstd", "zstd"),
    ] {
        let encoded = Bytes::from(encode(name, &plain).await);
        assert!(encoded.len() < plain.len() / 4);
        let header = header.to_string();
        let server = serve(handler(move |_| {
            let (encoded, header) = (encoded.clone(), header.clone());
            async move { response(200, &[("content-encoding", header.as_str())], encoded) }
        }))
        .await;
        let page = fetcher_with(|_| {}).fetch(&server.url("/")).await.unwrap();
        assert_eq!(page.body.len(), plain.len(), "{name}");
        assert_eq!(&page.body[..], &plain[..], "{name}");
    }
}

#[tokio::test]
async fn unknown_or_corrupt_encoding_is_decode_error() {
    let server = serve(handler(|req| async move {
        if req.uri().path() == "/unknown" {
            response(200, &[("content-encoding", "compress")], "xx")
        } else {
            response(
                200,
                &[("content-encoding", "gzip")],
                "this is not gzip at all",
            )
        }
    }))
    .await;
    let f = fetcher_with(|_| {});
    let err = f.fetch(&server.url("/unknown")).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::Decode { encoding, .. } if encoding == "compress"),
        "{err}"
    );
    let err = f.fetch(&server.url("/corrupt")).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::Decode { encoding, .. } if encoding == "gzip"),
        "{err}"
    );
    assert!(!err.is_retryable());
}

fn vm_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn gzip_bomb_is_cut_off_at_the_cap() {
    // 200 MiB of zeros, gzip-compressed by streaming into a Vec (~200 KiB).
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..200 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = Bytes::from(enc.finish().unwrap());
    let bomb_len = bomb.len();
    assert!(bomb.len() < 512 * 1024, "bomb is {} bytes", bomb.len());
    let server = serve(handler(move |_| {
        let bomb = bomb.clone();
        async move { response(200, &[("content-encoding", "gzip")], bomb) }
    }))
    .await;
    let f = fetcher_with(|c| c.max_body_bytes = 1024 * 1024);
    let rss_before = vm_kib("VmRSS:");
    let start = Instant::now();
    let err = f.fetch(&server.url("/bomb")).await.unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, FetchError::BodyTooLarge { limit, .. } if limit == 1024 * 1024),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    if let (Some(before), Some(peak)) = (rss_before, vm_kib("VmHWM:")) {
        eprintln!(
            "bomb: {} compressed bytes cut off after {took:?}; peak RSS - RSS before = {} KiB",
            bomb_len,
            peak.saturating_sub(before)
        );
        // The whole decoded bomb would be 200 MiB; we must stay far below that.
        assert!(
            peak.saturating_sub(before) < 64 * 1024,
            "RSS grew {} KiB",
            peak - before
        );
    }
}

#[tokio::test]
async fn endless_chunked_body_is_too_large() {
    let server = serve(handler(|_| async {
        http::Response::builder()
            .status(200)
            .body(endless_body())
            .unwrap()
    }))
    .await;
    let f = fetcher_with(|c| c.max_body_bytes = 1024 * 1024);
    let err = f.fetch(&server.url("/forever")).await.unwrap_err();
    assert!(matches!(err, FetchError::BodyTooLarge { .. }), "{err}");
    assert_eq!(err.kind(), "too_large");
}

#[tokio::test]
async fn honest_content_length_over_cap_is_too_large() {
    let server = serve(handler(|_| async {
        response(200, &[], vec![b'z'; 200_000])
    }))
    .await;
    let f = fetcher_with(|c| c.max_body_bytes = 100_000);
    let err = f.fetch(&server.url("/big")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::BodyTooLarge { limit: 100_000, .. }),
        "{err}"
    );
    // Exactly at the cap is fine.
    let f = fetcher_with(|c| c.max_body_bytes = 200_000);
    assert_eq!(
        f.fetch(&server.url("/big")).await.unwrap().body.len(),
        200_000
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let addr = silent_server().await;
    let f = fetcher_with(|c| c.request_timeout = Duration::from_millis(500));
    let url = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let start = Instant::now();
    let err = f.fetch(&url).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(err, FetchError::Timeout { after, phase: "response", .. } if after == Duration::from_millis(500)),
        "{err}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn slow_endless_body_times_out_in_total_phase() {
    let server = serve(handler(|_| async {
        let stream = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((Ok(hyper::body::Frame::data(Bytes::from_static(b"x"))), ()))
        });
        http::Response::new(http_body_util::BodyExt::boxed(
            http_body_util::StreamBody::new(stream),
        ))
    }))
    .await;
    let f = fetcher_with(|c| c.request_timeout = Duration::from_millis(500));
    let start = Instant::now();
    let err = f.fetch(&server.url("/trickle")).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(err, FetchError::Timeout { phase: "total", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn connection_closed_mid_body_is_http_error() {
    let addr = truncating_server(100_000, 10).await;
    let url = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let err = fetcher_with(|_| {}).fetch(&url).await.unwrap_err();
    assert!(matches!(err, FetchError::Http { .. }), "{err}");
    assert_eq!(err.kind(), "http");
}

#[tokio::test]
async fn connection_refused_is_connect_error() {
    let addr = refused_addr().await;
    let url = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let err = fetcher_with(|_| {}).fetch(&url).await.unwrap_err();
    match &err {
        FetchError::Connect { host, .. } => assert_eq!(host, &addr.to_string()),
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(std::error::Error::source(&err).is_some());
    assert!(err.is_retryable());
}

#[tokio::test]
async fn unsupported_scheme_is_invalid_url() {
    let url = url::Url::parse("ftp://127.0.0.1/file").unwrap();
    let err = fetcher_with(|_| {}).fetch(&url).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_url");
}

#[tokio::test]
async fn per_host_rate_limit_spaces_requests() {
    let server = serve(handler(|_| async { response(200, &[], "ok") })).await;
    let f = fetcher_with(|c| c.requests_per_second = Some(10.0));
    let start = Instant::now();
    for i in 0..5 {
        f.fetch(&server.url(&format!("/{i}"))).await.unwrap();
    }
    // Burst 1 at 10/s: 4 waits of 100 ms after the first request.
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.hits("/4"), 1);
}

#[tokio::test]
async fn invalid_config_is_rejected() {
    let c = FetcherConfig {
        requests_per_second: Some(0.0),
        ..FetcherConfig::default()
    };
    assert_eq!(Fetcher::new(c).unwrap_err().kind(), "config");
}

#[tokio::test]
async fn keep_alive_also_after_compressed_bodies() {
    let encoded = Bytes::from(gzip(&b"abc".repeat(10_000)));
    let server = serve(handler(move |_| {
        let encoded = encoded.clone();
        async move { response(200, &[("content-encoding", "gzip")], encoded) }
    }))
    .await;
    let f = fetcher_with(|_| {});
    for _ in 0..10 {
        assert_eq!(f.fetch(&server.url("/z")).await.unwrap().body.len(), 30_000);
    }
    assert_eq!(server.connections(), 1);
}
