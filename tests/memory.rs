//! Memory bounds that cannot flake: through the real engine, the frontier never holds more queued
//! jobs in RAM than its per-host window allows (the rest stay in the store and are paged in), and
//! the crawl still reaches every page.

use trawl::{Config, Crawl};
use trawl_testsite::{SiteSpec, TestSite};

use crate::support::page_requests;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontier_memory_stays_within_its_window_and_nothing_is_lost() {
    let hosts = 2;
    let window = 16;
    let site = TestSite::start(SiteSpec {
        pages: 3_000,
        hosts,
        links_per_page: 12,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.crawl.seeds = vec![site.seed_url()];
    config.crawl.store_dir = dir.path().join("window.trawl");
    config.crawl.concurrency = 8;
    config.frontier.per_host = 4;
    config.frontier.window = window;

    let mut run = Crawl::new(config).await.unwrap().start();
    let live = run.live();
    let (mut pages, mut most_in_memory) = (0u64, 0u64);
    while run.next_page().await.is_some() {
        pages += 1;
        most_in_memory = most_in_memory.max(live.queued());
        assert!(
            live.queued() <= (window * hosts) as u64,
            "{} jobs in RAM with a window of {window} per host",
            live.queued()
        );
    }
    let summary = run.finish().await.unwrap();
    assert_eq!(summary.pages, pages);
    assert!(most_in_memory > 0, "the frontier held jobs");
    // Thousands of URLs were queued at once; the window held a few dozen, the store the rest.
    let expected = site
        .graph()
        .reachable(&site.seed_url(), None, true, &|_| true);
    assert!(expected.len() > 20 * window * hosts);
    assert_eq!(
        page_requests(&site).len(),
        expected.len(),
        "every reachable page, paged back in"
    );
    assert!(page_requests(&site).values().all(|n| *n == 1));
}

/// A crawl whose caller does not want bodies on the page stream (the CLI) frees each body once it
/// is parsed and encoded: the stream's pages come without one, yet the store keeps every body,
/// of the size the page reports. By default the stream carries them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_without_bodies_on_the_stream_still_have_every_body_stored() {
    let site = TestSite::start(SiteSpec {
        pages: 200,
        hosts: 1,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    for with_bodies in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.crawl.seeds = vec![site.seed_url()];
        config.crawl.store_dir = dir.path().join("bodies.trawl");
        let crawl = Crawl::new(config).await.unwrap();
        let crawl = if with_bodies {
            crawl
        } else {
            crawl.without_page_bodies()
        };
        let mut run = crawl.start();
        let mut sizes = Vec::new();
        while let Some(page) = run.next_page().await {
            if page.status == Some(200) {
                assert!(page.body_size > 0, "{}", page.url);
                let expected_len = if with_bodies { page.body_size } else { 0 };
                assert_eq!(page.body.len() as u64, expected_len, "{}", page.url);
                sizes.push((page.url.to_string(), page.body_size));
            }
        }
        run.finish().await.unwrap();
        assert!(sizes.len() >= 200, "{} pages", sizes.len());

        let store = trawl_store::Store::open(
            &dir.path().join("bodies.trawl"),
            &trawl_store::StoreConfig::default(),
        )
        .unwrap();
        for (url, size) in sizes {
            let record = store.url(&url).unwrap().unwrap();
            let pointer = record.page.and_then(|page| page.body).unwrap();
            assert_eq!(
                store.read_body(&pointer).unwrap().len() as u64,
                size,
                "{url}"
            );
        }
    }
}
