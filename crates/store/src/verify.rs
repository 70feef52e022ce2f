//! [`Store::verify`]: checks every invariant of a store by streaming over its trees (memory does
//! not grow with the store) and reports each violation found.

use std::collections::BTreeMap;
use std::fs;

use crate::entries::{decode_details, decode_index, details_id, details_key, join, UrlIndex};
use crate::hosts::decode_host_stats;
use crate::records::{decode_counters, decode_u64, queue_key, split_queue_key};
use crate::segments;
use crate::store::meta_keys;
use crate::{Counters, Store, StoreError, UrlRecord, UrlState};

/// How many violation messages a report keeps; the rest are only counted.
pub const MAX_REPORTED_VIOLATIONS: usize = 100;

/// What [`Store::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// URL records read (including undecodable ones).
    pub urls: u64,
    /// Records in state Queued.
    pub queued: u64,
    /// Records in state Done.
    pub done: u64,
    /// Records in state Failed.
    pub failed: u64,
    /// Stored bodies read back and checked (checksum and digest).
    pub bodies_checked: u64,
    /// The first [`MAX_REPORTED_VIOLATIONS`] violations, one line each.
    pub violations: Vec<String>,
    /// How many violations there are in all.
    pub violation_count: u64,
}

impl VerifyReport {
    /// True when no invariant is violated.
    pub fn is_clean(&self) -> bool {
        self.violation_count == 0
    }

    fn violation(&mut self, message: String) {
        self.violation_count += 1;
        if self.violations.len() < MAX_REPORTED_VIOLATIONS {
            self.violations.push(message);
        }
    }
}

impl Store {
    /// Checks every invariant of the store and reports what is violated:
    /// - each URL record's two parts (index entry and details) decode and name each other, every
    ///   id is below the next id to hand out, and the fields agree with the record's one state (a Queued record has a
    ///   queue seq and no finished page; a Done/Failed one has a page and no queue seq);
    /// - queue entries and Queued records correspond one-to-one (each entry names a Queued record
    ///   with that seq and host key; each Queued record has its entry; the counts agree), and every
    ///   seq is below the next seq to hand out;
    /// - each stored body lies within its segment's committed length and reads back with a good
    ///   checksum and digest;
    /// - the counters equal the true counts; every committed segment exists and is at least as long
    ///   as committed; host statistics decode.
    ///
    /// Blocks other commits of this `Store` while it runs. Damaged data is reported, not returned
    /// as `Err`; `Err` means the database itself could not be read.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let inner = &self.inner;
        // Hold the commit lock so the trees are not changed under us by this process.
        let _writer = inner
            .writer
            .lock()
            .map_err(|_| StoreError::corrupt("a previous commit panicked; reopen the store"))?;
        let mut report = VerifyReport::default();

        let next_seq = self.counter(meta_keys::NEXT_SEQ, "queue seq counter", &mut report)?;
        let next_id = self.counter(meta_keys::NEXT_ID, "URL id counter", &mut report)?;
        let committed = self.verify_segments(&mut report)?;

        // Pass 1: every URL record (index entry + details), and each Queued record's queue entry.
        for item in inner.index.iter() {
            let (k, v) = item?;
            report.urls += 1;
            let Ok(url) = String::from_utf8(k.to_vec()) else {
                report.violation(format!("URL key {k:?} is not UTF-8"));
                continue;
            };
            let index = match decode_index(&v, &url) {
                Ok(r) => r,
                Err(e) => {
                    report.violation(e.to_string());
                    continue;
                }
            };
            match index.state {
                UrlState::Queued => report.queued += 1,
                UrlState::Done => report.done += 1,
                UrlState::Failed => report.failed += 1,
            }
            if index.id >= next_id {
                report.violation(format!(
                    "{url}: details id {} is not below the next id {next_id}",
                    index.id
                ));
            }
            let details = match inner.details.get(details_key(index.id))? {
                None => {
                    report.violation(format!("{url}: its details #{} are missing", index.id));
                    continue;
                }
                Some(v) => match decode_details(&v, index.id) {
                    Ok(d) => d,
                    // Reported by pass 1b.
                    Err(_) => continue,
                },
            };
            if details.url != url {
                report.violation(format!(
                    "{url}: its details #{} are those of {}",
                    index.id, details.url
                ));
                continue;
            }
            let record = join(index, details);
            self.verify_record(&url, &record, next_seq, &committed, &mut report)?;
        }

        // Pass 1b: every details entry belongs to the index entry of its URL.
        for item in inner.details.iter() {
            let (k, v) = item?;
            let id = match details_id(&k) {
                Ok(id) => id,
                Err(e) => {
                    report.violation(e.to_string());
                    continue;
                }
            };
            let details = match decode_details(&v, id) {
                Ok(d) => d,
                Err(e) => {
                    report.violation(e.to_string());
                    continue;
                }
            };
            match self.index_of(&details.url)? {
                Some(index) if index.id == id => {}
                Some(index) => report.violation(format!(
                    "URL details #{id} ({}): its index entry names #{}",
                    details.url, index.id
                )),
                None => report.violation(format!(
                    "URL details #{id} ({}): no index entry",
                    details.url
                )),
            }
        }

        // Pass 2: every queue entry points back at a matching Queued record.
        let mut entries = 0u64;
        for item in inner.queue.iter() {
            let (k, v) = item?;
            entries += 1;
            let (host, seq) = match split_queue_key(&k) {
                Ok(hs) => hs,
                Err(e) => {
                    report.violation(e.to_string());
                    continue;
                }
            };
            let Ok(url) = std::str::from_utf8(&v) else {
                report.violation(format!("queue entry {host} #{seq}: URL is not UTF-8"));
                continue;
            };
            let what = format!("queue entry {host} #{seq} ({url})");
            if seq >= next_seq {
                report.violation(format!("{what}: seq is not below the next seq {next_seq}"));
            }
            let index = match inner.index.get(url.as_bytes())? {
                None => {
                    report.violation(format!("{what}: no URL record"));
                    continue;
                }
                Some(r) => match decode_index(&r, url) {
                    Ok(r) => r,
                    // Already reported in pass 1.
                    Err(_) => continue,
                },
            };
            if index.state != UrlState::Queued {
                report.violation(format!("{what}: the URL is {:?}, not Queued", index.state));
            } else if index.queue_seq != Some(seq) {
                report.violation(format!(
                    "{what}: the record's queue seq is {:?}",
                    index.queue_seq
                ));
            } else {
                // Details that are missing or damaged were reported in pass 1.
                let host_key = inner
                    .details
                    .get(details_key(index.id))?
                    .and_then(|v| decode_details(&v, index.id).ok())
                    .and_then(|d| d.host_key);
                if let Some(recorded) = host_key.filter(|h| h != host) {
                    report.violation(format!("{what}: the record's host key is {recorded:?}"));
                }
            }
        }
        if entries != report.queued {
            report.violation(format!(
                "{entries} queue entries but {} Queued URL records",
                report.queued
            ));
        }

        let counted = Counters {
            queued: report.queued,
            done: report.done,
            failed: report.failed,
        };
        match inner.meta.get(meta_keys::COUNTERS)? {
            None if counted == Counters::default() => {}
            None => report.violation(format!("counters are missing; true counts {counted:?}")),
            Some(v) => match decode_counters(&v) {
                Err(e) => report.violation(e.to_string()),
                Ok(stored) if stored != counted => report.violation(format!(
                    "counters say {stored:?} but the records count {counted:?}"
                )),
                Ok(_) => {}
            },
        }

        for item in inner.hosts.iter() {
            let (k, v) = item?;
            let host = String::from_utf8_lossy(&k);
            if let Err(e) = decode_host_stats(&v, &host) {
                report.violation(e.to_string());
            }
        }
        Ok(report)
    }

    /// The counter under meta `key` (0 if absent); one that does not decode is a violation, and
    /// then no value is below it.
    fn counter(&self, key: &str, what: &str, report: &mut VerifyReport) -> Result<u64, StoreError> {
        Ok(match self.inner.meta.get(key)? {
            None => 0,
            Some(v) => decode_u64(&v, what).unwrap_or_else(|e| {
                report.violation(e.to_string());
                u64::MAX
            }),
        })
    }

    /// The index entry of `url`, if it decodes.
    fn index_of(&self, url: &str) -> Result<Option<UrlIndex>, StoreError> {
        Ok(self
            .inner
            .index
            .get(url.as_bytes())?
            .and_then(|v| decode_index(&v, url).ok()))
    }

    /// Checks the committed segment lengths against the files; returns the committed lengths.
    fn verify_segments(&self, report: &mut VerifyReport) -> Result<BTreeMap<u32, u64>, StoreError> {
        let mut committed = BTreeMap::new();
        for item in self.inner.meta.scan_prefix(meta_keys::SEGMENT_PREFIX) {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let Ok(id) = key[meta_keys::SEGMENT_PREFIX.len()..].parse::<u32>() else {
                report.violation(format!("bad segment key {key:?} in meta"));
                continue;
            };
            match decode_u64(&v, &key) {
                Ok(len) => {
                    committed.insert(id, len);
                }
                Err(e) => report.violation(e.to_string()),
            }
        }
        let files = segments::list_segments(&self.inner.segments_dir)?;
        for (id, len) in &committed {
            let path = segments::segment_path(&self.inner.segments_dir, *id);
            match fs::metadata(&path) {
                Ok(m) if m.len() < *len => report.violation(format!(
                    "segment {} is {} bytes, shorter than its committed {len}",
                    path.display(),
                    m.len()
                )),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if *len > 0 {
                        report.violation(format!(
                            "segment {} is missing ({len} bytes committed)",
                            path.display()
                        ));
                    }
                }
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
        for (id, path) in files {
            if !committed.contains_key(&id) {
                let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if len > 0 {
                    report.violation(format!(
                        "segment {} has {len} bytes but nothing committed",
                        path.display()
                    ));
                }
            }
        }
        Ok(committed)
    }

    /// Checks one decoded URL record.
    fn verify_record(
        &self,
        url: &str,
        record: &UrlRecord,
        next_seq: u64,
        committed: &BTreeMap<u32, u64>,
        report: &mut VerifyReport,
    ) -> Result<(), StoreError> {
        match record.state {
            UrlState::Queued => {
                let Some(seq) = record.queue_seq else {
                    report.violation(format!("{url}: Queued without a queue seq"));
                    return Ok(());
                };
                if seq >= next_seq {
                    report.violation(format!(
                        "{url}: queue seq {seq} is not below the next seq {next_seq}"
                    ));
                }
                // Records converted from format version 1 have no host key: pass 2 and the
                // count cover them.
                if let Some(host) = &record.host_key {
                    match self.inner.queue.get(queue_key(host, seq))? {
                        None => report.violation(format!(
                            "{url}: Queued (seq {seq}, host {host}) but has no queue entry"
                        )),
                        Some(v) if v.as_ref() != url.as_bytes() => report.violation(format!(
                            "{url}: its queue entry (seq {seq}, host {host}) names {}",
                            String::from_utf8_lossy(&v)
                        )),
                        Some(_) => {}
                    }
                }
            }
            UrlState::Done | UrlState::Failed => {
                if let Some(seq) = record.queue_seq {
                    report.violation(format!(
                        "{url}: {:?} but still has queue seq {seq}",
                        record.state
                    ));
                }
                let Some(page) = &record.page else {
                    report.violation(format!("{url}: {:?} without page data", record.state));
                    return Ok(());
                };
                if let Some(pointer) = &page.body {
                    let end = pointer.offset.saturating_add(pointer.length.into());
                    match committed.get(&pointer.segment) {
                        Some(len) if end <= *len => {}
                        _ => report.violation(format!(
                            "{url}: body {}:{}+{} lies past the committed end of its segment",
                            pointer.segment, pointer.offset, pointer.length
                        )),
                    }
                    report.bodies_checked += 1;
                    match self.read_body(pointer) {
                        Ok(_) => {}
                        Err(e @ StoreError::Corrupt { .. }) => {
                            report.violation(format!("{url}: {e}"))
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }
}
