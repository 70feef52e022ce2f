//! Decompression bomb at scale: 1 GiB of zeros, gzip-compressed to ~1 MiB, is cut off at the
//! 10 MiB cap with bounded memory. Its own test binary, because VmHWM (peak RSS) is per process.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use trawl_fetcher::{FetchError, Fetcher, FetcherConfig};

/// One `/proc/self/status` field in KiB (Linux only).
#[cfg(target_os = "linux")]
fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn one_gib_gzip_bomb_is_cut_off_with_bounded_memory() {
    // One gzip member holding 1 MiB of zeros (~1 KiB); 1024 concatenated members are a valid
    // gzip stream (RFC 1952 §2.2) of 1 GiB zeros, generated on the fly while serving.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 1024 * 1024]).unwrap();
    let member = Bytes::from(enc.finish().unwrap());
    let members = 1024usize;
    assert!(member.len() * members < 2 * 1024 * 1024, "{}", member.len());

    let server = serve(handler(move |_| {
        let member = member.clone();
        async move {
            let frames = futures::stream::iter(
                std::iter::repeat_n(member, members).map(|m| Ok(hyper::body::Frame::data(m))),
            );
            http::Response::builder()
                .header("content-encoding", "gzip")
                .body(http_body_util::BodyExt::boxed(
                    http_body_util::StreamBody::new(frames),
                ))
                .unwrap()
        }
    }))
    .await;
    let limit = 10 * 1024 * 1024;
    let f = Fetcher::new(FetcherConfig {
        max_body_bytes: limit,
        obey_robots: false,
        ..FetcherConfig::default()
    })
    .unwrap();

    #[cfg(target_os = "linux")]
    let peak_before = vm_kib("VmHWM:");
    let start = Instant::now();
    let err = f.fetch(&server.url("/bomb")).await.unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, FetchError::BodyTooLarge { limit: l, .. } if l == limit),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(took < Duration::from_secs(20), "took {took:?}");
    #[cfg(target_os = "linux")]
    {
        let grown_kib = vm_kib("VmHWM:").saturating_sub(peak_before);
        eprintln!("1 GiB gzip bomb cut off after {took:?}; peak RSS grew {grown_kib} KiB");
        assert!(grown_kib < 100 * 1024, "peak RSS grew {grown_kib} KiB");
    }
}
