//! Turning parsed pages into one store batch: each page's completion (done, failed, or re-queued
//! for a retry), the URLs it discovered (links and redirect targets) that pass the scope rules at
//! the right depth, what the request says about its host, and per-host statistics.
//! Runs on the blocking pool, inside the persist stage's commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use trawl_frontier::{FrontierConfig, Job, Scope};
use trawl_store::{
    Body, CommitBatch, Completion, HostStatsDelta, NewUrl, Outcome, PageMeta, Store,
};
use url::Url;

use super::known::KnownUrls;
use super::links::{FingerprintMap, FoundLink, FoundLinks};
use super::messages::{FetchOutcome, ParsedJob};
use super::report::CrawledPage;
use crate::Error;

/// The rules a batch is built by.
pub(crate) struct BatchBuilder {
    pub(crate) scope: Scope,
    /// URL identity for redirect targets (links come canonicalised from the parser).
    pub(crate) canonicalizer: trawl_parser::Canonicalizer,
    pub(crate) frontier: FrontierConfig,
    pub(crate) max_redirects: u32,
    pub(crate) store_bodies: bool,
    /// URLs known to be in the store: links to them need no store lookup.
    pub(crate) known: Mutex<KnownUrls>,
}

/// What a batch collects while it is built: the batch itself, the links left out by reason, and
/// the URLs already in it (with their least depth) or known to the store, consulted before a link
/// joins it.
struct Discoveries<'a> {
    batch: CommitBatch,
    skipped: &'a mut Skipped,
    known: &'a KnownUrls,
    /// Fingerprints of the URLs in the batch, with their least depth.
    in_batch: FingerprintMap<u32>,
    /// The fingerprint of each of `batch.discovered`, in order.
    discovered_fingerprints: Vec<u128>,
}

/// One page of a batch: its report for the caller, what it discovered, and what it says about
/// its host.
pub(crate) struct PreparedPage {
    pub(crate) report: CrawledPage,
    pub(crate) host_key: String,
    /// Fingerprints of the URLs it discovered (some may turn out to be known to the store).
    pub(crate) discovered: Vec<u128>,
    /// Re-queued for another attempt, not before this moment: not reported to the caller yet.
    pub(crate) retry_at: Option<Instant>,
}

type Skipped = BTreeMap<&'static str, u64>;

/// A built batch, its pages, and the fingerprints of the URLs it discovered with their depths.
pub(crate) struct Built {
    pub(crate) batch: CommitBatch,
    pub(crate) pages: Vec<PreparedPage>,
    pub(crate) found: FingerprintMap<u32>,
}

/// What to do with a finished job.
struct Verdict {
    outcome: Outcome,
    retry_after: Option<Duration>,
}

impl BatchBuilder {
    /// Builds the batch for `items` (draining it). A page's depth is the one in its store record,
    /// which is lower than its job's when a shorter path to it was found while it was queued.
    pub(crate) fn build(
        &self,
        store: &Store,
        items: &mut Vec<ParsedJob>,
        skipped: &mut Skipped,
    ) -> Result<Built, Error> {
        let mut pages = Vec::with_capacity(items.len());
        let mut hosts: HashMap<String, HostStatsDelta> = HashMap::new();
        let known = self
            .known
            .lock()
            .map_err(|_| Error::Pipeline("the known-URL cache was poisoned".into()))?;
        let mut found = Discoveries {
            batch: CommitBatch::default(),
            skipped,
            known: &known,
            in_batch: FingerprintMap::default(),
            discovered_fingerprints: Vec::new(),
        };
        for mut item in items.drain(..) {
            if let Some(record) = store.url_summary(item.job.url.as_str())? {
                if record.depth < item.job.depth {
                    item.job.depth = record.depth;
                    item.job.redirect_hops = record.redirect_hops;
                }
            }
            let from = found.discovered_fingerprints.len();
            let page = self.prepare(item, &mut found, &mut hosts);
            let discovered = found.discovered_fingerprints[from..].to_vec();
            pages.push(PreparedPage { discovered, ..page });
        }
        let mut batch = found.batch;
        batch.host_stats = hosts.into_values().collect();
        Ok(Built {
            batch,
            pages,
            found: found.in_batch,
        })
    }

    /// Records that the store holds every URL the batch discovered (`found`, from
    /// [`BatchBuilder::build`]), at most at the depth it was found at (call as the batch is
    /// committed).
    pub(crate) fn remember(&self, found: &FingerprintMap<u32>) {
        if let Ok(mut known) = self.known.lock() {
            for (fingerprint, depth) in found {
                known.insert(*fingerprint, *depth);
            }
        }
    }

    /// Decides a finished job's outcome (what it says about its host reached the frontier from
    /// the fetch stage: [`FetchOutcome::host_signal`]).
    fn judge(&self, job: &Job, outcome: &FetchOutcome) -> Verdict {
        let can_retry = job.attempts < self.frontier.retries;
        let (retryable, retry_after) = match outcome {
            FetchOutcome::Fetched(fetched) => (
                trawl_fetcher::status_is_retryable(fetched.status),
                fetched.retry_after,
            ),
            FetchOutcome::Failed(err) => (err.is_retryable(), None),
            FetchOutcome::Blocked { kind, .. } if *kind == "robots_unreachable" => (true, None),
            FetchOutcome::Blocked { .. } => (false, None),
        };
        let outcome = match outcome {
            _ if retryable && can_retry => Outcome::Retry,
            FetchOutcome::Fetched(_) => Outcome::Done,
            _ => Outcome::Failed,
        };
        Verdict {
            outcome,
            retry_after,
        }
    }

    /// Turns one parsed job into its completion (pushed to `batch`) and its prepared page.
    fn prepare(
        &self,
        item: ParsedJob,
        found: &mut Discoveries<'_>,
        hosts: &mut HashMap<String, HostStatsDelta>,
    ) -> PreparedPage {
        let verdict = self.judge(&item.job, &item.outcome);
        let ParsedJob {
            job,
            outcome,
            fetched_at,
            host,
            parsed,
            links,
            encoded_body,
            body_size,
        } = item;
        let stats = hosts
            .entry(job.host_key.clone())
            .or_insert_with(|| HostStatsDelta {
                host_key: job.host_key.clone(),
                ..HostStatsDelta::default()
            });
        stats.delay_ms = Some(host.delay_in_force.as_millis() as u64);
        stats.max_rate_milli = stats.max_rate_milli.max((host.max_rate * 1000.0) as u64);
        stats.retries += u64::from(verdict.outcome == Outcome::Retry);
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
            body_size: 0,
            outlinks: 0,
            newly_queued: 0,
            error: None,
            elapsed: Duration::ZERO,
            records: Vec::new(),
        };
        let mut body = None;
        let is_final = verdict.outcome != Outcome::Retry;
        match outcome {
            FetchOutcome::Fetched(fetched) => {
                stats.requests += 1;
                stats.last_status = Some(fetched.status.as_u16());
                stats.errors += u64::from(fetched.status.is_server_error());
                page.status = Some(fetched.status.as_u16());
                page.content_type = fetched.content_type().map(str::to_string);
                page.etag = fetched.header_str("etag").map(str::to_string);
                page.last_modified = fetched.header_str("last-modified").map(str::to_string);
                page.elapsed_ms = fetched.elapsed.as_millis() as u64;
                page.body_size = body_size;
                if is_final {
                    if let Some(target) = &fetched.redirect_to {
                        page.redirect_to = Some(target.to_string());
                        self.discover_redirect(&job, target, found);
                    }
                    if let Some(parsed) = &parsed {
                        page.title = parsed.title.clone();
                        page.canonical = parsed.canonical.as_ref().map(Url::to_string);
                        page.noindex = parsed.robots.noindex;
                        page.nofollow_links = parsed.nofollow_links as u32;
                        page.dropped_links = parsed.dropped_links as u32;
                        if parsed.dropped_links > 0 {
                            *found.skipped.entry("over_link_caps").or_default() +=
                                parsed.dropped_links as u64;
                        }
                        if !parsed.records.is_empty() {
                            page.records = serde_json::to_string(&parsed.records).ok();
                            report.records = parsed.records.clone();
                        }
                        page.outlinks = links.len() as u32;
                        let found_on = job.url.as_str();
                        for link in links.iter() {
                            self.discover(link, job.depth + 1, 0, found_on, found);
                        }
                    }
                }
                report.status = page.status;
                report.content_type = page.content_type.clone();
                report.title = page.title.clone();
                report.outlinks = page.outlinks;
                report.elapsed = fetched.elapsed;
                report.body = fetched.body.clone();
                report.body_size = body_size;
                if is_final && self.store_bodies && body_size > 0 {
                    body = Some(match encoded_body {
                        Some(encoded) => Body::Encoded(encoded),
                        None => Body::Raw(fetched.body),
                    });
                }
            }
            FetchOutcome::Failed(err) => {
                stats.requests += 1;
                stats.errors += 1;
                page.error_kind = Some(err.kind().to_string());
                page.error = Some(err.to_string());
            }
            FetchOutcome::Blocked { kind, reason } => {
                if kind == "robots_disallowed" {
                    stats.robots_blocked += 1;
                } else {
                    stats.errors += 1;
                }
                page.error_kind = Some(kind.to_string());
                page.error = Some(reason);
            }
        }
        if let (Some(kind), Some(message)) = (&page.error_kind, &page.error) {
            report.error = Some((kind.clone(), message.clone()));
        }
        let retry_at = (!is_final).then(|| {
            let jitter = self
                .frontier
                .retry_delay(job.attempts, fastrand::f64())
                .unwrap_or_default();
            Instant::now() + jitter.max(verdict.retry_after.unwrap_or_default())
        });
        found.batch.completed.push(Completion {
            url: job.url.to_string(),
            host_key: job.host_key.clone(),
            outcome: verdict.outcome,
            page,
            body,
        });
        PreparedPage {
            report,
            host_key: job.host_key,
            discovered: Vec::new(),
            retry_at,
        }
    }

    fn discover_redirect(&self, job: &Job, target: &Url, found: &mut Discoveries<'_>) {
        if job.redirect_hops >= self.max_redirects {
            *found.skipped.entry("too_many_redirects").or_default() += 1;
            return;
        }
        match self.canonicalizer.canonicalize(target) {
            Some(target) => {
                let links = FoundLinks::new([&target], &self.scope);
                for link in links.iter() {
                    self.discover(
                        link,
                        job.depth,
                        job.redirect_hops + 1,
                        job.url.as_str(),
                        found,
                    );
                }
            }
            None => *found.skipped.entry("scheme").or_default() += 1,
        }
    }

    fn discover(
        &self,
        link: FoundLink<'_>,
        depth: u32,
        redirect_hops: u32,
        found_on: &str,
        found: &mut Discoveries<'_>,
    ) {
        if let Err(reason) = self.scope.check_at_depth(link.early_scope, depth) {
            *found.skipped.entry(reason.as_str()).or_default() += 1;
            return;
        }
        // A URL the store holds at this depth or less, or one already in this batch at this
        // depth or less, needs no store lookup: the store would change nothing.
        let in_batch = found
            .in_batch
            .get(&link.fingerprint)
            .is_some_and(|known| *known <= depth);
        if in_batch || found.known.covers(link.fingerprint, depth) {
            return;
        }
        found
            .in_batch
            .entry(link.fingerprint)
            .and_modify(|known| *known = (*known).min(depth))
            .or_insert(depth);
        found.discovered_fingerprints.push(link.fingerprint);
        found.batch.discovered.push(NewUrl {
            url: link.url.to_string(),
            host_key: link.host_key.to_string(),
            depth,
            found_on: Some(found_on.to_string()),
            redirect_hops,
            lastmod: None,
        });
    }
}
