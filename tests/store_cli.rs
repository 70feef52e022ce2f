//! The store commands against real crawls: WARC export read back by an independent reader
//! (Python's warcio), CSV export, `verify` naming damage, `resume` refusing scope changes, and a
//! second Ctrl-C quitting at once with the store still consistent, an export whose reader
//! stops early (`trawl export | head`) ending quietly, and an export of a damaged store writing
//! everything readable.

use std::time::{Duration, Instant};

use trawl_testsite::{SiteSpec, TestSite};

use crate::support::{by_url, crawl_fresh, export, store_path, trawl, trawl_bin, trawl_ok};

async fn crawled_store(pages: usize) -> (TestSite, tempfile::TempDir, std::path::PathBuf) {
    let site = TestSite::start(SiteSpec {
        pages,
        hosts: 2,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let (dir, store) = crawl_fresh(&[&site.seed_url(), "--quiet"]).await;
    (site, dir, store)
}

/// Reads a WARC file with warcio, checks each record's payload digest and returns
/// (records, responses, requests) as the Python script counted them.
fn read_with_warcio(path: &std::path::Path) -> (u64, u64, u64) {
    const SCRIPT: &str = r#"
import base64, hashlib, sys
from warcio.archiveiterator import ArchiveIterator
counts = {"records": 0, "response": 0, "request": 0, "warcinfo": 0}
with open(sys.argv[1], "rb") as stream:
    for record in ArchiveIterator(stream):
        counts["records"] += 1
        kind = record.rec_type
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "response":
            payload = record.content_stream().read()
            digest = "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()
            declared = record.rec_headers.get_header("WARC-Payload-Digest")
            assert declared == digest, (record.rec_headers.get_header("WARC-Target-URI"), declared, digest)
            assert record.rec_headers.get_header("WARC-Record-ID").startswith("<urn:uuid:")
            assert record.rec_headers.get_header("WARC-Date")
print(counts["records"], counts["response"], counts["request"], counts["warcinfo"])
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", SCRIPT, path.to_str().unwrap()])
        .output()
        .expect("python3 runs (CI installs it with warcio: see .ci/run)");
    assert!(
        output.status.success(),
        "warcio could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(numbers[3], 1, "one warcinfo record");
    (numbers[0], numbers[1], numbers[2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warc_export_is_read_back_by_warcio_with_matching_digests() {
    let (_site, dir, store) = crawled_store(120).await;
    let pages = export(&store).await;
    let done = pages.iter().filter(|p| p["state"] == "done").count() as u64;
    for (name, extra) in [
        ("out.warc", None),
        ("out.warc.gz", None),
        ("plain.warc.gz", Some("--gzip")),
    ] {
        let path = dir.path().join(name);
        let mut args = vec![
            "export",
            "--store",
            store.to_str().unwrap(),
            "--output",
            path.to_str().unwrap(),
        ];
        args.extend(extra);
        trawl_ok(&args).await;
        if name.ends_with(".gz") {
            let magic = std::fs::read(&path).unwrap();
            assert_eq!(&magic[..2], &[0x1f, 0x8b], "{name} is gzipped");
        }
        let (records, responses, requests) = read_with_warcio(&path);
        assert_eq!(responses, done, "{name}: one response per done page");
        assert_eq!(requests, done, "{name}: one request per done page");
        assert_eq!(records, 1 + 2 * done, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_has_a_header_and_a_row_per_page() {
    let (_site, dir, store) = crawled_store(60).await;
    let pages = export(&store).await;
    let path = dir.path().join("pages.csv");
    trawl_ok(&[
        "export",
        "--store",
        store.to_str().unwrap(),
        "--format",
        "csv",
        "--output",
        path.to_str().unwrap(),
    ])
    .await;
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "url");
    assert!(headers.iter().any(|h| h == "depth") && headers.iter().any(|h| h == "status"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), pages.len());
    let json = by_url(&pages);
    for row in rows {
        let page = &json[&row[0]];
        assert_eq!(
            row[2].to_string(),
            page["status"]
                .as_u64()
                .map_or(String::new(), |s| s.to_string())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_into_a_pipe_closed_early_ends_quietly_with_exit_0() {
    let (_site, _dir, store) = crawled_store(100).await;
    let store = store.to_str().unwrap().to_string();
    let (first, output) = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut child = std::process::Command::new(trawl_bin())
            .args(["export", "--store", &store, "--with-body"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 8];
        // Read a little, then close the pipe (the stdout handle is dropped here): the export,
        // ~100 pages with their bodies, is far larger than the pipe's 64 KiB buffer.
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        (first, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    assert_eq!(&first, b"{\"url\":\"");
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_damage_and_exits_1() {
    let (_site, _dir, store) = crawled_store(40).await;
    let clean = trawl_ok(&["verify", "--store", store.to_str().unwrap()]).await;
    assert!(String::from_utf8_lossy(&clean.stdout).contains("consistent"));
    damage_one_body(&store);
    let output = trawl(&["verify", "--store", store.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("violation:") && stdout.contains("http://127.0.0.1"),
        "names the page: {stdout}"
    );

    let missing = store.parent().unwrap().join("nothing-here");
    let output = trawl(&["verify", "--store", missing.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a trawl store"));
}

/// Flips one byte in the middle of the store's first body segment (so one stored body fails its
/// checksum).
fn damage_one_body(store: &std::path::Path) {
    let segment = std::fs::read_dir(store.join("segments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_a_damaged_store_writes_everything_readable_and_exits_1() {
    let (_site, dir, store) = crawled_store(40).await;
    let store_arg = store.to_str().unwrap();
    let before = export(&store).await;
    let done: Vec<String> = before
        .iter()
        .filter(|p| p["state"] == "done")
        .map(|p| p["url"].as_str().unwrap().to_string())
        .collect();
    assert!(done.len() >= 30, "{} pages done", done.len());
    damage_one_body(&store);

    // Without bodies nothing damaged is read: the export is whole.
    let whole = trawl_ok(&["export", "--store", store_arg]).await;
    assert_eq!(
        String::from_utf8_lossy(&whole.stdout).lines().count(),
        before.len()
    );

    // With bodies: every page but the damaged one, which is named, and exit 1.
    let output = trawl(&["export", "--store", store_arg, "--with-body"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let exported: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported.len(), before.len() - 1, "{stderr}");
    let left_out: Vec<&String> = done
        .iter()
        .filter(|url| !exported.iter().any(|p| p["url"] == url.as_str()))
        .collect();
    assert_eq!(left_out.len(), 1);
    assert!(
        stderr.contains("unreadable page left out") && stderr.contains(left_out[0].as_str()),
        "names the page: {stderr}"
    );
    assert!(stderr.contains("left out 1 unreadable"), "{stderr}");

    // WARC: a response is never written without its body; the rest reads back.
    let warc = dir.path().join("damaged.warc");
    let output = trawl(&[
        "export",
        "--store",
        store_arg,
        "--output",
        warc.to_str().unwrap(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(1));
    let (_, responses, requests) = read_with_warcio(&warc);
    assert_eq!(responses as usize, done.len() - 1);
    assert_eq!(requests as usize, done.len() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_keeps_the_scope_and_accepts_new_politeness() {
    let site = TestSite::start(SiteSpec {
        pages: 200,
        hosts: 1,
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let store = store.to_str().unwrap();
    trawl_ok(&[
        "crawl",
        &site.seed_url(),
        "--store",
        store,
        "--max-pages",
        "20",
        "--quiet",
    ])
    .await;
    for flag in [
        &["--scope", "any"][..],
        &["--max-depth", "1"],
        &["--exclude", "/p/"],
    ] {
        let mut args = vec!["resume", "--store", store];
        args.extend(flag);
        let output = trawl(&args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag:?}: {stderr}");
        assert!(
            stderr.contains(flag[0]) && stderr.contains("cannot change on resume"),
            "{stderr}"
        );
    }
    trawl_ok(&[
        "resume",
        "--store",
        store,
        "--max-pages",
        "50",
        "--concurrency",
        "4",
        "--per-host",
        "1",
        "--quiet",
    ])
    .await;
    assert_eq!(
        export(std::path::Path::new(store)).await.len(),
        50,
        "the new page budget counts earlier pages"
    );
    let again = trawl(&["crawl", &site.seed_url(), "--store", store]).await;
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("trawl resume"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_quits_at_once_and_the_store_stays_consistent() {
    let site = TestSite::start(SiteSpec {
        pages: 200,
        hosts: 2,
        latency: Duration::from_secs(3),
        ..SiteSpec::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let child = tokio::process::Command::new(trawl_bin())
        .args([
            "crawl",
            &site.seed_url(),
            "--store",
            store.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait until requests are in flight (the site answers each after 3 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    while site.total_requests() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().unwrap().to_string();
    let interrupt = || {
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
    };
    interrupt();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = Instant::now();
    interrupt();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        second.elapsed() < Duration::from_secs(2),
        "quit at once, not after the 3 s responses"
    );
    trawl_ok(&["verify", "--store", store.to_str().unwrap()]).await;
}
