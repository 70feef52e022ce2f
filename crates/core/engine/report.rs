//! What a crawl tells its caller: one [`CrawledPage`] per committed page on the stream, live
//! counters for progress display, and a [`Summary`] at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use url::Url;

/// One page, reported after it is durably committed to the store.
#[derive(Debug, Clone)]
pub struct CrawledPage {
    /// The canonical URL fetched.
    pub url: Url,
    /// Link depth from the seeds.
    pub depth: u32,
    /// The HTTP status, if the server answered.
    pub status: Option<u16>,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// The HTML title, if any.
    pub title: Option<String>,
    /// The (decoded) body; empty when the fetch failed, and for every page of a crawl started
    /// [`without page bodies`](crate::Crawl::without_page_bodies) (the store still keeps it).
    pub body: Bytes,
    /// The size of the decoded body in bytes, whether or not `body` holds it.
    pub body_size: u64,
    /// Links found on the page that may be followed.
    pub outlinks: u32,
    /// Of those, how many were new to the crawl and queued.
    pub newly_queued: u32,
    /// Why the page failed, if it did: a short kind (`connect`, `tls`, `timeout`, ...) and a message.
    pub error: Option<(String, String)>,
    /// Time from request start to the end of the body.
    pub elapsed: Duration,
    /// Records the crawl's extraction rules made from the page (JSON objects).
    pub records: Vec<serde_json::Value>,
}

/// Counters updated as the crawl goes, for progress displays.
#[derive(Debug, Default)]
pub struct LiveStats {
    pub(crate) pages: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) queued_in_memory: AtomicU64,
}

impl LiveStats {
    /// Pages committed so far in this run.
    pub fn pages(&self) -> u64 {
        self.pages.load(Ordering::Relaxed)
    }
    /// Pages that failed (transport errors, robots blocks) so far in this run.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    /// Body bytes fetched so far in this run.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    /// Jobs handed to the fetch stage and not yet committed.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }
    /// Jobs waiting in the frontier's memory (more may wait in the store).
    pub fn queued(&self) -> u64 {
        self.queued_in_memory.load(Ordering::Relaxed)
    }
}

/// The end-of-run account of a crawl.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Pages committed in this run (fetched or failed).
    pub pages: u64,
    /// Of those, pages that failed without an HTTP answer.
    pub failed: u64,
    /// Body bytes fetched in this run.
    pub bytes: u64,
    /// Attempts that failed and were re-queued for a retry.
    pub retries: u64,
    /// Failures by kind (`connect`, `tls`, `timeout`, `robots_disallowed`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Answers by HTTP status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Discovered links left out, by reason (`out_of_scope_host`, `too_deep`, `excluded`, ...).
    pub skipped: BTreeMap<String, u64>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// The run was stopped by a cancellation (Ctrl-C) before it ran out of work.
    pub interrupted: bool,
    /// URLs still queued in the store at the end (resume continues with them).
    pub queued_left: u64,
    /// The process's peak resident memory, where the platform reports it (Linux).
    pub peak_rss_bytes: Option<u64>,
}

impl Summary {
    /// Pages per second over the run.
    pub fn pages_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.pages as f64 / secs
        } else {
            0.0
        }
    }

    pub(crate) fn record_page(&mut self, page: &CrawledPage) {
        self.pages += 1;
        self.bytes += page.body_size;
        if let Some(status) = page.status {
            *self.statuses.entry(status).or_default() += 1;
        }
        if let Some((kind, _)) = &page.error {
            self.failed += 1;
            *self.errors.entry(kind.clone()).or_default() += 1;
        }
    }

    /// A short multi-line human summary.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} pages ({} failed), {} in {:.1}s, {:.0} pages/s{}",
            self.pages,
            self.failed,
            human_bytes(self.bytes),
            self.elapsed.as_secs_f64(),
            self.pages_per_second(),
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        if !self.statuses.is_empty() {
            let statuses: Vec<String> = self
                .statuses
                .iter()
                .map(|(code, n)| format!("{code}: {n}"))
                .collect();
            let _ = writeln!(out, "  status codes: {}", statuses.join(", "));
        }
        if self.retries > 0 {
            let _ = writeln!(out, "  retries: {}", self.retries);
        }
        if !self.errors.is_empty() {
            let errors: Vec<String> = self
                .errors
                .iter()
                .map(|(kind, n)| format!("{kind}: {n}"))
                .collect();
            let _ = writeln!(out, "  errors: {}", errors.join(", "));
        }
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|(why, n)| format!("{why}: {n}"))
                .collect();
            let _ = writeln!(out, "  links skipped: {}", skipped.join(", "));
        }
        if let Some(peak) = self.peak_rss_bytes {
            let _ = writeln!(out, "  peak memory: {} RSS", human_bytes(peak));
        }
        if self.queued_left > 0 {
            let _ = writeln!(out, "  {} URLs still queued", self.queued_left);
        }
        out
    }
}

/// Bytes in B, KiB, MiB or GiB.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The process's peak resident set size (VmHWM), on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
