//! End-to-end crawls of trawl-testsite with the `trawl` binary: exactly the reachable in-scope
//! pages, each fetched once and exported once with the right status and depth.

use std::time::Duration;

use trawl_testsite::{Resource, SiteSpec, TestSite};

use crate::support::{by_url, crawl_fresh, export, page_requests, store_path, trawl_ok};

/// The status the site answers a URL with.
fn expected_status(site: &TestSite, url: &str) -> u64 {
    match site.graph().resolve(url) {
        Some(Resource::Page(_)) | Some(Resource::Private) => 200,
        Some(Resource::Missing) => 404,
        Some(Resource::Redirect { .. }) => 301,
        Some(Resource::Robots) => 200,
        None => panic!("{url} is not on the site"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawls_exactly_the_reachable_pages_of_a_multi_host_site_once_each() {
    let site = TestSite::start(SiteSpec {
        pages: 2_000,
        hosts: 3,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let (_dir, store) = crawl_fresh(&[&site.seed_url(), "--quiet"]).await;

    let expected = site
        .graph()
        .reachable(&site.seed_url(), None, true, &|_| true);
    assert!(
        expected.len() > 2_000,
        "the site has pages, 404s and redirects: {}",
        expected.len()
    );

    // The server saw each reachable URL exactly once and nothing else but robots.txt.
    let requests = page_requests(&site);
    let unexpected: Vec<_> = requests
        .keys()
        .filter(|url| !expected.contains_key(*url))
        .collect();
    assert!(
        unexpected.is_empty(),
        "fetched outside the reachable set: {unexpected:?}"
    );
    let twice: Vec<_> = requests.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "fetched more than once: {twice:?}");
    assert_eq!(
        requests.len(),
        expected.len(),
        "every reachable URL was fetched"
    );
    for host in 0..3 {
        let robots = format!("{}/robots.txt", site.base_url(host));
        assert_eq!(
            site.requests(&robots),
            1,
            "robots.txt of host {host} fetched once"
        );
    }
    assert!(
        !requests.keys().any(|url| url.contains("/private/")),
        "robots.txt disallows /private/"
    );

    // The export lists each exactly once, with the right status and depth; the URLs robots.txt
    // forbids are there too, as failures that say why, and were never requested.
    let pages = by_url(&export(&store).await);
    let known = site
        .graph()
        .reachable(&site.seed_url(), None, false, &|_| true);
    let blocked: Vec<&String> = known
        .keys()
        .filter(|url| !expected.contains_key(*url))
        .collect();
    assert!(!blocked.is_empty() && blocked.iter().all(|url| url.contains("/private/")));
    assert_eq!(pages.len(), known.len());
    for url in blocked {
        assert_eq!(pages[url]["state"], "failed", "{url}");
        assert_eq!(pages[url]["error_kind"], "robots_disallowed", "{url}");
    }
    // Depth is that of the path trawl first found a URL by: with many fetches in flight the crawl
    // is not strictly breadth-first, so it can exceed the shortest path, never undercut it, and it
    // always follows from the page the URL was found on.
    let mut deeper_than_shortest = 0;
    for (url, shortest) in &expected {
        let page = pages
            .get(url)
            .unwrap_or_else(|| panic!("{url} not exported"));
        assert_eq!(
            page["status"].as_u64(),
            Some(expected_status(&site, url)),
            "{url}"
        );
        assert_eq!(page["state"], "done", "{url}");
        let depth = page["depth"].as_u64().unwrap();
        assert!(
            depth >= u64::from(*shortest),
            "{url} at depth {depth}, shorter than possible"
        );
        deeper_than_shortest += u64::from(depth > u64::from(*shortest));
        match page["found_on"].as_str() {
            None => assert_eq!((url.as_str(), depth), (site.seed_url().as_str(), 0)),
            Some(parent) => {
                let parent = &pages[parent];
                let step = if parent["status"].as_u64().unwrap() / 100 == 3 {
                    0
                } else {
                    1
                };
                assert_eq!(
                    depth,
                    parent["depth"].as_u64().unwrap() + step,
                    "{url} found on {parent}"
                );
            }
        }
    }
    eprintln!(
        "deeper than shortest: {deeper_than_shortest} of {}",
        expected.len()
    );
    assert!(
        deeper_than_shortest * 20 < expected.len() as u64,
        "mostly breadth-first: {deeper_than_shortest}"
    );
    let seed = &pages[&site.seed_url()];
    assert_eq!(seed["title"], "Page 0");
    assert!(seed["body_size"].as_u64().unwrap() > 1_000);
    assert!(seed["found_on"].is_null());
    assert_eq!(seed["etag"], "\"p0\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_limit_stops_at_the_given_depth() {
    let site = TestSite::start(SiteSpec {
        pages: 400,
        hosts: 2,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let seed = site.seed_url();
    trawl_ok(&[
        "crawl",
        &seed,
        "--store",
        store.to_str().unwrap(),
        "--max-depth",
        "1",
        "--quiet",
    ])
    .await;

    let expected = site.graph().reachable(&seed, Some(1), true, &|_| true);
    let unlimited = site.graph().reachable(&seed, None, true, &|_| true);
    assert!(
        expected.len() < unlimited.len(),
        "the limit must cut the site"
    );
    let requests = page_requests(&site);
    assert_eq!(
        requests.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    let pages = export(&store).await;
    assert!(pages.iter().all(|p| p["depth"].as_u64().unwrap() <= 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_limit_fetches_exactly_that_many_pages() {
    let site = TestSite::start(SiteSpec {
        pages: 500,
        hosts: 2,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let (_dir, store) = crawl_fresh(&[&site.seed_url(), "--max-pages", "37", "--quiet"]).await;
    let requests: u64 = page_requests(&site).values().sum();
    assert_eq!(requests, 37);
    assert_eq!(export(&store).await.len(), 37);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_never_exceed_concurrency_while_pages_are_stored() {
    // One host with its own cap lifted: only --concurrency bounds what the server sees, also
    // while fetched pages wait for the commit with their request slots already freed.
    let site = TestSite::start(SiteSpec {
        pages: 150,
        hosts: 1,
        latency: Duration::from_millis(20),
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let (_dir, _store) = crawl_fresh(&[
        &site.seed_url(),
        "--per-host",
        "64",
        "--concurrency",
        "5",
        "--quiet",
    ])
    .await;
    let most = site.max_in_flight(0);
    assert!(
        most <= 5,
        "the server saw {most} requests in flight with --concurrency 5"
    );
    assert_eq!(most, 5, "the cap is used, not undercut");
    let expected = site
        .graph()
        .reachable(&site.seed_url(), None, true, &|_| true);
    assert_eq!(page_requests(&site).len(), expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_in_flight_never_exceeds_the_cap() {
    let site = TestSite::start(SiteSpec {
        pages: 120,
        hosts: 2,
        latency: Duration::from_millis(20),
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let (_dir, _store) = crawl_fresh(&[
        &site.seed_url(),
        "--per-host",
        "3",
        "--concurrency",
        "32",
        "--quiet",
    ])
    .await;
    let most = (0..2).map(|host| site.max_in_flight(host)).max().unwrap();
    assert!(
        most <= 3,
        "a host saw {most} requests in flight with --per-host 3"
    );
    assert_eq!(
        most, 3,
        "the cap is used, not undercut (the site has enough pages)"
    );
    let expected = site
        .graph()
        .reachable(&site.seed_url(), None, true, &|_| true);
    assert_eq!(page_requests(&site).len(), expected.len());
}
