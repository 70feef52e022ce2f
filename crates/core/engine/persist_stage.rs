//! The persist stage: the ONE writer to the store, on two threads of its own (their caches stay
//! warm; the runtime never blocks). The commit thread groups parsed pages (as many as are
//! waiting, up to `commit_batch`, starting a group at most once per `commit_interval` so that a
//! group is not one page at a time), turns each into a completion plus its in-scope discovered URLs
//! and applies the group to the store ([`Store::commit_unflushed`]: bodies synced, one sled
//! transaction). The flush thread makes applied groups durable, several with one flush when they
//! queue up, and only then tells the frontier (new jobs first, then the completions) and the
//! caller (one [`CrawledPage`] each, waiting on a slow caller). So the next group is applied while
//! the last one is flushed, and nothing is reported before it is durable.

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use trawl_frontier::Scope;
use trawl_store::{CommitOutcome, Store};

use super::batch::{BatchBuilder, PreparedPage};
use super::frontier_task::job_from_queued;
use super::known::KnownUrls;
use super::links::{fingerprint, FingerprintMap};
use super::messages::{FrontierCmd, ParsedJob};
use super::report::{CrawledPage, LiveStats, Summary};
use crate::Error;

/// URLs kept in the known-URL cache (fingerprints: about 60 bytes each with the table's slack,
/// so ~4 MB when full). Twice as many measured +9 MB of peak RSS at a million pages (247 MB of
/// the 256 MB budget) for a hit rate that, with links spread over the whole site, rises by only
/// a few percent.
const KNOWN_URLS_CAPACITY: usize = 65_536;

/// Applied groups waiting for the flush thread beyond the one it is flushing: the commit thread
/// runs at most this far ahead of durability.
const APPLIED_GROUPS_WAITING: usize = 1;

pub(crate) struct PersistStage {
    pub(crate) store: Store,
    pub(crate) scope: Scope,
    pub(crate) canonicalizer: trawl_parser::Canonicalizer,
    pub(crate) frontier_config: trawl_frontier::FrontierConfig,
    pub(crate) input: mpsc::Receiver<ParsedJob>,
    pub(crate) frontier: mpsc::Sender<FrontierCmd>,
    pub(crate) pages: mpsc::Sender<CrawledPage>,
    pub(crate) commit_batch: usize,
    /// Shortest time between the starts of two groups (see [`wait_before_group`]).
    pub(crate) commit_interval: Duration,
    pub(crate) max_redirects: u32,
    pub(crate) store_bodies: bool,
    pub(crate) live: Arc<LiveStats>,
}

/// A group applied to the store, on its way to being flushed and reported.
struct Applied {
    pages: Vec<PreparedPage>,
    skipped: BTreeMap<&'static str, u64>,
    outcome: CommitOutcome,
}

/// The flush thread's part: makes applied groups durable and reports them.
struct Acknowledger {
    store: Store,
    frontier: mpsc::Sender<FrontierCmd>,
    pages: mpsc::Sender<CrawledPage>,
    live: Arc<LiveStats>,
    summary: Summary,
}

impl PersistStage {
    /// Starts the stage on its threads ("trawl-commit", "trawl-flush"). It runs until the input
    /// closes; the receiver then gets what was committed, as a summary (elapsed not set). The
    /// first failure of either thread (an error or a panic) is sent at once, so the crawl can stop
    /// instead of waiting for completions that will never come.
    pub(crate) fn start(self) -> std::io::Result<oneshot::Receiver<Result<Summary, Error>>> {
        let (done, result) = oneshot::channel();
        let done = Arc::new(Mutex::new(Some(done)));
        let (applied, to_flush) = std_mpsc::sync_channel(APPLIED_GROUPS_WAITING);
        let acknowledger = Acknowledger {
            store: self.store.clone(),
            frontier: self.frontier.clone(),
            pages: self.pages.clone(),
            live: self.live.clone(),
            summary: Summary::default(),
        };
        let flusher = {
            let done = done.clone();
            std::thread::Builder::new()
                .name("trawl-flush".into())
                .spawn(move || {
                    let result = catch_unwind(AssertUnwindSafe(|| acknowledger.run(to_flush)))
                        .unwrap_or_else(|_| {
                            Err(Error::Pipeline("the flush thread panicked".into()))
                        });
                    result.map_err(|err| {
                        finish(&done, Err(err));
                        Error::Pipeline("the flush thread failed (reported already)".into())
                    })
                })?
        };
        std::thread::Builder::new()
            .name("trawl-commit".into())
            .spawn(move || {
                let store = self.store.clone();
                let applying = catch_unwind(AssertUnwindSafe(|| self.run(applied)))
                    .unwrap_or_else(|_| Err(Error::Pipeline("the commit thread panicked".into())));
                let applying = applying.map_err(|err| {
                    finish(&done, Err(err));
                    Error::Pipeline("the commit thread failed (reported already)".into())
                });
                // The flush thread ends once the commit thread's sender is gone.
                let acknowledged = flusher
                    .join()
                    .unwrap_or_else(|_| Err(Error::Pipeline("the flush thread panicked".into())));
                let result = match (applying, acknowledged) {
                    (Err(err), _) | (Ok(()), Err(err)) => Err(err),
                    (Ok(()), Ok(summary)) => store.flush().map(|()| summary).map_err(Into::into),
                };
                // Released before the crawl hears it is over: a caller may reopen the store at
                // once, and an open handle here would make that fail as "in use".
                drop(store);
                finish(&done, result);
            })?;
        Ok(result)
    }

    /// The commit thread: applies groups until the input closes or the flush thread is gone.
    fn run(mut self, applied: std_mpsc::SyncSender<Applied>) -> Result<(), Error> {
        let builder = BatchBuilder {
            scope: self.scope.clone(),
            canonicalizer: self.canonicalizer.clone(),
            frontier: self.frontier_config.clone(),
            max_redirects: self.max_redirects,
            store_bodies: self.store_bodies,
            known: std::sync::Mutex::new(KnownUrls::new(KNOWN_URLS_CAPACITY)),
        };
        // One buffer for every group: at the default batch size it is larger than glibc's mmap
        // threshold, and a fresh one per group cost an mmap, its page faults and an munmap (with
        // a TLB shootdown) on this thread each time.
        let mut items = Vec::with_capacity(self.commit_batch);
        let mut last_group: Option<Instant> = None;
        loop {
            let wait = wait_before_group(last_group, self.commit_interval, Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            match self.input.blocking_recv() {
                Some(item) => items.push(item),
                None => break,
            }
            last_group = Some(Instant::now());
            while items.len() < self.commit_batch {
                match self.input.try_recv() {
                    Ok(item) => items.push(item),
                    Err(_) => break,
                }
            }
            let group = self.apply(&mut items, &builder)?;
            if applied.send(group).is_err() {
                // The flush thread failed; its error is reported.
                break;
            }
        }
        Ok(())
    }

    /// Builds and applies the group in `items` (leaving it empty).
    fn apply(
        &mut self,
        items: &mut Vec<ParsedJob>,
        builder: &BatchBuilder,
    ) -> Result<Applied, Error> {
        let started = Instant::now();
        let mut skipped = BTreeMap::new();
        let super::batch::Built {
            batch,
            pages,
            found,
        } = builder.build(&self.store, items, &mut skipped)?;
        let built = started.elapsed();
        let pages_in_batch = batch.completed.len();
        let links_to_store = batch.discovered.len();
        // A failed commit ends the crawl, so the cache may learn the batch before it lands.
        builder.remember(&found);
        let outcome = self.store.commit_unflushed(batch)?;
        tracing::debug!(
            pages = pages_in_batch,
            links_to_store,
            newly_queued = outcome.newly_queued.len(),
            ?built,
            elapsed = ?started.elapsed(),
            "applied a batch"
        );
        Ok(Applied {
            pages,
            skipped,
            outcome,
        })
    }
}

/// How long the commit thread waits before it takes the next group: until `interval` has passed
/// since the last group started (none: at once). Pages that land meanwhile join the group, so
/// under load groups hold many pages (each group costs a segment sync, a transaction's fixed work,
/// a database flush and a round of wake-ups), while a page that lands after a quiet spell is
/// taken at once.
fn wait_before_group(last_group: Option<Instant>, interval: Duration, now: Instant) -> Duration {
    last_group.map_or(Duration::ZERO, |started| {
        interval.saturating_sub(now.saturating_duration_since(started))
    })
}

/// Sends the stage's result unless one was sent already (the first failure wins).
fn finish(
    done: &Mutex<Option<oneshot::Sender<Result<Summary, Error>>>>,
    result: Result<Summary, Error>,
) {
    if let Some(done) = done.lock().ok().and_then(|mut done| done.take()) {
        let _ = done.send(result);
    }
}

impl Acknowledger {
    /// Flushes and reports applied groups, in order, until the commit thread is done.
    fn run(mut self, to_flush: std_mpsc::Receiver<Applied>) -> Result<Summary, Error> {
        while let Ok(first) = to_flush.recv() {
            let mut groups = vec![first];
            groups.extend(to_flush.try_iter());
            let started = Instant::now();
            self.store.flush()?;
            tracing::debug!(groups = groups.len(), elapsed = ?started.elapsed(), "flushed");
            for group in groups {
                self.report(group);
            }
        }
        Ok(self.summary)
    }

    /// Tells the frontier and the caller about a durable group.
    fn report(&mut self, group: Applied) {
        let Applied {
            pages,
            skipped,
            outcome,
        } = group;
        let summary = &mut self.summary;
        for (reason, count) in skipped {
            *summary.skipped.entry(reason.to_string()).or_default() += count;
        }

        let newly_queued = outcome.newly_queued;
        let new_urls: FingerprintMap<()> = newly_queued
            .iter()
            .map(|q| (fingerprint(&q.url), ()))
            .collect();
        let per_page_new: Vec<u32> = pages
            .iter()
            .map(|page| {
                page.discovered
                    .iter()
                    .filter(|url| new_urls.contains_key(url))
                    .count() as u32
            })
            .collect();
        let mut jobs: Vec<_> = newly_queued
            .into_iter()
            .filter_map(job_from_queued)
            .collect();
        // Retries go back to the frontier with the moment they may be tried again.
        let retry_at: HashMap<&str, Instant> = pages
            .iter()
            .filter_map(|page| Some((page.report.url.as_str(), page.retry_at?)))
            .collect();
        for entry in outcome.requeued {
            let not_before = retry_at.get(entry.url.as_str()).copied();
            if let Some(mut job) = job_from_queued(entry) {
                job.not_before = not_before;
                jobs.push(job);
            }
        }
        summary.retries += retry_at.len() as u64;
        // Jobs first, then completions, on the same channel: the frontier never sees a host's work
        // end before the work it discovered. A frontier that is gone (crawl abandoned) is fine:
        // the jobs are in the store.
        if !jobs.is_empty() {
            let _ = self.frontier.blocking_send(FrontierCmd::Queued(jobs));
        }
        let hosts = pages.iter().map(|page| page.host_key.clone()).collect();
        let _ = self.frontier.blocking_send(FrontierCmd::Completed(hosts));
        for (page, new) in pages.into_iter().zip(per_page_new) {
            if page.retry_at.is_some() {
                continue;
            }
            let PreparedPage { mut report, .. } = page;
            report.newly_queued = new;
            summary.record_page(&report);
            self.live.pages.fetch_add(1, Ordering::Relaxed);
            self.live
                .bytes
                .fetch_add(report.body_size, Ordering::Relaxed);
            if report.error.is_some() {
                self.live.errors.fetch_add(1, Ordering::Relaxed);
            }
            // A caller that stopped listening does not stop the crawl.
            let _ = self.pages.blocking_send(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_waits_out_the_interval_since_the_last_one_started() {
        let interval = Duration::from_millis(3);
        let started = Instant::now();
        // The first group, and any after a quiet spell, go at once.
        assert_eq!(wait_before_group(None, interval, started), Duration::ZERO);
        assert_eq!(
            wait_before_group(Some(started), interval, started + Duration::from_millis(5)),
            Duration::ZERO
        );
        // A group that follows quickly waits for the rest of the interval.
        assert_eq!(
            wait_before_group(Some(started), interval, started + Duration::from_millis(1)),
            Duration::from_millis(2)
        );
        assert_eq!(
            wait_before_group(Some(started), interval, started),
            interval
        );
        // An interval of zero never waits.
        assert_eq!(
            wait_before_group(Some(started), Duration::ZERO, started),
            Duration::ZERO
        );
    }
}
