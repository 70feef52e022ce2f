//! Crash safety: a crawl killed with SIGKILL at seeded random moments and resumed each time stores
//! every reachable page exactly once and re-fetches at most 1.25 x concurrency x kills pages (the
//! requests in flight plus the pages fetched and not yet committed); Ctrl-C exits
//! 130 and a resume re-fetches nothing that was committed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use trawl_testsite::{SiteSpec, TestSite};

use crate::support::{by_url, export, page_requests, store_path, trawl, trawl_bin, trawl_ok};

/// A small deterministic generator for the kill moments (splitmix64).
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

fn spawn_trawl(args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(trawl_bin())
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Waits until the site has answered `requests` page requests in all, or the child ended.
async fn wait_for_requests(
    site: &TestSite,
    child: &mut tokio::process::Child,
    requests: u64,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if page_requests(site).values().sum::<u64>() >= requests {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "the crawl made no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn assert_verify_clean(store: &str) {
    let output = trawl(&["verify", "--store", store]).await;
    assert!(
        output.status.success(),
        "verify found problems: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_stores_each_page_once() {
    let site = TestSite::start(SiteSpec {
        pages: 5_000,
        hosts: 2,
        latency: Duration::from_millis(1),
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let store = store.to_str().unwrap();
    let concurrency = 16u64;
    // --concurrency requests in flight, plus a quarter as many pages fetched and awaiting their
    // commit: what a kill can make trawl fetch again.
    let unfinished = concurrency + concurrency / 4;
    // Per-host caps alone would allow 32 in flight: the bound must come from --concurrency.
    let flags = ["--concurrency", "16", "--per-host", "16", "--quiet"];
    let expected = site
        .graph()
        .reachable(&site.seed_url(), None, true, &|_| true);
    let mut rng = Seeded(0x7261_776c);
    let seed = site.seed_url();

    let mut kills = 0u64;
    let mut args: Vec<&str> = vec!["crawl", &seed, "--store", store];
    args.extend(flags);
    let mut child = spawn_trawl(&args);
    while kills < 5 {
        let done_so_far = page_requests(&site).values().sum::<u64>();
        let target = done_so_far + rng.between(50, 700);
        if !wait_for_requests(&site, &mut child, target).await {
            break; // the crawl finished before this kill
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        kills += 1;
        assert_verify_clean(store).await;
        let mut resume = vec!["resume", "--store", store];
        resume.extend(flags);
        child = spawn_trawl(&resume);
    }
    assert!(
        kills >= 5,
        "the crawl must be killed five times, was killed {kills} times"
    );
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "the last resume completes");
    assert_verify_clean(store).await;

    // The stored set equals the reachable set, each URL once.
    let pages = by_url(&export(std::path::Path::new(store)).await);
    let done: Vec<&String> = pages
        .iter()
        .filter(|(_, p)| p["state"] == "done")
        .map(|(u, _)| u)
        .collect();
    assert_eq!(done, expected.keys().collect::<Vec<_>>());
    // Every reachable URL was fetched; re-fetches are bounded by what can be in flight at a kill.
    let requests = page_requests(&site);
    assert!(expected
        .keys()
        .all(|url| requests.get(url).copied().unwrap_or(0) >= 1));
    let refetches: u64 = requests.values().map(|n| n - 1).sum();
    eprintln!(
        "{kills} kills: {refetches} re-fetches of {} pages",
        expected.len()
    );
    assert!(
        refetches <= unfinished * kills,
        "{refetches} re-fetches after {kills} kills with concurrency {concurrency}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_130_and_resume_refetches_nothing_committed() {
    let site = TestSite::start(SiteSpec {
        pages: 600,
        hosts: 2,
        latency: Duration::from_millis(5),
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let store_arg = store.to_str().unwrap();
    let seed = site.seed_url();
    let mut child = spawn_trawl(&["crawl", &seed, "--store", store_arg]);
    assert!(
        wait_for_requests(&site, &mut child, 100).await,
        "the crawl ended too soon"
    );
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("trawl resume --store"),
        "tells how to resume: {stderr}"
    );

    let committed = by_url(&export(&store).await);
    let before: BTreeMap<String, u64> = page_requests(&site);
    assert!(!committed.is_empty());
    assert!(committed.len() < site.graph().reachable(&seed, None, true, &|_| true).len());
    trawl_ok(&["resume", "--store", store_arg, "--quiet"]).await;
    let after = page_requests(&site);
    for url in committed
        .keys()
        .filter(|url| committed[*url]["state"] == "done")
    {
        assert_eq!(
            after.get(url),
            before.get(url),
            "{url} was committed before Ctrl-C and fetched again"
        );
    }
    let expected = site.graph().reachable(&seed, None, true, &|_| true);
    let pages = by_url(&export(&store).await);
    let done = pages.values().filter(|p| p["state"] == "done").count();
    assert_eq!(done, expected.len());
}
