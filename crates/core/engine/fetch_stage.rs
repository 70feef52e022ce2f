//! The fetch stage: up to `concurrency` jobs in flight, each checked against robots.txt and then
//! fetched by the pooled [`Fetcher`] on its own task, so TLS and decompression use every core.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use trawl_fetcher::{Fetcher, RobotsVerdict};
use trawl_frontier::Job;

use super::messages::{FetchOutcome, FetchedJob, FrontierCmd};

pub(crate) struct FetchStage {
    pub(crate) fetcher: Fetcher,
    pub(crate) jobs: mpsc::Receiver<Job>,
    pub(crate) fetched: mpsc::Sender<FetchedJob>,
    pub(crate) frontier: mpsc::Sender<FrontierCmd>,
    pub(crate) concurrency: usize,
    pub(crate) tracker: TaskTracker,
    pub(crate) abandon: CancellationToken,
}

impl FetchStage {
    pub(crate) async fn run(self) {
        let delays_sent: Arc<Mutex<HashSet<String>>> = Arc::default();
        let FetchStage {
            fetcher,
            jobs,
            fetched,
            frontier,
            concurrency,
            tracker,
            abandon,
        } = self;
        let mut results = ReceiverStream::new(jobs)
            .map(|job| {
                let fetcher = fetcher.clone();
                let frontier = frontier.clone();
                let delays_sent = delays_sent.clone();
                let abandon = abandon.clone();
                let span = tracing::debug_span!("fetch", url = %job.url);
                let task = async move {
                    tokio::select! {
                        done = fetch_one(&fetcher, job, &frontier, &delays_sent) => Some(done),
                        _ = abandon.cancelled() => None,
                    }
                };
                tracker.spawn(task.instrument(span))
            })
            .buffer_unordered(concurrency);
        while let Some(joined) = results.next().await {
            match joined {
                Ok(Some(done)) => {
                    if fetched.send(done).await.is_err() {
                        break;
                    }
                }
                Ok(None) => {}
                Err(err) => tracing::error!(%err, "fetch task failed"),
            }
        }
    }
}

async fn fetch_one(
    fetcher: &Fetcher,
    job: Job,
    frontier: &mpsc::Sender<FrontierCmd>,
    delays_sent: &Mutex<HashSet<String>>,
) -> FetchedJob {
    let fetched_at = SystemTime::now();
    let outcome = match fetcher.robots(&job.url).await {
        RobotsVerdict::Disallowed => FetchOutcome::Blocked {
            kind: "robots_disallowed",
            reason: format!("robots.txt of {} disallows this URL", job.host_key),
        },
        RobotsVerdict::Unreachable { reason } => FetchOutcome::Blocked {
            kind: "robots_unreachable",
            reason,
        },
        RobotsVerdict::Allowed { crawl_delay } => {
            if let Some(delay) = crawl_delay {
                let first = delays_sent
                    .lock()
                    .map(|mut sent| sent.insert(job.host_key.clone()))
                    .unwrap_or(false);
                if first {
                    let cmd = FrontierCmd::HostDelay {
                        host_key: job.host_key.clone(),
                        delay,
                    };
                    let _ = frontier.send(cmd).await;
                }
            }
            match fetcher.fetch(&job.url).await {
                Ok(fetched) => FetchOutcome::Fetched(Box::new(fetched)),
                Err(err) => {
                    tracing::debug!(url = %job.url, %err, "fetch failed");
                    FetchOutcome::Failed(err)
                }
            }
        }
    };
    FetchedJob {
        job,
        outcome,
        fetched_at,
    }
}
