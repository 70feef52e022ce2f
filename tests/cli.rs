//! The command line's handling of bad input: exit code 2 and a one-line message naming the
//! problem; a store in use by another trawl process fails at once and leaves the first unharmed.

use std::time::{Duration, Instant};

use trawl_testsite::{SiteSpec, TestSite};

use crate::support::{export, page_requests, store_path, trawl, trawl_bin};

/// Asserts exit code 2 and one line on stderr containing every `needle`.
async fn assert_usage_error(args: &[&str], needles: &[&str]) {
    let output = trawl(args).await;
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "trawl {args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line for {args:?}: {stderr:?}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "trawl {args:?}: {stderr:?} lacks {needle:?}"
        );
    }
}

#[tokio::test]
async fn bad_seeds_flags_and_config_keys_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let store = store.to_str().unwrap();
    assert_usage_error(
        &["crawl", "not-a-url", "--store", store],
        &["not-a-url", "not a URL"],
    )
    .await;
    assert_usage_error(
        &["crawl", "ftp://example.org/", "--store", store],
        &["ftp", "http"],
    )
    .await;
    assert_usage_error(&["crawl", "--store", store], &["no seed"]).await;
    assert_usage_error(
        &[
            "crawl",
            "http://127.0.0.1:9/",
            "--store",
            store,
            "--frobnicate",
        ],
        &["--frobnicate"],
    )
    .await;
    assert_usage_error(
        &["crawl", "http://127.0.0.1:9/", "--concurrency", "lots"],
        &["lots"],
    )
    .await;
    assert_usage_error(
        &["crawl", "http://127.0.0.1:9/", "--scope", "planet"],
        &["planet"],
    )
    .await;
    assert_usage_error(
        &[
            "crawl",
            "http://127.0.0.1:9/",
            "--store",
            store,
            "--exclude",
            "(",
        ],
        &["exclude", "("],
    )
    .await;

    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[crawl]\nconcurrency = 4\nconcurency = 5\n").unwrap();
    assert_usage_error(
        &[
            "crawl",
            "http://127.0.0.1:9/",
            "--store",
            store,
            "--config",
            config.to_str().unwrap(),
        ],
        &["concurency", "line 3", "bad.toml"],
    )
    .await;

    // A store path below a regular file cannot be created.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let unwritable = file.join("store");
    assert_usage_error(
        &[
            "crawl",
            "http://127.0.0.1:9/",
            "--store",
            unwritable.to_str().unwrap(),
        ],
        &["a-file"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_in_use_fails_at_once_and_the_first_crawl_is_unharmed() {
    let site = TestSite::start(SiteSpec {
        pages: 30,
        latency: Duration::from_millis(100),
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let store_arg = store.to_str().unwrap().to_string();
    let first = tokio::process::Command::new(trawl_bin())
        .args([
            "crawl",
            &site.seed_url(),
            "--store",
            &store_arg,
            "--per-host",
            "1",
            "--quiet",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The first crawl holds the store once it has asked the site for anything.
    let deadline = Instant::now() + Duration::from_secs(30);
    while site.total_requests() == 0 {
        assert!(Instant::now() < deadline, "the first crawl never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let second = trawl(&["crawl", &site.seed_url(), "--store", &store_arg, "--quiet"]).await;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the second trawl must not hang"
    );

    let first = tokio::time::timeout(Duration::from_secs(120), first.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let expected = site
        .graph()
        .reachable(&site.seed_url(), None, true, &|_| true);
    assert_eq!(page_requests(&site).len(), expected.len());
    assert_eq!(export(&store).await.len(), expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_host_cap_above_the_idle_pool_is_warned_about() {
    let site = TestSite::start(SiteSpec {
        pages: 5,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (per_host, warned) in [("100", true), ("64", false)] {
        let store = dir.path().join(format!("per-host-{per_host}"));
        let output = trawl(&[
            "crawl",
            &site.seed_url(),
            "--store",
            store.to_str().unwrap(),
            "--concurrency",
            "100",
            "--per-host",
            per_host,
        ])
        .await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert_eq!(
            stderr.contains("pool_max_idle_per_host"),
            warned,
            "--per-host {per_host}: {stderr}"
        );
        if warned {
            assert!(
                stderr.contains("pool_max_idle_per_host (64) is below the 100 requests")
                    && stderr.contains("set pool_max_idle_per_host = 100"),
                "{stderr}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_its_scenarios_and_reports_json() {
    let output = crate::support::trawl_ok(&["bench", "flat", "--pages", "300", "--json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["scenario"], "flat");
    assert!(report["pages"].as_u64().unwrap() >= 300, "{report}");
    for key in [
        "pages_per_s",
        "mb_per_s",
        "p50_ms",
        "p99_ms",
        "cpu_s",
        "peak_rss_mb",
        "store_bytes_per_page",
    ] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key} in {report}"
        );
    }

    // `dir` serves real files: a small tree of linked pages.
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("sub")).unwrap();
    std::fs::write(
        site.join("index.html"),
        r#"<a href="a.html">a</a> <a href="sub/">sub</a>"#,
    )
    .unwrap();
    std::fs::write(
        site.join("a.html"),
        r#"<title>a</title><a href="index.html">home</a>"#,
    )
    .unwrap();
    std::fs::write(
        site.join("sub/index.html"),
        r#"<a href="../a.html">a</a> <a href="b.html">b</a>"#,
    )
    .unwrap();
    std::fs::write(site.join("sub/b.html"), "<title>b</title>").unwrap();
    let output =
        crate::support::trawl_ok(&["bench", "dir", site.to_str().unwrap(), "--json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["pages"], 4, "index, a, sub/ and sub/b: {report}");

    // `--config` applies: one link followed per page leaves index and a.
    let config = dir.path().join("one-link.toml");
    std::fs::write(&config, "[parser]\nmax_outlinks = 1\n").unwrap();
    let output = crate::support::trawl_ok(&[
        "bench",
        "dir",
        site.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--json",
    ])
    .await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["pages"], 2, "{report}");
    let missing = dir.path().join("missing.toml");
    let output =
        crate::support::trawl(&["bench", "flat", "--config", missing.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read config file"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = crate::support::trawl_ok(&[
        "bench", "resume", "--known", "2000", "--pages", "100", "--json",
    ])
    .await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["pages"], 100, "{report}");
    assert_eq!(report["known_urls"], 2000);
}

/// The resume scenario's store is built by `trawl bench-fill` in a process of its own (so the
/// bench measures the resumed crawl alone): every known URL queued, nothing fetched.
#[tokio::test]
async fn bench_fill_queues_the_known_urls_without_fetching() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("filled.trawl");
    let store_arg = store.to_str().unwrap();
    // Nothing listens on port 9 (discard): the build must not fetch anything.
    crate::support::trawl_ok(&[
        "bench-fill",
        "--base",
        "http://127.0.0.1:9",
        "--known",
        "50",
        "--store",
        store_arg,
        "--concurrency",
        "4",
    ])
    .await;
    let output = crate::support::trawl_ok(&["stats", "--store", store_arg]).await;
    let stats = String::from_utf8_lossy(&output.stdout);
    assert!(stats.contains("queued:  50"), "{stats}");
    assert!(stats.contains("done:    0"), "{stats}");
}
