//! Tests of `Store::verify` (one per kind of violation, made by editing a real store's sled
//! database or segment files directly) and of opening damaged stores.

mod common;

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use trawl_store::{
    CommitBatch, Completion, NewUrl, Outcome, PageMeta, Store, StoreConfig, StoreError,
    VerifyReport, MAX_REPORTED_VIOLATIONS,
};

const A: &str = "http://a.test:80";
const B: &str = "http://b.test:80";

fn cfg() -> StoreConfig {
    StoreConfig {
        cache_capacity: 8 << 20,
        ..StoreConfig::default()
    }
}

fn new_url(url: &str, host: &str) -> NewUrl {
    NewUrl {
        url: url.into(),
        host_key: host.into(),
        depth: 0,
        found_on: None,
        redirect_hops: 0,
        lastmod: None,
    }
}

fn completion(url: &str, outcome: Outcome, body: Option<&[u8]>) -> Completion {
    Completion {
        url: url.into(),
        host_key: A.into(),
        outcome,
        page: PageMeta {
            status: (outcome == Outcome::Done).then_some(200),
            error: (outcome == Outcome::Failed).then(|| "connection refused".into()),
            ..PageMeta::default()
        },
        body: body.map(|b| Bytes::copy_from_slice(b).into()),
    }
}

/// A store with a.test/ done (with a body), a.test/x and a.test/y and b.test/ queued, a.test/f
/// failed. Queue seqs: a.test/ 0, x 1, y 2, f 3, b.test/ 4.
fn build(dir: &Path) {
    let store = Store::open(dir, &cfg()).unwrap();
    store
        .commit(CommitBatch {
            discovered: ["/", "/x", "/y", "/f"]
                .iter()
                .map(|p| new_url(&format!("http://a.test{p}"), A))
                .chain([new_url("http://b.test/", B)])
                .collect(),
            ..CommitBatch::default()
        })
        .unwrap();
    store
        .commit(CommitBatch {
            completed: vec![
                completion("http://a.test/", Outcome::Done, Some(b"<html>root</html>")),
                completion("http://a.test/f", Outcome::Failed, None),
            ],
            ..CommitBatch::default()
        })
        .unwrap();
}

fn queue_key(host: &str, seq: u64) -> Vec<u8> {
    let mut k = host.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Edits the closed store's database with raw sled calls: `f` gets the URL index, queue, meta
/// and hosts trees.
fn edit(dir: &Path, f: impl FnOnce(&sled::Tree, &sled::Tree, &sled::Tree, &sled::Tree)) {
    let db = common::open_raw_db(dir);
    let index = db.open_tree("url_index").unwrap();
    let queue = db.open_tree("queue").unwrap();
    let meta = db.open_tree("meta").unwrap();
    let hosts = db.open_tree("hosts").unwrap();
    f(&index, &queue, &meta, &hosts);
    db.flush().unwrap();
}

/// Edits the closed store's URL details tree (keys: ids, 8 bytes big-endian, in discovery
/// order: a.test/ 0, x 1, y 2, f 3, b.test/ 4).
fn edit_details(dir: &Path, f: impl FnOnce(&sled::Tree)) {
    let db = common::open_raw_db(dir);
    f(&db.open_tree("url_details").unwrap());
    db.flush().unwrap();
}

/// The details of a queued URL without a host key (as converted from a record of version 1):
/// version 4, the URL, then no host key, found-on, lastmod or page.
fn details_without_host_key(url: &str) -> Vec<u8> {
    let mut v = vec![4, url.len() as u8];
    v.extend_from_slice(url.as_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v
}

fn verify(dir: &Path) -> VerifyReport {
    Store::open(dir, &cfg()).unwrap().verify().unwrap()
}

/// Builds a store, damages it with `damage`, verifies it, and checks that some violation
/// contains each of `expected`.
fn damaged(damage: impl FnOnce(&Path), expected: &[&str]) -> VerifyReport {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    assert!(verify(dir.path()).is_clean());
    damage(dir.path());
    let report = verify(dir.path());
    assert!(!report.is_clean());
    assert_eq!(
        report.violations.len() as u64,
        report.violation_count.min(MAX_REPORTED_VIOLATIONS as u64)
    );
    for want in expected {
        assert!(
            report.violations.iter().any(|v| v.contains(want)),
            "no violation contains {want:?}: {:#?}",
            report.violations
        );
    }
    report
}

fn segment(dir: &Path) -> PathBuf {
    dir.join("segments").join("seg-000001.dat")
}

#[test]
fn a_sound_store_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let report = verify(dir.path());
    assert!(report.is_clean(), "{:#?}", report.violations);
    assert_eq!(
        (report.urls, report.queued, report.done, report.failed),
        (5, 3, 1, 1)
    );
    assert_eq!(report.bodies_checked, 1);
    assert!(report.violations.is_empty());
}

#[test]
fn queued_record_without_queue_entry() {
    damaged(
        |d| {
            edit(d, |_, q, _, _| {
                q.remove(queue_key(A, 1)).unwrap().unwrap();
            })
        },
        &[
            "http://a.test/x: Queued (seq 1, host http://a.test:80) but has no queue entry",
            "2 queue entries but 3 Queued URL records",
        ],
    );
}

#[test]
fn queue_entry_without_record() {
    damaged(
        |d| {
            edit(d, |_, q, _, _| {
                q.insert(queue_key(A, 3), &b"http://a.test/ghost"[..])
                    .unwrap();
            })
        },
        &[
            "queue entry http://a.test:80 #3 (http://a.test/ghost): no URL record",
            "4 queue entries but 3 Queued URL records",
        ],
    );
}

#[test]
fn queue_entry_of_a_finished_url() {
    damaged(
        |d| {
            edit(d, |_, q, _, _| {
                q.insert(queue_key(A, 0), &b"http://a.test/"[..]).unwrap();
            })
        },
        &["(http://a.test/): the URL is Done, not Queued"],
    );
}

#[test]
fn queue_entry_with_the_wrong_seq() {
    damaged(
        |d| {
            edit(d, |_, q, _, _| {
                let url = q.remove(queue_key(A, 2)).unwrap().unwrap();
                q.insert(queue_key(A, 99), url).unwrap();
            })
        },
        &[
            "queue entry http://a.test:80 #99 (http://a.test/y): seq is not below the next seq 5",
            "#99 (http://a.test/y): the record's queue seq is Some(2)",
            "http://a.test/y: Queued (seq 2, host http://a.test:80) but has no queue entry",
        ],
    );
}

#[test]
fn queue_entry_under_the_wrong_host() {
    damaged(
        |d| {
            edit(d, |_, q, _, _| {
                let url = q.remove(queue_key(A, 2)).unwrap().unwrap();
                q.insert(queue_key(B, 2), url).unwrap();
            })
        },
        &[
            "queue entry http://b.test:80 #2 (http://a.test/y): the record's host key is \"http://a.test:80\"",
        ],
    );
}

#[test]
fn undecodable_record_and_host_stats() {
    damaged(
        |d| {
            edit(d, |u, _, _, h| {
                u.insert("http://a.test/bad", &[9u8, 9][..]).unwrap();
                h.insert(A, &[1u8][..]).unwrap();
            })
        },
        &[
            "record of http://a.test/bad: unknown record version 9",
            "statistics of host http://a.test:80: truncated",
        ],
    );
}

#[test]
fn finished_record_that_keeps_its_queue_seq() {
    damaged(
        |d| {
            edit(d, |u, _, _, _| {
                // Byte 1 of a record is its state: 0 Queued, 1 Done.
                let mut v = u.get("http://a.test/x").unwrap().unwrap().to_vec();
                assert_eq!(v[1], 0);
                v[1] = 1;
                u.insert("http://a.test/x", v).unwrap();
            })
        },
        &[
            "http://a.test/x: Done but still has queue seq 1",
            "http://a.test/x: Done without page data",
            "(http://a.test/x): the URL is Done, not Queued",
            "counters say",
        ],
    );
}

#[test]
fn counters_that_disagree_with_the_records() {
    damaged(
        |d| {
            edit(d, |_, _, m, _| {
                // version 1, queued 7, done 1, failed 1
                m.insert("store/counters", &[1u8, 7, 1, 1][..]).unwrap();
            })
        },
        &["counters say Counters { queued: 7, done: 1, failed: 1 } but the records count Counters { queued: 3, done: 1, failed: 1 }"],
    );
}

#[test]
fn damaged_body_bytes() {
    damaged(
        |d| {
            let mut f = OpenOptions::new().write(true).open(segment(d)).unwrap();
            f.seek(SeekFrom::Start(22)).unwrap();
            f.write_all(b"XX").unwrap();
        },
        &[
            "http://a.test/: store data is corrupt: body at",
            "checksum mismatch",
        ],
    );
}

#[test]
fn truncated_segment() {
    damaged(
        |d| {
            let f = OpenOptions::new().write(true).open(segment(d)).unwrap();
            f.set_len(10).unwrap();
        },
        &[
            "is 10 bytes, shorter than its committed",
            "segment ends before the record",
        ],
    );
}

#[test]
fn missing_segment() {
    damaged(
        |d| fs::remove_file(segment(d)).unwrap(),
        &["seg-000001.dat is missing", "segment file is missing"],
    );
}

#[test]
fn body_pointer_past_the_committed_length() {
    damaged(
        |d| {
            edit(d, |_, _, m, _| {
                // version 1, length 5: shorter than the one body record
                m.insert("store/segment/000001", &[1u8, 5][..]).unwrap();
            })
        },
        &[
            "http://a.test/: body 1:0+",
            "lies past the committed end of its segment",
        ],
    );
}

#[test]
fn violations_are_capped_but_counted() {
    let report = damaged(
        |d| {
            edit(d, |u, _, _, _| {
                for i in 0..150 {
                    u.insert(format!("http://a.test/bad{i:03}"), &[0u8][..])
                        .unwrap();
                }
            })
        },
        &["unknown record version 0"],
    );
    assert_eq!(report.violations.len(), MAX_REPORTED_VIOLATIONS);
    assert!(report.violation_count >= 150, "{}", report.violation_count);
}

#[test]
fn records_without_a_host_key_verify_by_count() {
    // Records converted from version 1 carry no host key: pass over the queue + the count.
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    edit_details(dir.path(), |d| {
        let key = 1u64.to_be_bytes();
        let old = d.get(key).unwrap().unwrap();
        assert!(
            old.windows(A.len()).any(|w| w == A.as_bytes()),
            "had a host key"
        );
        d.insert(key, details_without_host_key("http://a.test/x"))
            .unwrap();
    });
    let store = Store::open(dir.path(), &cfg()).unwrap();
    assert_eq!(
        store.url("http://a.test/x").unwrap().unwrap().host_key,
        None
    );
    assert!(store.verify().unwrap().is_clean());
    drop(store);
    edit(dir.path(), |_, q, _, _| {
        q.remove(queue_key(A, 1)).unwrap().unwrap();
    });
    let report = verify(dir.path());
    assert_eq!(
        report.violations,
        ["2 queue entries but 3 Queued URL records"]
    );
}

#[test]
fn missing_and_mismatched_details() {
    damaged(
        |d| {
            edit_details(d, |details| {
                details.remove(1u64.to_be_bytes()).unwrap().unwrap();
                let y = details.get(2u64.to_be_bytes()).unwrap().unwrap();
                details.insert(3u64.to_be_bytes(), y).unwrap();
            })
        },
        &[
            "http://a.test/x: its details #1 are missing",
            "http://a.test/f: its details #3 are those of http://a.test/y",
            "URL details #3 (http://a.test/y): its index entry names #2",
        ],
    );
}

#[test]
fn details_nothing_points_at() {
    damaged(
        |d| {
            edit_details(d, |details| {
                details
                    .insert(
                        40u64.to_be_bytes(),
                        details_without_host_key("http://a.test/orphan"),
                    )
                    .unwrap();
                details.insert(&b"bad key"[..], &[4u8][..]).unwrap();
            })
        },
        &[
            "URL details #40 (http://a.test/orphan): no index entry",
            "malformed URL details key",
        ],
    );
}

/// Overwrites `file` in `[from, to)` (fractions of its length) with garbage.
fn scribble(file: &Path, from: f64, to: f64) {
    let mut bytes = fs::read(file).unwrap();
    let n = bytes.len() as f64;
    let (a, b) = ((n * from) as usize, (n * to) as usize);
    assert!(a < b, "{} is too short", file.display());
    for (i, x) in bytes[a..b].iter_mut().enumerate() {
        *x = (i as u8).wrapping_mul(37) ^ 0xA5;
    }
    fs::write(file, &bytes).unwrap();
}

#[test]
fn garbage_in_the_database_files_is_an_error_not_a_panic() {
    for name in ["conf", "db"] {
        for (from, to) in [(0.25, 0.75), (0.0, 0.1), (0.0, 1.0)] {
            let dir = tempfile::tempdir().unwrap();
            build(dir.path());
            let file = dir.path().join("db").join(name);
            scribble(&file, from, to);
            let e = Store::open(dir.path(), &cfg()).unwrap_err();
            assert!(e.is_corrupt(), "{name} {from}..{to}: {e}");
            let msg = e.to_string();
            assert!(
                msg.contains(&format!(
                    "sled database {}",
                    dir.path().join("db").display()
                )),
                "{msg}"
            );
            // The bodies were not taken for an orphan segment and deleted.
            assert!(segment(dir.path()).exists(), "{name} {from}..{to}");
        }
    }
}

#[test]
fn a_database_that_comes_back_empty_is_not_a_new_store() {
    // No bodies: only the marker written at creation tells that data was lost.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &cfg()).unwrap();
        store
            .commit(CommitBatch {
                discovered: vec![new_url("http://a.test/", A)],
                ..CommitBatch::default()
            })
            .unwrap();
    }
    assert!(dir.path().join("store.format").exists());
    scribble(&dir.path().join("db").join("db"), 0.0, 1.0);
    let e = Store::open(dir.path(), &cfg()).unwrap_err();
    assert!(e.is_corrupt());
    assert!(e.to_string().contains("store.format exists"), "{e}");

    // A store made before the marker existed gets one on its next open.
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    fs::remove_file(dir.path().join("store.format")).unwrap();
    assert!(verify(dir.path()).is_clean());
    assert!(dir.path().join("store.format").exists());
}

#[test]
fn unreadable_database_file_is_io_error_with_the_path() {
    for name in ["conf", "db"] {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        let file = dir.path().join("db").join(name);
        fs::remove_file(&file).unwrap();
        fs::create_dir(&file).unwrap();
        match Store::open(dir.path(), &cfg()) {
            Err(StoreError::Io { path, .. }) => assert!(path.starts_with(dir.path()), "{path:?}"),
            other => panic!("{name}: expected an I/O error, got {other:?}"),
        }
    }
}
