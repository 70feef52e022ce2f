//! Phase timeouts (response, body idle, total), configured extra headers (also on robots.txt),
//! `Retry-After` from a real response, and the `max_crawl_delay` cap.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use trawl_fetcher::{FetchError, Fetcher, FetcherConfig, RobotsVerdict};

fn fetcher_with(f: impl FnOnce(&mut FetcherConfig)) -> Fetcher {
    let mut c = FetcherConfig::default();
    f(&mut c);
    Fetcher::new(c).unwrap()
}

/// A body of one byte every `every`, forever.
fn trickle(every: Duration) -> Body {
    let stream = futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(every).await;
        Some((Ok(hyper::body::Frame::data(Bytes::from_static(b"x"))), ()))
    });
    http_body_util::BodyExt::boxed(http_body_util::StreamBody::new(stream))
}

async fn trickle_server(every: Duration) -> TestServer {
    serve(handler(move |_| async move {
        http::Response::new(trickle(every))
    }))
    .await
}

#[tokio::test]
async fn stalled_body_ends_at_body_idle_timeout() {
    let server = trickle_server(Duration::from_millis(300)).await;
    let f = fetcher_with(|c| c.body_idle_timeout = Duration::from_millis(200));
    let start = Instant::now();
    let err = f.fetch(&server.url("/slow")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Timeout { phase: "body_idle", after, .. } if after == Duration::from_millis(200)),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn trickling_body_ends_at_total_timeout() {
    let server = trickle_server(Duration::from_millis(100)).await;
    let f = fetcher_with(|c| {
        c.request_timeout = Duration::from_secs(1);
        c.body_idle_timeout = Duration::from_millis(500);
    });
    let start = Instant::now();
    let err = f.fetch(&server.url("/slow")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Timeout { phase: "total", after, .. } if after == Duration::from_secs(1)),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn silent_server_ends_at_response_timeout() {
    let addr = silent_server().await;
    let f = fetcher_with(|c| c.response_timeout = Duration::from_millis(300));
    let url = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let start = Instant::now();
    let err = f.fetch(&url).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Timeout { phase: "response", after, .. } if after == Duration::from_millis(300)),
        "{err}"
    );
    // Well before the 30 s whole-fetch budget.
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn extra_headers_are_sent_with_pages_and_robots_txt() {
    let seen: Arc<Mutex<Vec<(String, http::HeaderMap)>>> = Arc::default();
    let seen2 = seen.clone();
    let server = serve(handler(move |req| {
        seen2
            .lock()
            .unwrap()
            .push((req.uri().path().to_string(), req.headers().clone()));
        async move { response(200, &[], "User-agent: *\nAllow: /\n") }
    }))
    .await;
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("X-Team".to_string(), "search".to_string());
    let (k, v) = trawl_fetcher::parse_header_arg("Accept: text/plain").unwrap();
    headers.insert(k, v);
    let f = fetcher_with(|c| c.headers = headers);
    assert!(f.robots(&server.url("/page")).await.is_allowed());
    f.fetch(&server.url("/page")).await.unwrap();
    let seen = seen.lock().unwrap();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/robots.txt", "/page"]);
    for (path, h) in seen.iter() {
        assert_eq!(h["x-team"], "search", "{path}");
        // A configured header replaces the built-in one of the same name.
        assert_eq!(h.get_all("accept").iter().count(), 1, "{path}");
        assert_eq!(h["accept"], "text/plain", "{path}");
        assert!(h["user-agent"].to_str().unwrap().starts_with("trawl/"));
    }
}

#[test]
fn invalid_extra_headers_are_config_errors() {
    for (k, v) in [("Bad Name", "v"), ("X-Ok", "line\nbreak"), ("", "v")] {
        let mut headers = std::collections::BTreeMap::new();
        headers.insert(k.to_string(), v.to_string());
        let err = Fetcher::new(FetcherConfig {
            headers,
            ..FetcherConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, FetchError::Config { .. }), "{k:?}: {err}");
    }
}

#[tokio::test]
async fn retry_after_is_parsed_from_responses() {
    let server = serve(handler(|req| async move {
        match req.uri().path() {
            "/busy" => response(503, &[("retry-after", "7")], "busy"),
            "/limited" => response(429, &[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")], ""),
            "/bad" => response(503, &[("retry-after", "later")], ""),
            _ => response(200, &[], "ok"),
        }
    }))
    .await;
    let f = fetcher_with(|_| {});
    let busy = f.fetch(&server.url("/busy")).await.unwrap();
    assert_eq!(busy.status, 503);
    assert!(trawl_fetcher::status_is_retryable(busy.status));
    assert_eq!(busy.retry_after, Some(Duration::from_secs(7)));
    let limited = f.fetch(&server.url("/limited")).await.unwrap();
    assert_eq!(limited.retry_after, Some(Duration::ZERO));
    assert_eq!(
        f.fetch(&server.url("/bad")).await.unwrap().retry_after,
        None
    );
    assert_eq!(f.fetch(&server.url("/ok")).await.unwrap().retry_after, None);
}

#[tokio::test]
async fn crawl_delay_is_capped_by_max_crawl_delay() {
    let server = serve(handler(|_| async {
        response(
            200,
            &[],
            "User-agent: *\nCrawl-delay: 3600\nDisallow: /private\n",
        )
    }))
    .await;
    let f = fetcher_with(|c| c.max_crawl_delay = Duration::from_secs(30));
    assert_eq!(
        f.robots(&server.url("/page")).await,
        RobotsVerdict::Allowed {
            crawl_delay: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(
        f.robots(&server.url("/private/x")).await,
        RobotsVerdict::Disallowed
    );
    let uncapped = fetcher_with(|c| c.max_crawl_delay = Duration::from_secs(7200));
    assert_eq!(
        uncapped.robots(&server.url("/page")).await,
        RobotsVerdict::Allowed {
            crawl_delay: Some(Duration::from_secs(3600))
        }
    );
}

/// A robots.txt past the 512 KiB the fetcher reads is cut there, not refused: rules before the
/// cut apply, rules after it are never seen (a refused file would disallow everything).
#[tokio::test]
async fn oversized_robots_txt_is_truncated_not_refused() {
    let mut robots = String::from("User-agent: *\nDisallow: /private\n");
    while robots.len() <= trawl_fetcher::ROBOTS_MAX_BYTES as usize + 64 * 1024 {
        robots.push_str("# padding to push the next rule past the read limit\n");
    }
    robots.push_str("Disallow: /late\n");
    let server = serve(handler(move |_| {
        let robots = robots.clone();
        async move { response(200, &[], robots) }
    }))
    .await;
    let f = fetcher_with(|_| {});
    assert_eq!(
        f.robots(&server.url("/private/x")).await,
        RobotsVerdict::Disallowed
    );
    assert!(f.robots(&server.url("/late/x")).await.is_allowed());
    assert!(f.robots(&server.url("/page")).await.is_allowed());
}
