//! Polite and hardened fetching through the `trawl` binary against scripted local servers:
//! robots.txt, Crawl-delay, Retry-After, retries with backoff, timeouts, bombs, broken servers,
//! redirect chains, and `stats --hosts`.

use std::time::{Duration, Instant};

use crate::support::fixture::{Behaviour, Fixture, Route};
use crate::support::{by_url, crawl_fresh, export, store_path, trawl_ok};

/// Writes a config file with fast backoff settings (and `extra` TOML lines) and returns its path.
fn fast_config(dir: &tempfile::TempDir, extra: &str) -> String {
    let path = dir.path().join("fast.toml");
    let text = format!(
        "[frontier]\nretry_base_delay = \"200ms\"\nretry_max_delay = \"5s\"\nbreaker_pause = \"300ms\"\n{extra}\n"
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn links(paths: &[&str]) -> String {
    paths
        .iter()
        .map(|p| format!("<a href=\"{p}\">{p}</a>\n"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disallowed_path_is_never_requested_and_a_404_robots_allows_all() {
    let site = Fixture::start(vec![
        (
            "/robots.txt",
            Route::text("User-agent: *\nDisallow: /secret\nAllow: /secret/open\n"),
        ),
        (
            "/",
            Route::html(links(&["/secret/a", "/secret/open/b", "/public"])),
        ),
        ("/secret/a", Route::html("hidden")),
        ("/secret/open/b", Route::html("open")),
        ("/public", Route::html("public")),
    ])
    .await;
    let (_dir, store) = crawl_fresh(&[&format!("{}/", site.base()), "--quiet"]).await;
    assert_eq!(
        site.hits("127.0.0.1/secret/a"),
        0,
        "robots.txt disallows it"
    );
    assert_eq!(
        site.hits("127.0.0.1/secret/open/b"),
        1,
        "the longer Allow wins"
    );
    assert_eq!(site.hits("127.0.0.1/public"), 1);
    let pages = by_url(&export(&store).await);
    assert_eq!(
        pages[&format!("{}/secret/a", site.base())]["error_kind"],
        "robots_disallowed"
    );

    let open = Fixture::start(vec![
        ("/", Route::html(links(&["/a"]))),
        ("/a", Route::html("a")),
    ])
    .await;
    let (_dir, _store) = crawl_fresh(&[&format!("{}/", open.base()), "--quiet"]).await;
    assert_eq!(open.hits("127.0.0.1/robots.txt"), 1);
    assert_eq!(
        open.hits("127.0.0.1/a"),
        1,
        "a 404 robots.txt allows everything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robots_txt_answering_503_stops_all_fetching_on_that_host() {
    let site = Fixture::start(vec![
        ("/robots.txt", Route::status(503)),
        ("/", Route::html(links(&["/a"]))),
        ("/a", Route::html("a")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let config = fast_config(&dir, "");
    trawl_ok(&[
        "crawl",
        &format!("{}/", site.base()),
        "--store",
        store.to_str().unwrap(),
        "--config",
        &config,
        "--quiet",
    ])
    .await;
    assert_eq!(
        site.hits("127.0.0.1/"),
        0,
        "no page is fetched while robots.txt fails"
    );
    assert!(site.hits("127.0.0.1/robots.txt") >= 1);
    let pages = by_url(&export(&store).await);
    let seed = &pages[&format!("{}/", site.base())];
    assert_eq!(seed["state"], "failed");
    assert_eq!(seed["error_kind"], "robots_unreachable", "{seed}");
    assert!(
        seed["error"].as_str().unwrap().contains("robots.txt"),
        "{seed}"
    );
    assert_eq!(seed["attempts"], 3, "tried, then retried twice: {seed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_delay_spaces_the_requests_the_server_sees() {
    let pages: Vec<String> = (0..5).map(|i| format!("/p{i}")).collect();
    let page_refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let mut routes = vec![
        (
            "/robots.txt",
            Route::text("User-agent: *\nCrawl-delay: 1\n"),
        ),
        ("/", Route::html(links(&page_refs))),
    ];
    for path in &page_refs {
        routes.push((path, Route::html("x")));
    }
    let site = Fixture::start(routes).await;
    let (_dir, _store) =
        crawl_fresh(&[&format!("{}/", site.base()), "--per-host", "4", "--quiet"]).await;
    let mut times = site.times_under("/p");
    times.extend(site.times("127.0.0.1/"));
    times.sort();
    assert_eq!(times.len(), 6);
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(950),
            "requests {gap:?} apart despite Crawl-delay: 1"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_obeyed_and_retries_wait_longer_each_time() {
    // Retry-After throttles a whole host, so the always-failing page lives on a second server.
    let other = Fixture::start(vec![("/broken", Route::status(500))]).await;
    let broken_url = format!("{}/broken", other.base());
    let site = Fixture::start(vec![
        ("/", Route::html(links(&["/busy", &broken_url]))),
        (
            "/busy",
            Route::behaving(Behaviour::Sequence(vec![
                Route::status(503).with_header("retry-after", "2"),
                Route::html("fine now"),
            ])),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let config = fast_config(&dir, "retries = 3\nbreaker_threshold = 0");
    trawl_ok(&[
        "crawl",
        &format!("{}/", site.base()),
        "--store",
        store.to_str().unwrap(),
        "--config",
        &config,
        "--quiet",
    ])
    .await;

    let busy = site.times("127.0.0.1/busy");
    assert_eq!(busy.len(), 2);
    assert!(
        busy[1] - busy[0] >= Duration::from_millis(1950),
        "Retry-After: 2 waited {:?}",
        busy[1] - busy[0]
    );

    let broken = other.times("127.0.0.1/broken");
    assert_eq!(broken.len(), 4, "one try and three retries");
    let gaps: Vec<Duration> = broken.windows(2).map(|w| w[1] - w[0]).collect();
    for (n, gap) in gaps.iter().enumerate() {
        let floor = Duration::from_millis(200 * (1 << n) - 20);
        assert!(
            *gap >= floor,
            "retry {n} after {gap:?}, below the backoff floor {floor:?}"
        );
    }
    assert!(gaps.windows(2).all(|w| w[1] >= w[0]), "gaps grow: {gaps:?}");
    let pages = by_url(&export(&store).await);
    let broken = &pages[&broken_url];
    assert_eq!(
        (broken["status"].as_u64(), broken["attempts"].as_u64()),
        (Some(500), Some(4))
    );
    assert_eq!(pages[&format!("{}/busy", site.base())]["status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_and_silent_servers_end_at_their_timeouts_and_broken_bodies_are_recorded() {
    let site = Fixture::start(vec![
        ("/", Route::html(links(&["/trickle", "/silent", "/cut"]))),
        (
            "/trickle",
            Route::behaving(Behaviour::Trickle(Duration::from_secs(1))),
        ),
        ("/silent", Route::behaving(Behaviour::Hang)),
        ("/cut", Route::behaving(Behaviour::CloseMidBody)),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let config = fast_config(
        &dir,
        "retries = 0\n[fetcher]\nresponse_timeout = \"1s\"\nbody_idle_timeout = \"500ms\"\nrequest_timeout = \"4s\"",
    );
    let started = Instant::now();
    trawl_ok(&[
        "crawl",
        &format!("{}/", site.base()),
        "--store",
        store.to_str().unwrap(),
        "--config",
        &config,
        "--quiet",
    ])
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the crawl ends despite hostile servers"
    );
    let pages = by_url(&export(&store).await);
    let failure = |path: &str| {
        let page = &pages[&format!("{}{path}", site.base())];
        assert_eq!(page["state"], "failed", "{path}: {page}");
        (
            page["error_kind"].as_str().unwrap().to_string(),
            page["error"].as_str().unwrap().to_string(),
        )
    };
    let (kind, message) = failure("/trickle");
    assert_eq!(kind, "timeout");
    assert!(message.contains("body_idle"), "{message}");
    let (kind, message) = failure("/silent");
    assert_eq!(kind, "timeout");
    assert!(message.contains("response"), "{message}");
    let (kind, _) = failure("/cut");
    assert_eq!(
        kind, "http",
        "a connection closed mid-body is an HTTP error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_cut_off_with_memory_bounded() {
    let site = Fixture::start(vec![
        ("/", Route::html(links(&["/bomb", "/small"]))),
        ("/bomb", Route::behaving(Behaviour::GzipBomb(1 << 30))),
        ("/small", Route::html("small")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let output = trawl_ok(&[
        "crawl",
        &format!("{}/", site.base()),
        "--store",
        store.to_str().unwrap(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let pages = by_url(&export(&store).await);
    let bomb = &pages[&format!("{}/bomb", site.base())];
    assert_eq!(bomb["state"], "failed");
    assert_eq!(bomb["error_kind"], "too_large", "{bomb}");
    assert_eq!(
        pages[&format!("{}/small", site.base())]["state"],
        "done",
        "the crawl went on"
    );

    // Peak RSS of the whole crawl, as its summary reports it, against a crawl without the bomb.
    let peak = peak_rss_mib(&stderr);
    let calm = Fixture::start(vec![
        ("/", Route::html(links(&["/small"]))),
        ("/small", Route::html("small")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let output = trawl_ok(&[
        "crawl",
        &format!("{}/", calm.base()),
        "--store",
        store.to_str().unwrap(),
    ])
    .await;
    let baseline = peak_rss_mib(&String::from_utf8_lossy(&output.stderr));
    assert!(
        peak < baseline + 100.0,
        "peak RSS {peak:.1} MiB vs {baseline:.1} MiB without the bomb"
    );
}

fn peak_rss_mib(summary: &str) -> f64 {
    let line = summary
        .lines()
        .find(|line| line.contains("peak memory"))
        .unwrap_or_else(|| panic!("no peak memory line in {summary}"));
    let number = line
        .split_whitespace()
        .find_map(|word| word.parse::<f64>().ok())
        .unwrap();
    if line.contains("GiB") {
        number * 1024.0
    } else if line.contains("KiB") {
        number / 1024.0
    } else {
        number
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thirty_hop_redirect_chain_ends_at_the_limit() {
    let mut routes = vec![("/".to_string(), Route::html(links(&["/r/0"])))];
    for hop in 0..30 {
        routes.push((
            format!("/r/{hop}"),
            Route::redirect(302, format!("/r/{}", hop + 1)),
        ));
    }
    routes.push(("/r/30".to_string(), Route::html("end")));
    let site = Fixture::start(
        routes
            .iter()
            .map(|(p, r)| (p.as_str(), r.clone()))
            .collect(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let output = trawl_ok(&[
        "crawl",
        &format!("{}/", site.base()),
        "--store",
        store.to_str().unwrap(),
    ])
    .await;
    for hop in 0..=10 {
        assert_eq!(
            site.hits(&format!("127.0.0.1/r/{hop}")),
            1,
            "hop {hop} is followed"
        );
    }
    assert_eq!(
        site.hits("127.0.0.1/r/11"),
        0,
        "--max-redirects 10 stops the chain"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("too_many_redirects: 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_hosts_shows_what_each_host_saw() {
    let site = Fixture::start(vec![
        (
            "/robots.txt",
            Route::text("User-agent: *\nDisallow: /no\nCrawl-delay: 0.2\n"),
        ),
        ("/", Route::html(links(&["/a", "/b", "/no", "/err"]))),
        ("/a", Route::html("a")),
        ("/b", Route::html("b")),
        ("/err", Route::status(500)),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let config = fast_config(&dir, "retries = 1\nbreaker_threshold = 0");
    trawl_ok(&[
        "crawl",
        &format!("{}/", site.base()),
        "--store",
        store.to_str().unwrap(),
        "--config",
        &config,
        "--quiet",
    ])
    .await;
    let output = trawl_ok(&["stats", "--store", store.to_str().unwrap(), "--hosts"]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    let row = text
        .lines()
        .find(|line| line.contains(&format!("127.0.0.1:{}", site.port)))
        .unwrap_or_else(|| panic!("no row for the host in:\n{text}"));
    let numbers: Vec<&str> = row.split_whitespace().skip(1).collect();
    // host, requests, errors, retries, robots-blocked, delay, max rate
    assert_eq!(&numbers[..4], ["5", "2", "1", "1"], "{text}");
    assert_eq!(numbers[4], "200ms", "{text}");
    assert!(numbers[5].parse::<f64>().unwrap() >= 1.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_keeps_failing_is_given_up_and_the_crawl_goes_on() {
    // A port nothing listens on: every connection is refused.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead: Vec<String> = (0..12)
        .map(|i| format!("http://127.0.0.1:{dead_port}/page/{i}"))
        .collect();
    let mut paths: Vec<&str> = dead.iter().map(String::as_str).collect();
    paths.push("/alive");
    let site = Fixture::start(vec![
        ("/", Route::html(links(&paths))),
        ("/alive", Route::html("alive")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let config = fast_config(
        &dir,
        "retries = 0\nbreaker_threshold = 2\nbreaker_trips = 2",
    );
    trawl_ok(&[
        "crawl",
        &format!("{}/", site.base()),
        "--store",
        store.to_str().unwrap(),
        "--config",
        &config,
        "--quiet",
    ])
    .await;
    let pages = by_url(&export(&store).await);
    assert_eq!(
        pages[&format!("{}/alive", site.base())]["state"],
        "done",
        "the other host went on"
    );
    let kinds: Vec<&str> = dead
        .iter()
        .map(|url| pages[url]["error_kind"].as_str().unwrap())
        .collect();
    // Its robots.txt cannot be fetched either, so the first failures say so.
    assert!(
        kinds
            .iter()
            .all(|k| *k == "robots_unreachable" || *k == "host_unreachable"),
        "{kinds:?}"
    );
    let given_up = kinds.iter().filter(|k| **k == "host_unreachable").count();
    assert!(
        given_up >= 6,
        "after 2 trips of 2 failures the rest are given up: {kinds:?}"
    );
    assert!(pages.values().all(|p| p["state"] != "queued"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_host_rate_limit_spaces_requests_without_holding_workers() {
    let pages: Vec<String> = (0..4).map(|i| format!("/r{i}")).collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let mut routes = vec![("/", Route::html(links(&refs)))];
    for path in &refs {
        routes.push((path, Route::html("x")));
    }
    let limited = Fixture::start(routes).await;
    let other = Fixture::start(vec![("/", Route::html("other"))]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let config = dir.path().join("rate.toml");
    std::fs::write(&config, "[fetcher]\nrequests_per_second = 4.0\n").unwrap();
    let seeds = [format!("{}/", limited.base()), format!("{}/", other.base())];
    trawl_ok(&[
        "crawl",
        &seeds[0],
        &seeds[1],
        "--store",
        store.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--per-host",
        "4",
        "--concurrency",
        "1",
        "--quiet",
    ])
    .await;
    let mut times = limited.times_under("/r");
    times.extend(limited.times("127.0.0.1/"));
    times.sort();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(240),
            "{:?} apart at 4 req/s",
            pair[1] - pair[0]
        );
    }
    // With one worker, the other host was still served while the limited one waited.
    assert_eq!(other.hits("127.0.0.1/"), 1);
    let other_time = other.times("127.0.0.1/")[0];
    assert!(
        other_time < *times.last().unwrap(),
        "the waiting host did not hold the only worker"
    );
}
