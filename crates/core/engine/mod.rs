//! The engine: wires the frontier task, the fetch, parse and persist stages with bounded channels,
//! and hands committed pages to the caller as a bounded stream. See `../shared/design.md`.

mod batch;
mod cpu_pool;
mod fetch_stage;
mod frontier_task;
mod known;
mod links;
mod messages;
mod parse_stage;
mod persist_stage;
mod report;
mod sitemaps;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use trawl_fetcher::Fetcher;
use trawl_frontier::Frontier;
use trawl_parser::Parser;
use trawl_store::{CommitBatch, NewUrl, Store};

pub use report::{human_bytes, peak_rss_bytes, CrawledPage, LiveStats, Summary};

use crate::config::{Config, CrawlPlan};
use crate::store_access::{load_config, open_store, queue_urls, save_config};
use crate::Error;
use frontier_task::{FrontierEnd, FrontierTask};

/// Pages buffered between the persist stage and a slow caller before the crawl waits.
const PAGE_STREAM_CAPACITY: usize = 256;
/// Commands buffered on the way back to the frontier task.
const FRONTIER_CMD_CAPACITY: usize = 1024;

/// A crawl that is configured, validated and has its store open, ready to [`Crawl::start`].
pub struct Crawl {
    config: Config,
    plan: CrawlPlan,
    store: Store,
    fetcher: Fetcher,
    parser: Parser,
    fresh: bool,
    page_bodies: bool,
}

impl Crawl {
    /// A new crawl of `config.crawl.seeds` into `config.crawl.store_dir`, which must not hold a
    /// crawl already (continue one with [`Crawl::resume`]).
    pub async fn new(config: Config) -> Result<Crawl, Error> {
        let plan = config.plan()?;
        let fetcher = Fetcher::new(config.fetcher.clone())?;
        let store = open_store(config.crawl.store_dir.clone(), config.store.clone()).await?;
        let existing = blocking(store.clone(), |store| Ok(store.counters()?)).await?;
        if existing.queued + existing.done + existing.failed > 0 {
            return Err(Error::Usage(format!(
                "store {} already holds a crawl; continue it with `trawl resume --store {}` or choose another --store",
                config.crawl.store_dir.display(),
                config.crawl.store_dir.display()
            )));
        }
        Crawl::ready(config, plan, fetcher, store, true).await
    }

    /// Continues the crawl saved in `store_dir` with its saved seeds, scope and limits. `adjust`
    /// may change settings that do not change what is crawled (concurrency, politeness, timeouts,
    /// the page budget); a change of seeds or scope is refused.
    pub async fn resume(
        store_dir: &Path,
        adjust: impl FnOnce(&mut Config) -> Result<(), Error>,
    ) -> Result<Crawl, Error> {
        let store = open_store(store_dir.to_path_buf(), Default::default()).await?;
        let saved = load_config(&store).await?.ok_or_else(|| {
            Error::Usage(format!(
                "store {} holds no crawl to resume; start one with `trawl crawl URL --store {}`",
                store_dir.display(),
                store_dir.display()
            ))
        })?;
        let mut config = saved.clone();
        adjust(&mut config)?;
        config.crawl.store_dir = store_dir.to_path_buf();
        crate::store_access::refuse_scope_change(&saved, &config)?;
        let plan = config.plan()?;
        let fetcher = Fetcher::new(config.fetcher.clone())?;
        Crawl::ready(config, plan, fetcher, store, false).await
    }

    /// Saves the effective configuration in the store (for later resumes) and builds the parser.
    async fn ready(
        config: Config,
        plan: CrawlPlan,
        fetcher: Fetcher,
        store: Store,
        fresh: bool,
    ) -> Result<Crawl, Error> {
        save_config(&store, &config).await?;
        let parser = plan.parser(&config.parser);
        Ok(Crawl {
            config,
            plan,
            store,
            fetcher,
            parser,
            fresh,
            page_bodies: true,
        })
    }

    /// Pages on the stream come without their body ([`CrawledPage::body`] empty,
    /// [`CrawledPage::body_size`] still set; the store keeps every body as configured). Each body
    /// is then freed as soon as it is parsed and encoded rather than when its page is committed,
    /// which lowers the crawl's peak memory. For callers that do not read bodies, like the CLI.
    pub fn without_page_bodies(mut self) -> Crawl {
        self.page_bodies = false;
        self
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts the crawl on the current tokio runtime.
    pub fn start(self) -> CrawlRun {
        let cancel = CancellationToken::new();
        let live = Arc::new(LiveStats::default());
        let (pages_tx, pages_rx) = mpsc::channel(PAGE_STREAM_CAPACITY);
        let task = tokio::spawn(run(self, cancel.clone(), live.clone(), pages_tx));
        CrawlRun {
            pages: pages_rx,
            task,
            cancel,
            live,
        }
    }
}

/// A running crawl: a bounded [`futures::Stream`] of committed pages (a caller that reads slowly
/// slows the crawl down; nothing is dropped), live counters, cancellation and the final summary.
pub struct CrawlRun {
    pages: mpsc::Receiver<CrawledPage>,
    task: JoinHandle<Result<Summary, Error>>,
    cancel: CancellationToken,
    live: Arc<LiveStats>,
}

impl CrawlRun {
    /// A token that stops the crawl when cancelled: no new fetches start, in-flight ones finish
    /// within the grace period and are committed, and the store is flushed.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Live counters, for progress displays.
    pub fn live(&self) -> Arc<LiveStats> {
        self.live.clone()
    }

    /// The next committed page, or `None` when the crawl has ended.
    pub async fn next_page(&mut self) -> Option<CrawledPage> {
        self.pages.recv().await
    }

    /// Waits for the crawl to end (discarding pages not yet read) and returns its summary.
    pub async fn finish(mut self) -> Result<Summary, Error> {
        while self.pages.recv().await.is_some() {}
        match self.task.await {
            Ok(result) => result,
            Err(err) => Err(Error::Pipeline(format!("crawl task failed: {err}"))),
        }
    }
}

impl futures::Stream for CrawlRun {
    type Item = CrawledPage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CrawledPage>> {
        self.pages.poll_recv(cx)
    }
}

async fn run(
    crawl: Crawl,
    cancel: CancellationToken,
    live: Arc<LiveStats>,
    pages: mpsc::Sender<CrawledPage>,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let Crawl {
        config,
        plan,
        store,
        fetcher,
        parser,
        fresh,
        page_bodies,
    } = crawl;
    let seeds = plan.seeds.clone();
    if fresh {
        blocking(store.clone(), move |store| {
            let discovered = seeds
                .iter()
                .map(|seed| NewUrl {
                    url: seed.to_string(),
                    host_key: trawl_fetcher::host_key(seed),
                    ..NewUrl::default()
                })
                .collect();
            store.commit(CommitBatch {
                discovered,
                ..CommitBatch::default()
            })?;
            Ok(())
        })
        .await?;
        if config.crawl.sitemaps {
            seed_from_sitemaps(&fetcher, &plan, &store).await?;
        }
    }
    let (hosts, counters) = blocking(store.clone(), move |store| {
        Ok((store.queued_hosts()?, store.counters()?))
    })
    .await?;

    let now = Instant::now();
    // A per-host rate is enforced by the frontier as a least delay between request starts, so
    // waiting for it never holds a fetch slot (the fetcher's own governor then never waits).
    let mut frontier_config = config.frontier.clone();
    if let Some(rate) = config.fetcher.requests_per_second.filter(|r| *r > 0.0) {
        frontier_config.delay = frontier_config
            .delay
            .max(std::time::Duration::from_secs_f64(1.0 / rate));
    }
    let mut frontier = Frontier::new(&frontier_config);
    frontier.set_already_issued(counters.done + counters.failed);
    frontier.set_robots_gate(config.fetcher.obey_robots);
    frontier.set_max_in_flight(config.crawl.concurrency);
    frontier.set_max_unfinished(unfinished_cap(config.crawl.concurrency));
    for host in &hosts {
        frontier.mark_spilled(host, now);
    }

    let concurrency = config.crawl.concurrency;
    let (jobs_tx, jobs_rx) = mpsc::channel::<messages::Dispatch>(concurrency);
    let (fetched_tx, fetched_rx) = mpsc::channel(concurrency);
    let (parsed_tx, parsed_rx) = mpsc::channel(config.crawl.commit_batch.max(concurrency));
    let (cmd_tx, cmd_rx) = mpsc::channel(FRONTIER_CMD_CAPACITY);
    let abandon = CancellationToken::new();
    let grace = config.crawl.grace_period;
    let grace_timer = {
        let cancel = cancel.clone();
        let abandon = abandon.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            tokio::time::sleep(grace).await;
            tracing::warn!(?grace, "grace period over: abandoning in-flight fetches");
            abandon.cancel();
        })
    };

    let tracker = TaskTracker::new();
    let fetch = tokio::spawn(
        fetch_stage::FetchStage {
            fetcher,
            jobs: jobs_rx,
            fetched: fetched_tx,
            frontier: cmd_tx.clone(),
            concurrency,
            tracker: tracker.clone(),
            abandon: abandon.clone(),
        }
        .run(),
    );
    let parse_work = parse_stage::ParseWork {
        parser,
        scope: plan.scope.clone(),
        encoder: config.crawl.store_bodies.then(|| store.clone()),
        page_bodies,
    };
    parse_stage::start(parse_work, fetched_rx, parsed_tx, plan.parse_workers)
        .map_err(|err| Error::Pipeline(format!("could not start the parse threads: {err}")))?;
    let persist = persist_stage::PersistStage {
        store: store.clone(),
        scope: plan.scope.clone(),
        canonicalizer: plan.canonicalizer.clone(),
        frontier_config: config.frontier.clone(),
        input: parsed_rx,
        frontier: cmd_tx,
        pages,
        commit_batch: config.crawl.commit_batch,
        commit_interval: config.crawl.commit_interval,
        max_redirects: config.crawl.max_redirects,
        store_bodies: config.crawl.store_bodies,
        live: live.clone(),
    }
    .start()
    .map_err(|err| Error::Pipeline(format!("could not start the commit thread: {err}")))?;

    let frontier_task = FrontierTask {
        frontier,
        store: store.clone(),
        jobs: jobs_tx,
        commands: cmd_rx,
        cancel: cancel.clone(),
        abandon: abandon.clone(),
        live: live.clone(),
    }
    .run();
    let mut persist = persist;
    // The persist stage ends early only when it fails (a commit error, or its thread panicked):
    // then no completion will ever free the frontier's slots, so the frontier is dropped (which
    // closes the job channel) and in-flight fetches are abandoned.
    let (frontier_result, persisted_early) = tokio::select! {
        result = frontier_task => (result, None),
        persisted = &mut persist => (Err(Error::Pipeline("the persist stage stopped early".into())), Some(persisted)),
    };
    if frontier_result.is_err() {
        abandon.cancel();
    }
    let _ = fetch.await;
    tracker.close();
    tracker.wait().await;
    // The persist stage ends after the parse threads, whose senders are its input.
    let persisted = match persisted_early {
        Some(persisted) => persisted,
        None => persist.await,
    }
    .map_err(|_| Error::Pipeline("persist stage failed (its thread panicked)".into()))?;

    grace_timer.abort();
    let mut summary = persisted?;
    let end = frontier_result?;
    let left = blocking(store, |store| Ok(store.counters()?)).await?;
    summary.queued_left = left.queued;
    summary.interrupted = end == FrontierEnd::Interrupted;
    summary.elapsed = started.elapsed();
    summary.peak_rss_bytes = report::peak_rss_bytes();
    Ok(summary)
}

/// The most jobs handed out and not yet committed: `concurrency` requests in flight, plus room for
/// pages whose response is in while they are parsed and stored, so the next requests start at
/// once instead of waiting for the commit. These are also the most pages a crash makes trawl fetch
/// again.
fn unfinished_cap(concurrency: usize) -> usize {
    let concurrency = concurrency.max(1);
    concurrency + (concurrency / LANDED_SHARE).max(1)
}

/// Pages fetched and not yet committed may add 1/`LANDED_SHARE` of `concurrency` to the requests
/// in flight.
///
/// A quarter: with `trawl bench latency` (64 requests of 20 ms) it takes the rate from 84-89% of
/// in-flight / latency to 92-95%; adding half or as many again gained under a point more.
const LANDED_SHARE: usize = 4;

/// Queues the URLs of the seed hosts' sitemaps (before the pipeline starts, so the store has one
/// writer at a time).
async fn seed_from_sitemaps(
    fetcher: &Fetcher,
    plan: &CrawlPlan,
    store: &Store,
) -> Result<(), Error> {
    let harvest = sitemaps::harvest(fetcher, &plan.seeds, &plan.canonicalizer, &plan.scope).await;
    tracing::info!(
        urls = harvest.urls.len(),
        files = harvest.files,
        failed_files = harvest.failed_files,
        out_of_scope = harvest.out_of_scope,
        "sitemaps read"
    );
    queue_urls(store, harvest.urls).await?;
    Ok(())
}

/// Runs a blocking store operation on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    store: Store,
    work: impl FnOnce(Store) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(move || work(store))
        .await
        .map_err(|err| Error::Pipeline(format!("store task failed: {err}")))?
}
