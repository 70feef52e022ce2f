//! Tests of `Store` through its public API against real sled databases and segment files in
//! temp dirs.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use trawl_store::{
    CommitBatch, Completion, Counters, NewUrl, Outcome, PageMeta, Store, StoreConfig, StoreError,
    UrlState, SCHEMA_VERSION,
};

fn cfg() -> StoreConfig {
    StoreConfig {
        cache_capacity: 8 << 20,
        ..StoreConfig::default()
    }
}

fn new_url(url: &str, host: &str, depth: u32, found_on: Option<&str>) -> NewUrl {
    NewUrl {
        url: url.into(),
        host_key: host.into(),
        depth,
        found_on: found_on.map(Into::into),
        redirect_hops: 0,
        lastmod: None,
    }
}

fn done(url: &str, host: &str, body: Option<&[u8]>) -> Completion {
    Completion {
        url: url.into(),
        host_key: host.into(),
        outcome: Outcome::Done,
        page: PageMeta {
            status: Some(200),
            content_type: Some("text/html".into()),
            title: Some(format!("title of {url}")),
            body_size: body.map_or(0, |b| b.len() as u64),
            ..PageMeta::default()
        },
        body: body.map(|b| Bytes::copy_from_slice(b).into()),
    }
}

const A: &str = "http://a.test:80";
const B: &str = "http://b.test:80";

#[test]
fn commit_survives_reopen_with_dedup_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"<html><title>root</title><a href=/x>x</a></html>".repeat(20);
    {
        let store = Store::open(dir.path(), &cfg()).unwrap();
        assert_eq!(store.path(), dir.path());
        let out = store
            .commit(CommitBatch {
                discovered: vec![
                    new_url("http://a.test/", A, 0, None),
                    new_url("http://b.test/", B, 0, None),
                    new_url("http://a.test/", A, 0, None), // duplicate inside the batch
                ],
                completed: vec![],
                ..CommitBatch::default()
            })
            .unwrap();
        let urls: Vec<_> = out.newly_queued.iter().map(|q| q.url.as_str()).collect();
        assert_eq!(urls, ["http://a.test/", "http://b.test/"]);
        assert_eq!(out.newly_queued[0].seq, 0);
        assert_eq!(out.newly_queued[1].seq, 1);

        // The root completes and discovers itself (dedup), b.test/ (dedup, across batches) and two
        // new pages.
        let out = store
            .commit(CommitBatch {
                discovered: vec![
                    new_url("http://a.test/", A, 1, Some("http://a.test/")),
                    new_url("http://a.test/x", A, 1, Some("http://a.test/")),
                    new_url("http://b.test/", B, 1, Some("http://a.test/")),
                    new_url("http://a.test/y", A, 1, Some("http://a.test/")),
                ],
                completed: vec![done("http://a.test/", A, Some(&body))],
                ..CommitBatch::default()
            })
            .unwrap();
        let new: Vec<_> = out
            .newly_queued
            .iter()
            .map(|q| (q.url.as_str(), q.seq, q.depth))
            .collect();
        assert_eq!(new, [("http://a.test/x", 2, 1), ("http://a.test/y", 3, 1)]);
        assert_eq!(
            store.counters().unwrap(),
            Counters {
                queued: 3,
                done: 1,
                failed: 0
            }
        );
    }

    let store = Store::open(dir.path(), &cfg()).unwrap();
    let c = store.counters().unwrap();
    assert_eq!(c, store.recount().unwrap());
    assert_eq!((c.queued, c.done, c.failed), (3, 1, 0));

    let root = store.url("http://a.test/").unwrap().unwrap();
    assert_eq!(root.state, UrlState::Done);
    assert_eq!(root.attempts, 1);
    assert_eq!(root.queue_seq, None);
    let page = root.page.unwrap();
    assert_eq!(page.title.as_deref(), Some("title of http://a.test/"));
    let pointer = page.body.unwrap();
    assert!(pointer.digest.starts_with("sha1:"));
    assert_eq!(pointer.digest, trawl_store::payload_digest(&body));
    assert_eq!(&store.read_body(&pointer).unwrap()[..], &body[..]);

    let x = store.url("http://a.test/x").unwrap().unwrap();
    assert_eq!(x.state, UrlState::Queued);
    assert_eq!(x.found_on.as_deref(), Some("http://a.test/"));
    assert_eq!(x.queue_seq, Some(2));
    assert_eq!(store.url("http://nowhere.test/").unwrap(), None);
    let summary = store.url_summary("http://a.test/x").unwrap().unwrap();
    assert_eq!(
        (
            summary.state,
            summary.depth,
            summary.attempts,
            summary.queue_seq
        ),
        (x.state, x.depth, x.attempts, x.queue_seq)
    );
    assert_eq!(
        store.url_summary("http://a.test/").unwrap().unwrap().state,
        UrlState::Done
    );
    assert_eq!(store.url_summary("http://nowhere.test/").unwrap(), None);

    // The queue: the completed root is gone, its links are there.
    let a: Vec<_> = store
        .queued_for_host(A, None, 10)
        .unwrap()
        .into_iter()
        .map(|q| (q.url, q.seq))
        .collect();
    assert_eq!(
        a,
        [
            ("http://a.test/x".to_string(), 2),
            ("http://a.test/y".to_string(), 3)
        ]
    );
    assert_eq!(store.queued_hosts().unwrap(), [A, B]);

    // In the order they were discovered.
    let all: Vec<_> = store.records().map(|r| r.unwrap().0).collect();
    assert_eq!(
        all,
        [
            "http://a.test/",
            "http://b.test/",
            "http://a.test/x",
            "http://a.test/y"
        ]
    );
    assert!(store.size_on_disk().unwrap() > 0);
}

#[test]
fn queue_paging_and_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let hosts = [
        "http://h1.test:80",
        "http://h10.test:80",
        "http://h2.test:80",
    ];
    let mut discovered = Vec::new();
    for i in 0..30 {
        let host = hosts[i % 3];
        discovered.push(new_url(&format!("{host}/p{i}"), host, 1, None));
    }
    let out = store
        .commit(CommitBatch {
            discovered,
            completed: vec![],
            ..CommitBatch::default()
        })
        .unwrap();
    assert_eq!(out.newly_queued.len(), 30);

    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = store.queued_for_host(hosts[1], after, 3).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = Some(page.last().unwrap().seq);
        got.extend(page);
    }
    assert_eq!(got.len(), 10);
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(got.iter().all(|q| q.host_key == hosts[1]));
    assert_eq!(got[0].url, "http://h10.test:80/p1");
    // "h1" is a prefix of "h10": its queue must not leak into h1's.
    assert!(store
        .queued_for_host(hosts[0], None, 100)
        .unwrap()
        .iter()
        .all(|q| q.url.starts_with("http://h1.test:80/")));
    assert_eq!(
        store.queued_for_host(hosts[0], None, 100).unwrap().len(),
        10
    );
    assert_eq!(
        store.queued_for_host(hosts[0], Some(u64::MAX), 10).unwrap(),
        []
    );
    assert_eq!(
        store
            .queued_for_host("http://none.test:80", None, 10)
            .unwrap(),
        []
    );

    let mut sorted = hosts.to_vec();
    sorted.sort();
    assert_eq!(store.queued_hosts().unwrap(), sorted);

    // Complete every h2 URL: the host disappears from queued_hosts.
    let completed = store
        .queued_for_host(hosts[2], None, 100)
        .unwrap()
        .into_iter()
        .map(|q| done(&q.url, hosts[2], None))
        .collect();
    store
        .commit(CommitBatch {
            discovered: vec![],
            completed,
            ..CommitBatch::default()
        })
        .unwrap();
    assert_eq!(store.queued_hosts().unwrap(), [hosts[0], hosts[1]]);
}

#[test]
fn completions_are_idempotent_and_counters_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    store
        .commit(CommitBatch {
            discovered: vec![
                new_url("http://a.test/1", A, 0, None),
                new_url("http://a.test/2", A, 0, None),
            ],
            completed: vec![],
            ..CommitBatch::default()
        })
        .unwrap();
    let mut fail = done("http://a.test/2", A, None);
    fail.outcome = Outcome::Failed;
    fail.page.error_kind = Some("timeout".into());
    let batch = CommitBatch {
        discovered: vec![],
        completed: vec![done("http://a.test/1", A, Some(b"one")), fail.clone()],
        ..CommitBatch::default()
    };
    store.commit(batch.clone()).unwrap();
    store.commit(batch).unwrap(); // applied twice
    let c = store.counters().unwrap();
    assert_eq!(
        c,
        Counters {
            queued: 0,
            done: 1,
            failed: 1
        }
    );
    assert_eq!(c, store.recount().unwrap());
    assert_eq!(store.url("http://a.test/1").unwrap().unwrap().attempts, 2);

    // A failed URL later succeeding moves between counters.
    store
        .commit(CommitBatch {
            discovered: vec![],
            completed: vec![done("http://a.test/2", A, None)],
            ..CommitBatch::default()
        })
        .unwrap();
    let c = store.counters().unwrap();
    assert_eq!(
        c,
        Counters {
            queued: 0,
            done: 2,
            failed: 0
        }
    );
    assert_eq!(c, store.recount().unwrap());

    // A seed completed without being queued gets a record.
    store
        .commit(CommitBatch {
            discovered: vec![],
            completed: vec![done("http://c.test/", "http://c.test:80", Some(b"seed"))],
            ..CommitBatch::default()
        })
        .unwrap();
    let r = store.url("http://c.test/").unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (UrlState::Done, 1));
    assert_eq!(store.counters().unwrap(), store.recount().unwrap());
    assert_eq!(store.queued_hosts().unwrap(), Vec::<String>::new());
}

#[test]
fn second_open_is_in_use_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path(), &cfg()).unwrap();
    let err = Store::open(dir.path(), &cfg()).unwrap_err();
    assert!(
        matches!(&err, StoreError::InUse { path } if path == dir.path()),
        "{err:?}"
    );
    assert!(err.is_in_use());
    assert!(err.to_string().contains("in use"));
    // The first still works.
    first.put_meta("k", b"v").unwrap();
    assert_eq!(first.get_meta("k").unwrap().as_deref(), Some(&b"v"[..]));
    let clone = first.clone();
    drop(first);
    // A clone keeps it open.
    assert!(Store::open(dir.path(), &cfg()).unwrap_err().is_in_use());
    drop(clone);
    let again = Store::open(dir.path(), &cfg()).unwrap();
    assert_eq!(again.get_meta("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn unwritable_path_is_io_error_with_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let target = file.join("store");
    let err = Store::open(&target, &cfg()).unwrap_err();
    assert!(
        matches!(&err, StoreError::Io { path, .. } if path == &target),
        "{err:?}"
    );
    assert!(err.to_string().contains("a-file"));
}

fn segment_file(dir: &Path) -> std::path::PathBuf {
    dir.join("segments").join("seg-000001.dat")
}

#[test]
fn uncommitted_segment_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"body bytes that must survive".to_vec();
    let committed_len;
    {
        let store = Store::open(dir.path(), &cfg()).unwrap();
        store
            .commit(CommitBatch {
                discovered: vec![],
                completed: vec![done("http://a.test/", A, Some(&body))],
                ..CommitBatch::default()
            })
            .unwrap();
        committed_len = fs::metadata(segment_file(dir.path())).unwrap().len();
        assert!(committed_len > 0);
    }
    // A crash between fsync and the database flush leaves an orphan tail.
    let mut f = OpenOptions::new()
        .append(true)
        .open(segment_file(dir.path()))
        .unwrap();
    f.write_all(&[0xAB; 777]).unwrap();
    drop(f);
    // And an orphan segment nobody committed.
    fs::write(dir.path().join("segments").join("seg-000002.dat"), b"junk").unwrap();

    let store = Store::open(dir.path(), &cfg()).unwrap();
    assert_eq!(
        fs::metadata(segment_file(dir.path())).unwrap().len(),
        committed_len
    );
    assert!(!dir.path().join("segments").join("seg-000002.dat").exists());
    assert_eq!(
        fs::read(dir.path().join("segments").join("seg-000002.dat.orphan")).unwrap(),
        b"junk",
        "set aside, not deleted"
    );
    let pointer = store
        .url("http://a.test/")
        .unwrap()
        .unwrap()
        .page
        .unwrap()
        .body
        .unwrap();
    assert_eq!(&store.read_body(&pointer).unwrap()[..], &body[..]);

    // New bodies go right after the committed data.
    store
        .commit(CommitBatch {
            discovered: vec![],
            completed: vec![done("http://a.test/2", A, Some(b"second"))],
            ..CommitBatch::default()
        })
        .unwrap();
    let p2 = store
        .url("http://a.test/2")
        .unwrap()
        .unwrap()
        .page
        .unwrap()
        .body
        .unwrap();
    assert_eq!(p2.offset, committed_len);
    assert_eq!(&store.read_body(&p2).unwrap()[..], b"second");
}

#[test]
fn segments_roll_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        segment_max_bytes: 4096,
        compression_level: 1,
        ..cfg()
    };
    // Incompressible bodies (xorshift), so each record is ~3 KB even after zstd.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let bodies: Vec<Vec<u8>> = (0..20)
        .map(|_| (0..3000).map(|_| next()).collect())
        .collect();
    {
        let store = Store::open(dir.path(), &config).unwrap();
        let completed = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| done(&format!("http://a.test/{i:02}"), A, Some(b)))
            .collect();
        store
            .commit(CommitBatch {
                discovered: vec![],
                completed,
                ..CommitBatch::default()
            })
            .unwrap();
    }
    let store = Store::open(dir.path(), &config).unwrap();
    let mut segments = std::collections::BTreeSet::new();
    for (i, b) in bodies.iter().enumerate() {
        let p = store
            .url(&format!("http://a.test/{i:02}"))
            .unwrap()
            .unwrap()
            .page
            .unwrap()
            .body
            .unwrap();
        segments.insert(p.segment);
        assert_eq!(&store.read_body(&p).unwrap()[..], &b[..]);
    }
    assert!(segments.len() > 5, "{segments:?}");
    for id in segments {
        let path = dir.path().join("segments").join(format!("seg-{id:06}.dat"));
        assert!(fs::metadata(path).unwrap().len() <= 4096);
    }
}

#[test]
fn schema_version_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &cfg()).unwrap());
    {
        let db = common::open_raw_db(dir.path());
        let meta = db.open_tree("meta").unwrap();
        // version byte 1, then varint 7
        meta.insert("store/schema_version", &[1u8, 7][..]).unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path(), &cfg()).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaVersion { found: 7, expected } if expected == SCHEMA_VERSION),
        "{err:?}"
    );
}

#[test]
fn corrupt_body_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let body = b"some page body ".repeat(50);
    store
        .commit(CommitBatch {
            discovered: vec![],
            completed: vec![done("http://a.test/", A, Some(&body))],
            ..CommitBatch::default()
        })
        .unwrap();
    let pointer = store
        .url("http://a.test/")
        .unwrap()
        .unwrap()
        .page
        .unwrap()
        .body
        .unwrap();
    let path = segment_file(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xFF;
    fs::write(&path, &bytes).unwrap();
    let err = store.read_body(&pointer).unwrap_err();
    assert!(err.is_corrupt(), "{err:?}");

    // A pointer with a wrong digest is corrupt too, and one past the end as well.
    bytes[last] ^= 0xFF;
    fs::write(&path, &bytes).unwrap();
    assert_eq!(&store.read_body(&pointer).unwrap()[..], &body[..]);
    let mut wrong = pointer.clone();
    wrong.digest = trawl_store::payload_digest(b"other");
    assert!(store.read_body(&wrong).unwrap_err().is_corrupt());
    let mut past = pointer;
    past.offset = 1 << 30;
    assert!(store.read_body(&past).unwrap_err().is_corrupt());
}

#[test]
fn a_batch_of_1000_pages_with_10_links_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let body = b"<html><body>"
        .iter()
        .chain(&[b'x'; 4000])
        .copied()
        .collect::<Vec<u8>>();
    let mut batch = CommitBatch::default();
    for p in 0..1000 {
        let page = format!("http://h{}.test/p{p}", p % 7);
        let host = format!("http://h{}.test:80", p % 7);
        for l in 0..10 {
            let target = (p * 10 + l) % 5000;
            batch.discovered.push(new_url(
                &format!("http://h{}.test/p{target}", target % 7),
                &format!("http://h{}.test:80", target % 7),
                1,
                Some(&page),
            ));
        }
        batch.completed.push(done(&page, &host, Some(&body)));
    }
    let start = Instant::now();
    let out = store.commit(batch).unwrap();
    eprintln!(
        "commit of 1000 pages x 10 links: {:?}, {} newly queued, {} bytes on disk",
        start.elapsed(),
        out.newly_queued.len(),
        store.size_on_disk().unwrap()
    );
    assert_eq!(out.newly_queued.len(), 5000);
    let c = store.counters().unwrap();
    assert_eq!(
        c,
        Counters {
            queued: 4000,
            done: 1000,
            failed: 0
        }
    );
    assert_eq!(c, store.recount().unwrap());
    let queued: usize = store
        .queued_hosts()
        .unwrap()
        .iter()
        .map(|h| store.queued_for_host(h, None, 10_000).unwrap().len())
        .sum();
    assert_eq!(queued, 4000);
}

#[test]
fn concurrent_commits_from_clones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let url = format!("http://a.test/{t}/{i}");
                    store
                        .commit(CommitBatch {
                            discovered: vec![new_url(&url, A, 0, None)],
                            completed: vec![done(&url, A, Some(url.as_bytes()))],
                            ..CommitBatch::default()
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let c = store.counters().unwrap();
    assert_eq!(
        c,
        Counters {
            queued: 0,
            done: 100,
            failed: 0
        }
    );
    assert_eq!(c, store.recount().unwrap());
    for item in store.records() {
        let (url, r) = item.unwrap();
        let body = store.read_body(&r.page.unwrap().body.unwrap()).unwrap();
        assert_eq!(&body[..], url.as_bytes());
    }
}

#[test]
fn sled_lock_held_elsewhere_is_in_use_too() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &cfg()).unwrap());
    // Someone holds the database itself (not our store.lock): sled's own lock must map to InUse.
    let raw = common::open_raw_db(dir.path());
    let err = Store::open(dir.path(), &cfg()).unwrap_err();
    assert!(err.is_in_use(), "{err:?}");
    drop(raw);
}

#[test]
fn failed_transaction_rolls_back_segment_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    store
        .commit(CommitBatch {
            discovered: vec![],
            completed: vec![done("http://a.test/", A, Some(b"first"))],
            ..CommitBatch::default()
        })
        .unwrap();
    let len = fs::metadata(segment_file(dir.path())).unwrap().len();
    let err = store
        .commit(CommitBatch {
            discovered: vec![new_url("http://bad.test/", "bad\0host", 0, None)],
            completed: vec![done("http://a.test/2", A, Some(b"never committed"))],
            ..CommitBatch::default()
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidBatch { .. }), "{err:?}");
    assert!(err.to_string().contains("bad.test"), "{err}");
    assert_eq!(fs::metadata(segment_file(dir.path())).unwrap().len(), len);
    assert_eq!(store.url("http://a.test/2").unwrap(), None);
    assert_eq!(store.url("http://bad.test/").unwrap(), None);
    assert_eq!(
        store.counters().unwrap(),
        Counters {
            queued: 0,
            done: 1,
            failed: 0
        }
    );
}

const CHILD_ENV: &str = "TRAWL_STORE_TEST_CHILD_DIR";

/// Runs only as the child of `second_process_gets_in_use`.
#[test]
fn child_process_open() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let err = Store::open(Path::new(&dir), &cfg()).unwrap_err();
    assert!(err.is_in_use(), "{err:?}");
    println!("CHILD-SAW-IN-USE");
}

#[test]
fn second_process_gets_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path(), &cfg()).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_open",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CHILD-SAW-IN-USE"), "{stdout}");
}

#[test]
fn a_queued_url_found_by_a_shorter_path_takes_the_shorter_depth() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let deep = "http://a.test/deep";
    store
        .commit(CommitBatch {
            discovered: vec![new_url(deep, A, 5, Some("http://a.test/p4"))],
            completed: vec![],
            ..CommitBatch::default()
        })
        .unwrap();
    let out = store
        .commit(CommitBatch {
            discovered: vec![
                new_url(deep, A, 2, Some("http://a.test/p1")),
                new_url(deep, A, 3, Some("http://a.test/p2")),
            ],
            completed: vec![],
            ..CommitBatch::default()
        })
        .unwrap();
    assert!(
        out.newly_queued.is_empty(),
        "a known URL is not queued twice"
    );
    let record = store.url(deep).unwrap().unwrap();
    assert_eq!(
        (record.depth, record.found_on.as_deref()),
        (2, Some("http://a.test/p1"))
    );
    let queued = store.queued_for_host(A, None, 10).unwrap();
    assert_eq!(queued[0].depth, 2, "refills see the shorter depth");

    // Once done, a URL's depth no longer changes.
    store
        .commit(CommitBatch {
            discovered: vec![],
            completed: vec![done(deep, A, None)],
            ..CommitBatch::default()
        })
        .unwrap();
    store
        .commit(CommitBatch {
            discovered: vec![new_url(deep, A, 1, Some("http://a.test/"))],
            completed: vec![],
            ..CommitBatch::default()
        })
        .unwrap();
    assert_eq!(store.url(deep).unwrap().unwrap().depth, 2);
}

fn retry(url: &str, host: &str, error: &str) -> Completion {
    Completion {
        url: url.into(),
        host_key: host.into(),
        outcome: Outcome::Retry,
        page: PageMeta {
            status: Some(503),
            error_kind: Some("http_status".into()),
            error: Some(error.into()),
            ..PageMeta::default()
        },
        body: None,
    }
}

#[test]
fn retry_moves_the_url_to_the_end_of_its_host_queue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &cfg()).unwrap();
        store
            .commit(CommitBatch {
                discovered: vec![
                    new_url("http://a.test/1", A, 2, None),
                    new_url("http://a.test/2", A, 0, None),
                    new_url("http://b.test/", B, 0, None),
                ],
                ..CommitBatch::default()
            })
            .unwrap();
        let before = store.counters().unwrap();
        let out = store
            .commit(CommitBatch {
                completed: vec![
                    retry("http://a.test/1", A, "first"),
                    retry("http://b.test/", B, "b down"),
                ],
                ..CommitBatch::default()
            })
            .unwrap();
        assert!(out.newly_queued.is_empty());
        let requeued: Vec<_> = out
            .requeued
            .iter()
            .map(|q| {
                (
                    q.url.as_str(),
                    q.host_key.as_str(),
                    q.seq,
                    q.attempts,
                    q.depth,
                )
            })
            .collect();
        assert_eq!(
            requeued,
            [
                ("http://a.test/1", A, 3, 1, 2),
                ("http://b.test/", B, 4, 1, 0)
            ]
        );
        assert_eq!(store.counters().unwrap(), before, "counters unchanged");
        // Twice in one batch: the second sees the first.
        let out = store
            .commit(CommitBatch {
                completed: vec![
                    retry("http://a.test/1", A, "second"),
                    retry("http://a.test/1", A, "third"),
                ],
                ..CommitBatch::default()
            })
            .unwrap();
        let requeued: Vec<_> = out.requeued.iter().map(|q| (q.seq, q.attempts)).collect();
        assert_eq!(requeued, [(5, 2), (6, 3)]);
        assert!(store.verify().unwrap().is_clean());
    }

    let store = Store::open(dir.path(), &cfg()).unwrap();
    let order: Vec<_> = store
        .queued_for_host(A, None, 10)
        .unwrap()
        .into_iter()
        .map(|q| (q.url, q.seq, q.attempts))
        .collect();
    assert_eq!(
        order,
        [
            ("http://a.test/2".to_string(), 1, 0),
            ("http://a.test/1".to_string(), 6, 3)
        ]
    );
    let record = store.url("http://a.test/1").unwrap().unwrap();
    assert_eq!(record.state, UrlState::Queued);
    assert_eq!(record.queue_seq, Some(6));
    assert_eq!(record.attempts, 3);
    assert_eq!(record.host_key.as_deref(), Some(A));
    let page = record.page.unwrap();
    assert_eq!(page.error.as_deref(), Some("third"));
    assert_eq!(page.status, Some(503));
    assert_eq!(
        store.counters().unwrap(),
        Counters {
            queued: 3,
            done: 0,
            failed: 0
        }
    );

    // Finishing it removes the moved entry; a late retry of a finished URL is ignored.
    let out = store
        .commit(CommitBatch {
            completed: vec![
                done("http://a.test/1", A, Some(b"at last")),
                retry("http://a.test/1", A, "late"),
            ],
            ..CommitBatch::default()
        })
        .unwrap();
    assert!(out.requeued.is_empty());
    let record = store.url("http://a.test/1").unwrap().unwrap();
    assert_eq!(record.state, UrlState::Done);
    assert_eq!(record.attempts, 4);
    assert_eq!(store.queued_for_host(A, None, 10).unwrap().len(), 1);
    assert_eq!(store.counters().unwrap(), store.recount().unwrap());
    assert_eq!(store.counters().unwrap().done, 1);
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.violations);
    assert_eq!(report.bodies_checked, 1);
}

#[test]
fn retry_of_an_unknown_url_queues_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let out = store
        .commit(CommitBatch {
            completed: vec![retry("http://a.test/new", A, "x")],
            ..CommitBatch::default()
        })
        .unwrap();
    assert_eq!(out.requeued.len(), 1);
    assert_eq!(out.requeued[0].attempts, 1);
    assert_eq!(store.counters().unwrap().queued, 1);
    assert_eq!(store.queued_for_host(A, None, 10).unwrap().len(), 1);
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn host_stats_merge_across_commits_and_reopen() {
    use trawl_store::{HostStats, HostStatsDelta};
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &cfg()).unwrap();
        assert!(store.host_stats().unwrap().is_empty());
        store
            .commit(CommitBatch {
                host_stats: vec![
                    HostStatsDelta {
                        host_key: A.into(),
                        requests: 10,
                        errors: 2,
                        retries: 1,
                        robots_blocked: 3,
                        delay_ms: Some(1000),
                        max_rate_milli: 1500,
                        last_status: Some(503),
                    },
                    HostStatsDelta {
                        host_key: B.into(),
                        requests: 1,
                        last_status: Some(200),
                        ..HostStatsDelta::default()
                    },
                    // Two deltas for one host in one batch both count.
                    HostStatsDelta {
                        host_key: A.into(),
                        requests: 1,
                        ..HostStatsDelta::default()
                    },
                ],
                ..CommitBatch::default()
            })
            .unwrap();
    }
    let store = Store::open(dir.path(), &cfg()).unwrap();
    store
        .commit(CommitBatch {
            host_stats: vec![HostStatsDelta {
                host_key: A.into(),
                requests: 5,
                errors: 1,
                delay_ms: None,
                max_rate_milli: 900,
                last_status: Some(200),
                ..HostStatsDelta::default()
            }],
            ..CommitBatch::default()
        })
        .unwrap();
    // A failed commit changes no statistics.
    let e = store
        .commit(CommitBatch {
            discovered: vec![new_url("http://bad/", "bad\0host", 0, None)],
            host_stats: vec![HostStatsDelta {
                host_key: A.into(),
                requests: 1000,
                ..HostStatsDelta::default()
            }],
            ..CommitBatch::default()
        })
        .unwrap_err();
    assert!(matches!(e, StoreError::InvalidBatch { .. }), "{e}");
    drop(store);

    let store = Store::open(dir.path(), &cfg()).unwrap();
    assert_eq!(
        store.host_stats().unwrap(),
        [
            (
                A.to_string(),
                HostStats {
                    requests: 16,
                    errors: 3,
                    retries: 1,
                    robots_blocked: 3,
                    delay_ms: 1000,
                    max_rate_milli: 1500,
                    last_status: Some(200),
                }
            ),
            (
                B.to_string(),
                HostStats {
                    requests: 1,
                    last_status: Some(200),
                    ..HostStats::default()
                }
            ),
        ]
    );
    assert!(store.verify().unwrap().is_clean());
}

#[test]
fn sitemap_lastmod_and_extracted_records_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://a.test/product/1";
    {
        let store = Store::open(dir.path(), &cfg()).unwrap();
        let mut found = new_url(url, A, 0, Some("http://a.test/sitemap.xml"));
        found.lastmod = Some("2026-10-31".into());
        store
            .commit(CommitBatch {
                discovered: vec![found],
                ..CommitBatch::default()
            })
            .unwrap();
        let mut page = done(url, A, Some(b"<h1>x</h1>"));
        page.page.records = Some(r#"[{"rule":0,"name":"x"}]"#.into());
        store
            .commit(CommitBatch {
                completed: vec![page],
                ..CommitBatch::default()
            })
            .unwrap();
    }
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let record = store.url(url).unwrap().unwrap();
    assert_eq!(
        record.lastmod.as_deref(),
        Some("2026-10-31"),
        "lastmod outlives completion"
    );
    assert_eq!(
        record.page.unwrap().records.as_deref(),
        Some(r#"[{"rule":0,"name":"x"}]"#)
    );
}

#[test]
fn segments_the_database_lost_track_of_are_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &cfg()).unwrap();
        store
            .commit(CommitBatch {
                completed: vec![done("http://a.test/", A, Some(b"precious body"))],
                ..CommitBatch::default()
            })
            .unwrap();
    }
    // The database loses its records (a damaged file), but an older segment and a newer one exist:
    // an unknown segment that is not the single newest cannot come from a crash.
    let segments = dir.path().join("segments");
    fs::copy(segment_file(dir.path()), segments.join("seg-000000.dat")).unwrap();
    let before = fs::read(segments.join("seg-000000.dat")).unwrap();
    let err = match Store::open(dir.path(), &cfg()) {
        Err(err) => err,
        Ok(_) => panic!("an unknown older segment must stop the open"),
    };
    assert!(err.is_corrupt(), "{err}");
    assert!(err.to_string().contains("lost records"), "{err}");
    assert_eq!(
        fs::read(segments.join("seg-000000.dat")).unwrap(),
        before,
        "nothing was changed"
    );
    assert!(segment_file(dir.path()).exists());
}

/// Bodies encoded on other threads (as the crawl's parse workers do) are stored exactly like raw
/// ones: same bytes in the segment, same digest, and they read back and verify.
#[test]
fn bodies_encoded_on_other_threads_commit_like_raw_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let bodies: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            format!("<html><p>page {i}</p></html>")
                .repeat(50 + i)
                .into_bytes()
        })
        .collect();
    let encoded: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|body| scope.spawn(|| store.encode_body(body).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut completed = Vec::new();
    for (i, (body, encoded)) in bodies.iter().zip(encoded).enumerate() {
        assert!(encoded.stored_len() < body.len(), "compressed");
        let mut page = done(&format!("{A}/{i}"), A, Some(body));
        page.body = Some(encoded.into());
        completed.push(page);
    }
    completed.push(done(&format!("{A}/raw"), A, Some(&bodies[0])));
    store
        .commit(CommitBatch {
            completed,
            ..CommitBatch::default()
        })
        .unwrap();
    for (i, body) in bodies.iter().enumerate() {
        let record = store.url(&format!("{A}/{i}")).unwrap().unwrap();
        let pointer = record.page.and_then(|p| p.body).unwrap();
        assert_eq!(&store.read_body(&pointer).unwrap()[..], &body[..]);
        assert_eq!(pointer.digest, trawl_store::payload_digest(body));
    }
    let raw = store.url(&format!("{A}/raw")).unwrap().unwrap();
    let first = store.url(&format!("{A}/0")).unwrap().unwrap();
    let (raw, first) = (
        raw.page.unwrap().body.unwrap(),
        first.page.unwrap().body.unwrap(),
    );
    assert_eq!(raw.length, first.length, "the same record either way");
    assert_eq!(raw.digest, first.digest);
    assert!(store.verify().unwrap().is_clean());
}

/// A batch discovering more URLs than one transaction takes (here 700, so three transactions)
/// behaves like one: batch order and consecutive seqs, duplicates skipped and shallower depths
/// taken across the transactions, completions after all discoveries, exact counters.
#[test]
fn a_batch_with_hundreds_of_links_spans_transactions_like_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    let page = "http://a.test/hub";
    let mut discovered: Vec<NewUrl> = (0..600)
        .map(|i| new_url(&format!("http://a.test/{i}"), A, 3, Some(page)))
        .collect();
    // Found again at the end of the batch, in its last transaction, by a shorter path.
    discovered.extend((0..100).map(|i| new_url(&format!("http://a.test/{i}"), A, 1, Some(page))));
    let out = store
        .commit(CommitBatch {
            discovered,
            completed: vec![done("http://a.test/5", A, Some(b"<html>five</html>"))],
            ..CommitBatch::default()
        })
        .unwrap();
    assert_eq!(out.newly_queued.len(), 600);
    for (i, q) in out.newly_queued.iter().enumerate() {
        assert_eq!(q.seq, i as u64);
        assert_eq!(q.url, format!("http://a.test/{i}"));
    }
    let c = store.counters().unwrap();
    let expected = Counters {
        queued: 599,
        done: 1,
        failed: 0,
    };
    assert_eq!(c, expected);
    assert_eq!(c, store.recount().unwrap());
    assert_eq!(store.url("http://a.test/50").unwrap().unwrap().depth, 1);
    assert_eq!(store.url("http://a.test/150").unwrap().unwrap().depth, 3);
    let five = store.url("http://a.test/5").unwrap().unwrap();
    assert_eq!(five.state, UrlState::Done);
    let pointer = five.page.and_then(|p| p.body).unwrap();
    assert_eq!(
        &store.read_body(&pointer).unwrap()[..],
        b"<html>five</html>"
    );
    assert_eq!(store.queued_for_host(A, None, 10_000).unwrap().len(), 599);
    assert!(store.verify().unwrap().is_clean());
    drop(store);

    let store = Store::open(dir.path(), &cfg()).unwrap();
    assert_eq!(store.counters().unwrap(), expected);
    assert!(store.verify().unwrap().is_clean());
}

/// A bad host key among the discoveries queued ahead of the last transaction is refused before
/// anything is written: no URL, no counter, no segment byte.
#[test]
fn an_invalid_host_key_among_hundreds_of_links_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &cfg()).unwrap();
    store
        .commit(CommitBatch {
            completed: vec![done("http://a.test/", A, Some(b"first"))],
            ..CommitBatch::default()
        })
        .unwrap();
    let len = fs::metadata(segment_file(dir.path())).unwrap().len();
    let mut discovered: Vec<NewUrl> = (0..400)
        .map(|i| new_url(&format!("http://a.test/{i}"), A, 1, None))
        .collect();
    discovered[300] = new_url("http://bad.test/", "bad\0host", 1, None);
    let err = store
        .commit(CommitBatch {
            discovered,
            completed: vec![done("http://a.test/2", A, Some(b"never committed"))],
            ..CommitBatch::default()
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidBatch { .. }), "{err:?}");
    assert!(err.to_string().contains("bad.test"), "{err}");
    assert_eq!(fs::metadata(segment_file(dir.path())).unwrap().len(), len);
    assert_eq!(store.url("http://a.test/0").unwrap(), None);
    assert_eq!(store.url("http://a.test/2").unwrap(), None);
    assert_eq!(
        store.counters().unwrap(),
        Counters {
            queued: 0,
            done: 1,
            failed: 0
        }
    );
    assert!(store.verify().unwrap().is_clean());
}

const UNFLUSHED_CHILD_ENV: &str = "TRAWL_STORE_TEST_UNFLUSHED_DIR";

/// Runs only as the child of `flushed_batches_survive_a_crash_and_an_unflushed_one_is_whole_or_gone`:
/// applies two batches and flushes them, applies a third without a flush, then dies without any
/// cleanup.
#[test]
fn child_commits_unflushed_then_aborts() {
    let Some(dir) = std::env::var_os(UNFLUSHED_CHILD_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&dir), &cfg()).unwrap();
    // Two batches made durable by one flush.
    for url in ["http://a.test/first", "http://a.test/second"] {
        store
            .commit_unflushed(CommitBatch {
                discovered: vec![new_url(url, A, 0, None)],
                completed: vec![done(url, A, Some(url.as_bytes()))],
                ..CommitBatch::default()
            })
            .unwrap();
    }
    store.flush().unwrap();
    // Enough links for several transactions, and bodies for the segment.
    let discovered = (0..700)
        .map(|i| {
            new_url(
                &format!("http://a.test/l{i}"),
                A,
                1,
                Some("http://a.test/first"),
            )
        })
        .collect();
    let out = store
        .commit_unflushed(CommitBatch {
            discovered,
            completed: vec![
                done("http://a.test/l0", A, Some(b"<html>zero</html>")),
                done("http://a.test/l1", A, Some(b"<html>one</html>")),
            ],
            ..CommitBatch::default()
        })
        .unwrap();
    // Applied: later reads see it before any flush.
    assert_eq!(out.newly_queued.len(), 700);
    assert_eq!(
        store.url("http://a.test/l1").unwrap().unwrap().state,
        UrlState::Done
    );
    println!("CHILD-APPLIED-UNFLUSHED");
    std::process::abort();
}

#[test]
fn flushed_batches_survive_a_crash_and_an_unflushed_one_is_whole_or_gone() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_commits_unflushed_then_aborts",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(UNFLUSHED_CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the child must die by abort");
    assert!(stdout.contains("CHILD-APPLIED-UNFLUSHED"), "{stdout}");

    let store = Store::open(dir.path(), &cfg()).unwrap();
    // The flushed batches survived, bodies and all.
    for url in ["http://a.test/first", "http://a.test/second"] {
        let record = store.url(url).unwrap().unwrap();
        assert_eq!(record.state, UrlState::Done);
        let pointer = record.page.and_then(|p| p.body).unwrap();
        assert_eq!(&store.read_body(&pointer).unwrap()[..], url.as_bytes());
    }
    // The unflushed one is all there or its completions are not: a page done without all its
    // links queued would lose URLs.
    let links_known = (0..700)
        .filter(|i| store.url(&format!("http://a.test/l{i}")).unwrap().is_some())
        .count();
    let completions_done = ["http://a.test/l0", "http://a.test/l1"]
        .iter()
        .filter(|url| {
            store
                .url(url)
                .unwrap()
                .is_some_and(|r| r.state == UrlState::Done)
        })
        .count();
    assert!(
        completions_done == 0 || (completions_done == 2 && links_known == 700),
        "{completions_done} completions survived with {links_known} of 700 links"
    );
    assert_eq!(store.counters().unwrap(), store.recount().unwrap());
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.violations);
}
