//! Helpers shared by the integration tests: running the `trawl` binary, reading its exports, and a
//! tiny fixture HTTP server with fixed routes.

#![allow(dead_code)]

pub mod fixture;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

/// Longest any single trawl run may take in a test before it counts as hung.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The path of the `trawl` binary under test.
pub fn trawl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_trawl")
}

/// Runs `trawl ARGS...` to the end (bounded by [`RUN_LIMIT`]) and returns its output.
pub async fn trawl(args: &[&str]) -> Output {
    let child = tokio::process::Command::new(trawl_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn trawl");
    tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("trawl did not finish in time")
        .expect("wait for trawl")
}

/// Runs `trawl ARGS...` and asserts it exits 0.
pub async fn trawl_ok(args: &[&str]) -> Output {
    let output = trawl(args).await;
    assert!(
        output.status.success(),
        "trawl {args:?} failed with {:?}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Crawls into a new store in a new temp dir: `args` are the seed(s) and flags after `crawl`
/// (the store flag is added). Keep the returned dir alive as long as the store is used.
pub async fn crawl_fresh(args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let mut full = vec!["crawl", "--store", store.to_str().unwrap()];
    full.extend_from_slice(args);
    trawl_ok(&full).await;
    (dir, store)
}

/// A fresh store path inside `dir`.
pub fn store_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("crawl.trawl")
}

/// Exports a store and parses every line.
pub async fn export(store: &Path) -> Vec<Value> {
    let output = trawl_ok(&["export", "--store", store.to_str().unwrap()]).await;
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each export line is JSON"))
        .collect()
}

/// Exported pages by URL; asserts no URL appears twice.
pub fn by_url(pages: &[Value]) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for page in pages {
        let url = page["url"].as_str().unwrap().to_string();
        assert!(
            map.insert(url.clone(), page.clone()).is_none(),
            "{url} exported twice"
        );
    }
    map
}

/// The site's request counts without robots.txt.
pub fn page_requests(site: &trawl_testsite::TestSite) -> BTreeMap<String, u64> {
    site.request_counts()
        .into_iter()
        .filter(|(url, _)| !url.ends_with("/robots.txt"))
        .collect()
}
