//! Turning parsed pages into one store batch: each page's completion record, and the URLs it
//! discovered (links and redirect targets) that pass the scope rules, at the right depth.
//! Runs on the blocking pool, inside the persist stage's commit.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use trawl_frontier::{Job, Scope};
use trawl_store::{CommitBatch, Completion, NewUrl, Outcome, PageMeta, Store};
use url::Url;

use super::messages::{FetchOutcome, ParsedJob};
use super::report::CrawledPage;
use crate::Error;

/// The rules a batch is built by.
pub(crate) struct BatchBuilder {
    pub(crate) scope: Scope,
    pub(crate) max_redirects: u32,
    pub(crate) store_bodies: bool,
}

/// One page of a batch: its report for the caller and what it discovered.
pub(crate) struct PreparedPage {
    pub(crate) report: CrawledPage,
    pub(crate) host_key: String,
    pub(crate) discovered: Vec<String>,
}

type Skipped = BTreeMap<&'static str, u64>;

impl BatchBuilder {
    /// Builds the batch for `items`. A page's depth is the one in its store record, which is lower
    /// than its job's when a shorter path to it was found while it was queued.
    pub(crate) fn build(
        &self,
        store: &Store,
        items: Vec<ParsedJob>,
        skipped: &mut Skipped,
    ) -> Result<(CommitBatch, Vec<PreparedPage>), Error> {
        let mut batch = CommitBatch::default();
        let mut pages = Vec::with_capacity(items.len());
        for mut item in items {
            if let Some(record) = store.url(item.job.url.as_str())? {
                if record.depth < item.job.depth {
                    item.job.depth = record.depth;
                    item.job.redirect_hops = record.redirect_hops;
                }
            }
            let from = batch.discovered.len();
            let (report, host_key) = self.prepare(item, &mut batch, skipped);
            let discovered = batch.discovered[from..]
                .iter()
                .map(|new| new.url.clone())
                .collect();
            pages.push(PreparedPage {
                report,
                host_key,
                discovered,
            });
        }
        Ok((batch, pages))
    }

    /// Turns one parsed job into its completion (pushed to `batch`) and its report.
    fn prepare(
        &self,
        item: ParsedJob,
        batch: &mut CommitBatch,
        skipped: &mut Skipped,
    ) -> (CrawledPage, String) {
        let ParsedJob {
            job,
            outcome,
            fetched_at,
            parsed,
        } = item;
        let mut page = PageMeta {
            fetched_at_ms: fetched_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            ..PageMeta::default()
        };
        let mut report = CrawledPage {
            url: job.url.clone(),
            depth: job.depth,
            status: None,
            content_type: None,
            title: None,
            body: Bytes::new(),
            outlinks: 0,
            newly_queued: 0,
            error: None,
            elapsed: Duration::ZERO,
        };
        let mut body = None;
        let state = match outcome {
            FetchOutcome::Fetched(fetched) => {
                page.status = Some(fetched.status.as_u16());
                page.content_type = fetched.content_type().map(str::to_string);
                page.etag = fetched.header_str("etag").map(str::to_string);
                page.last_modified = fetched.header_str("last-modified").map(str::to_string);
                page.elapsed_ms = fetched.elapsed.as_millis() as u64;
                page.body_size = fetched.body.len() as u64;
                if let Some(target) = &fetched.redirect_to {
                    page.redirect_to = Some(target.to_string());
                    self.discover_redirect(&job, target, batch, skipped);
                }
                if let Some(parsed) = &parsed {
                    page.title = parsed.title.clone();
                    let mut outlinks = 0u32;
                    for link in parsed.links_to_follow() {
                        outlinks += 1;
                        self.discover(link, job.depth + 1, 0, &job.url, batch, skipped);
                    }
                    page.outlinks = outlinks;
                }
                report.status = page.status;
                report.content_type = page.content_type.clone();
                report.title = page.title.clone();
                report.outlinks = page.outlinks;
                report.elapsed = fetched.elapsed;
                report.body = fetched.body.clone();
                if self.store_bodies && !fetched.body.is_empty() {
                    body = Some(fetched.body);
                }
                Outcome::Done
            }
            FetchOutcome::Failed(err) => {
                page.error_kind = Some(err.kind().to_string());
                page.error = Some(err.to_string());
                Outcome::Failed
            }
            FetchOutcome::Blocked { kind, reason } => {
                page.error_kind = Some(kind.to_string());
                page.error = Some(reason);
                Outcome::Failed
            }
        };
        if let (Some(kind), Some(message)) = (&page.error_kind, &page.error) {
            report.error = Some((kind.clone(), message.clone()));
        }
        batch.completed.push(Completion {
            url: job.url.to_string(),
            host_key: job.host_key.clone(),
            outcome: state,
            page,
            body,
        });
        (report, job.host_key)
    }

    fn discover_redirect(
        &self,
        job: &Job,
        target: &Url,
        batch: &mut CommitBatch,
        skipped: &mut Skipped,
    ) {
        if job.redirect_hops >= self.max_redirects {
            *skipped.entry("too_many_redirects").or_default() += 1;
            return;
        }
        match trawl_parser::canonicalize(target) {
            Some(target) => self.discover(
                &target,
                job.depth,
                job.redirect_hops + 1,
                &job.url,
                batch,
                skipped,
            ),
            None => *skipped.entry("scheme").or_default() += 1,
        }
    }

    fn discover(
        &self,
        url: &Url,
        depth: u32,
        redirect_hops: u32,
        found_on: &Url,
        batch: &mut CommitBatch,
        skipped: &mut Skipped,
    ) {
        if let Err(reason) = self.scope.check(url, depth) {
            *skipped.entry(reason.as_str()).or_default() += 1;
            return;
        }
        batch.discovered.push(NewUrl {
            url: url.to_string(),
            host_key: trawl_fetcher::host_key(url),
            depth,
            found_on: Some(found_on.to_string()),
            redirect_hops,
        });
    }
}
