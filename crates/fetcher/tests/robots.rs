//! robots.txt: rules obeyed for our agent token, 4xx allows, 5xx/unreachable disallows,
//! redirects followed, single fetch per host under concurrency, Crawl-delay and Sitemap parsed.

mod common;

use std::time::Duration;

use common::*;
use trawl_fetcher::{Fetcher, FetcherConfig, RobotsVerdict};

fn fetcher() -> Fetcher {
    Fetcher::new(FetcherConfig::default()).unwrap()
}

async fn robots_server(status: u16, body: &'static str) -> TestServer {
    serve(handler(move |req| async move {
        match req.uri().path() {
            "/robots.txt" => response(status, &[("content-type", "text/plain")], body),
            "/moved-robots.txt" => response(200, &[], "User-agent: *\nDisallow: /moved-secret\n"),
            _ => response(200, &[], "page"),
        }
    }))
    .await
}

#[tokio::test]
async fn disallow_rules_crawl_delay_and_sitemaps() {
    let server = robots_server(
        200,
        "User-agent: *\nDisallow: /private\nCrawl-delay: 2\nSitemap: /sitemap.xml\nSitemap: https://example.com/s2.xml\n",
    )
    .await;
    let f = fetcher();
    assert_eq!(
        f.robots(&server.url("/private/page")).await,
        RobotsVerdict::Disallowed
    );
    assert_eq!(
        f.robots(&server.url("/public?q=1")).await,
        RobotsVerdict::Allowed {
            crawl_delay: Some(Duration::from_secs(2))
        }
    );
    assert_eq!(
        f.sitemaps(&server.url("/")),
        vec![
            server.url("/sitemap.xml"),
            url::Url::parse("https://example.com/s2.xml").unwrap()
        ]
    );
    assert_eq!(server.hits("/robots.txt"), 1);
}

#[tokio::test]
async fn agent_specific_group_uses_product_token() {
    let server = robots_server(
        200,
        "User-agent: trawl\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
    )
    .await;
    assert_eq!(
        fetcher().robots(&server.url("/anything")).await,
        RobotsVerdict::Disallowed
    );
    let other = Fetcher::new(FetcherConfig {
        user_agent: "otherbot/1.0".into(),
        ..FetcherConfig::default()
    })
    .unwrap();
    assert!(other.robots(&server.url("/anything")).await.is_allowed());
}

#[tokio::test]
async fn missing_robots_allows_all() {
    let server = robots_server(404, "not found").await;
    assert_eq!(
        fetcher().robots(&server.url("/private")).await,
        RobotsVerdict::Allowed { crawl_delay: None }
    );
}

#[tokio::test]
async fn server_error_robots_is_unreachable() {
    let server = robots_server(503, "busy").await;
    let v = fetcher().robots(&server.url("/page")).await;
    assert!(
        matches!(&v, RobotsVerdict::Unreachable { reason } if reason.contains("503")),
        "{v:?}"
    );
}

#[tokio::test]
async fn network_error_robots_is_unreachable() {
    let addr = refused_addr().await;
    let url = url::Url::parse(&format!("http://{addr}/page")).unwrap();
    assert!(matches!(
        fetcher().robots(&url).await,
        RobotsVerdict::Unreachable { .. }
    ));
}

#[tokio::test]
async fn robots_redirect_is_followed() {
    let server = serve(handler(|req| async move {
        match req.uri().path() {
            "/robots.txt" => response(301, &[("location", "/moved-robots.txt")], ""),
            "/moved-robots.txt" => response(200, &[], "User-agent: *\nDisallow: /moved-secret\n"),
            _ => response(200, &[], "page"),
        }
    }))
    .await;
    let f = fetcher();
    assert_eq!(
        f.robots(&server.url("/moved-secret")).await,
        RobotsVerdict::Disallowed
    );
    assert!(f.robots(&server.url("/ok")).await.is_allowed());
    assert_eq!(server.hits("/moved-robots.txt"), 1);
}

#[tokio::test]
async fn redirect_loop_gives_up_after_five_hops_and_allows() {
    let server = serve(handler(|_| async {
        response(302, &[("location", "/robots.txt")], "")
    }))
    .await;
    let f = fetcher();
    assert!(f.robots(&server.url("/x")).await.is_allowed());
    assert_eq!(
        server.hits("/robots.txt"),
        6,
        "initial request + 5 redirect hops"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let server = robots_server(200, "User-agent: *\nDisallow: /no\n").await;
    let f = fetcher();
    let calls = (0..50).map(|i| {
        let f = f.clone();
        let url = server.url(if i % 2 == 0 { "/no/x" } else { "/yes" });
        async move { (i, f.robots(&url).await) }
    });
    for (i, verdict) in futures::future::join_all(calls).await {
        assert_eq!(verdict.is_allowed(), i % 2 == 1, "call {i}: {verdict:?}");
    }
    assert_eq!(server.hits("/robots.txt"), 1);
}

#[tokio::test]
async fn obey_robots_false_never_fetches() {
    let server = robots_server(200, "User-agent: *\nDisallow: /\n").await;
    let f = Fetcher::new(FetcherConfig {
        obey_robots: false,
        ..FetcherConfig::default()
    })
    .unwrap();
    assert_eq!(
        f.robots(&server.url("/anything")).await,
        RobotsVerdict::Allowed { crawl_delay: None }
    );
    assert_eq!(server.hits("/robots.txt"), 0);
}

#[tokio::test]
async fn hosts_are_cached_separately() {
    let a = robots_server(200, "User-agent: *\nDisallow: /\n").await;
    let b = robots_server(404, "").await;
    let f = fetcher();
    assert_eq!(f.robots(&a.url("/x")).await, RobotsVerdict::Disallowed);
    assert!(f.robots(&b.url("/x")).await.is_allowed());
    assert_eq!(a.hits("/robots.txt") + b.hits("/robots.txt"), 2);
}
