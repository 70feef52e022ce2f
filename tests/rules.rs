//! Scope and include/exclude rules, each shown to change what is fetched.

use trawl_testsite::{SiteSpec, TestSite};

use crate::support::fixture::{Fixture, Route};
use crate::support::{crawl_fresh, export, page_requests, store_path, trawl_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclude_and_include_patterns_filter_discovered_urls() {
    let site = TestSite::start(SiteSpec {
        pages: 300,
        hosts: 1,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let seed = site.seed_url();
    let excluded = regex::Regex::new(r"/p/\d*7$").unwrap();

    let (_dir, _store) = crawl_fresh(&[&seed, "--exclude", r"/p/\d*7$", "--quiet"]).await;
    let expected = site
        .graph()
        .reachable(&seed, None, true, &|url| !excluded.is_match(url));
    let fetched = page_requests(&site);
    assert!(
        fetched.keys().all(|url| !excluded.is_match(url)),
        "an excluded URL was fetched"
    );
    assert_eq!(
        fetched.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );

    // Include: only /p/ pages whose number is even (the seed itself is always fetched).
    let site = TestSite::start(SiteSpec {
        pages: 300,
        hosts: 1,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let seed = site.seed_url();
    let included = regex::Regex::new(r"/p/\d*[02468]$").unwrap();
    let (_dir, store) = crawl_fresh(&[&seed, "--include", r"/p/\d*[02468]$", "--quiet"]).await;
    let expected = site.graph().reachable(&seed, None, true, &|url| {
        url == seed || included.is_match(url)
    });
    let fetched = page_requests(&site);
    assert!(
        fetched.len() > 1,
        "some even pages are linked from the seed"
    );
    assert!(fetched
        .keys()
        .all(|url| *url == seed || included.is_match(url)));
    assert_eq!(
        fetched.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert_eq!(export(&store).await.len(), expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_scope_keeps_to_the_seed_host_and_any_scope_leaves_it() {
    for (scope, expect_other) in [("host", 0), ("any", 1)] {
        // The seed page links to a second server under two host names.
        let other = Fixture::start(vec![(
            "/elsewhere",
            Route::html("<title>elsewhere</title>"),
        )])
        .await;
        let seed_page = format!(
            r#"<html><head><title>seed</title></head><body>
               <a href="http://localhost:{p}/elsewhere">other host name</a>
               <a href="http://127.0.0.1:{p}/elsewhere">same host name, other port</a>
               </body></html>"#,
            p = other.port
        );
        let main = Fixture::start(vec![("/", Route::html(seed_page))]).await;
        let dir = tempfile::tempdir().unwrap();
        let store = store_path(&dir);
        let seed = format!("http://127.0.0.1:{}/", main.port);
        trawl_ok(&[
            "crawl",
            &seed,
            "--store",
            store.to_str().unwrap(),
            "--scope",
            scope,
            "--quiet",
        ])
        .await;
        assert_eq!(
            other.hits("127.0.0.1/elsewhere"),
            1,
            "{scope}: same host name, any port is in scope"
        );
        assert_eq!(
            other.hits("localhost/elsewhere"),
            expect_other,
            "{scope}: another host name"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_queued_as_discovered_urls_and_loops_end() {
    let main = Fixture::start(vec![
        (
            "/",
            Route::html(r#"<a href="/loop-a">loop</a> <a href="/moved">moved</a>"#),
        ),
        ("/loop-a", Route::redirect(302, "/loop-b")),
        ("/loop-b", Route::redirect(302, "/loop-a")),
        ("/moved", Route::redirect(301, "/target")),
        ("/target", Route::html("<title>target</title>")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let seed = format!("http://127.0.0.1:{}/", main.port);
    trawl_ok(&[
        "crawl",
        &seed,
        "--store",
        store.to_str().unwrap(),
        "--quiet",
    ])
    .await;
    for path in ["/", "/loop-a", "/loop-b", "/moved", "/target"] {
        assert_eq!(
            main.hits(&format!("127.0.0.1{path}")),
            1,
            "{path} fetched once"
        );
    }
    let pages = crate::support::by_url(&export(&store).await);
    let moved = &pages[&format!("{seed}moved")];
    assert_eq!(moved["status"], 301);
    assert_eq!(moved["redirect_to"], format!("{seed}target"));
    let target = &pages[&format!("{seed}target")];
    assert_eq!(
        target["depth"], 1,
        "a redirect target keeps its source's depth"
    );
    assert_eq!(target["title"], "target");
}
