//! The persist stage: the ONE writer to the store, on its own thread (its caches stay warm; the
//! runtime never blocks). It groups parsed pages (as many as are waiting, up to `commit_batch`),
//! turns each into a completion plus its in-scope discovered URLs and commits the group in one
//! store transaction. Only then does it tell the frontier (new jobs first, then the completions)
//! and the caller (one [`CrawledPage`] each, waiting on a slow caller).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use trawl_frontier::Scope;
use trawl_store::Store;

use super::batch::{BatchBuilder, PreparedPage};
use super::frontier_task::job_from_queued;
use super::known::KnownUrls;
use super::messages::{FrontierCmd, ParsedJob};
use super::report::{CrawledPage, LiveStats, Summary};
use crate::Error;

/// URLs kept in the known-URL cache (about 100 bytes each).
const KNOWN_URLS_CAPACITY: usize = 65_536;

pub(crate) struct PersistStage {
    pub(crate) store: Store,
    pub(crate) scope: Scope,
    pub(crate) canonicalizer: trawl_parser::Canonicalizer,
    pub(crate) frontier_config: trawl_frontier::FrontierConfig,
    pub(crate) input: mpsc::Receiver<ParsedJob>,
    pub(crate) frontier: mpsc::Sender<FrontierCmd>,
    pub(crate) pages: mpsc::Sender<CrawledPage>,
    pub(crate) commit_batch: usize,
    pub(crate) max_redirects: u32,
    pub(crate) store_bodies: bool,
    pub(crate) live: Arc<LiveStats>,
}

impl PersistStage {
    /// Starts the stage on its thread ("trawl-commit"). It runs until the input closes; the
    /// receiver then gets what was committed, as a summary (elapsed not set). A thread that
    /// panicked drops the sender.
    pub(crate) fn start(self) -> std::io::Result<oneshot::Receiver<Result<Summary, Error>>> {
        let (done, result) = oneshot::channel();
        std::thread::Builder::new()
            .name("trawl-commit".into())
            .spawn(move || {
                let _ = done.send(self.run());
            })?;
        Ok(result)
    }

    fn run(mut self) -> Result<Summary, Error> {
        let builder = BatchBuilder {
            scope: self.scope.clone(),
            canonicalizer: self.canonicalizer.clone(),
            frontier: self.frontier_config.clone(),
            max_redirects: self.max_redirects,
            store_bodies: self.store_bodies,
            known: std::sync::Mutex::new(KnownUrls::new(KNOWN_URLS_CAPACITY)),
        };
        let mut summary = Summary::default();
        loop {
            let mut items = Vec::with_capacity(self.commit_batch);
            match self.input.blocking_recv() {
                Some(item) => items.push(item),
                None => break,
            }
            while items.len() < self.commit_batch {
                match self.input.try_recv() {
                    Ok(item) => items.push(item),
                    Err(_) => break,
                }
            }
            self.commit(items, &builder, &mut summary)?;
        }
        self.store.flush()?;
        Ok(summary)
    }

    fn commit(
        &mut self,
        items: Vec<ParsedJob>,
        builder: &BatchBuilder,
        summary: &mut Summary,
    ) -> Result<(), Error> {
        let mut skipped = BTreeMap::new();
        let (batch, pages) = builder.build(&self.store, items, &mut skipped)?;
        let started = Instant::now();
        let pages_in_batch = batch.completed.len();
        // A failed commit ends the crawl, so the cache may learn the batch before it lands.
        builder.remember(&batch);
        let outcome = self.store.commit(batch)?;
        tracing::debug!(pages = pages_in_batch, elapsed = ?started.elapsed(), "committed a batch");
        for (reason, count) in skipped {
            *summary.skipped.entry(reason.to_string()).or_default() += count;
        }

        let newly_queued = outcome.newly_queued;
        let new_urls: std::collections::HashSet<&str> =
            newly_queued.iter().map(|q| q.url.as_str()).collect();
        let per_page_new: Vec<u32> = pages
            .iter()
            .map(|page| {
                page.discovered
                    .iter()
                    .filter(|url| new_urls.contains(url.as_str()))
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
        let hosts = pages
            .iter()
            .map(|page| (page.host_key.clone(), page.signal))
            .collect();
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
                .fetch_add(report.body.len() as u64, Ordering::Relaxed);
            if report.error.is_some() {
                self.live.errors.fetch_add(1, Ordering::Relaxed);
            }
            // A caller that stopped listening does not stop the crawl.
            let _ = self.pages.blocking_send(report);
        }
        Ok(())
    }
}
