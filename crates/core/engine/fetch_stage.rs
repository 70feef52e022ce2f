//! The fetch stage: up to `concurrency` jobs in flight, each checked against robots.txt and then
//! fetched by the pooled [`Fetcher`] on its own task (so TLS and decompression use every core),
//! which passes its result straight on to the parse stage.
//! It also measures the request rate each host actually sees.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use trawl_fetcher::{Fetcher, RobotsVerdict};

use super::messages::{Dispatch, FetchOutcome, FetchedJob, FrontierCmd, HostObservation};

pub(crate) struct FetchStage {
    pub(crate) fetcher: Fetcher,
    pub(crate) jobs: mpsc::Receiver<Dispatch>,
    pub(crate) fetched: mpsc::Sender<FetchedJob>,
    pub(crate) frontier: mpsc::Sender<FrontierCmd>,
    pub(crate) concurrency: usize,
    pub(crate) tracker: TaskTracker,
    pub(crate) abandon: CancellationToken,
}

/// State shared by the stage's fetch tasks.
#[derive(Default)]
struct Shared {
    /// Hosts whose robots.txt verdict was passed on to the frontier.
    robots_reported: Mutex<HashSet<String>>,
    /// Per host: request start times within the last second, and the most seen at once.
    rates: Mutex<HashMap<String, (VecDeque<Instant>, usize)>>,
}

impl Shared {
    /// Counts a request start to `host` and returns the highest one-second rate seen so far.
    fn note_request(&self, host: &str) -> f64 {
        let Ok(mut rates) = self.rates.lock() else {
            return 0.0;
        };
        let now = Instant::now();
        let (starts, most) = rates.entry(host.to_string()).or_default();
        starts.push_back(now);
        while starts
            .front()
            .is_some_and(|start| now.duration_since(*start) >= Duration::from_secs(1))
        {
            starts.pop_front();
        }
        *most = (*most).max(starts.len());
        *most as f64
    }

    fn first_report_for(&self, host: &str) -> bool {
        self.robots_reported
            .lock()
            .map(|mut sent| sent.insert(host.to_string()))
            .unwrap_or(false)
    }
}

impl FetchStage {
    /// Runs until the job channel closes. Each job is fetched on its own task, which hands its
    /// result straight to the parse stage; a semaphore keeps at most `concurrency` of them alive.
    pub(crate) async fn run(self) {
        let shared = Arc::new(Shared::default());
        let FetchStage {
            fetcher,
            mut jobs,
            fetched,
            frontier,
            concurrency,
            tracker,
            abandon,
        } = self;
        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        while let Some(dispatch) = jobs.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let fetcher = fetcher.clone();
            let frontier = frontier.clone();
            let fetched = fetched.clone();
            let shared = shared.clone();
            let abandon = abandon.clone();
            let span = tracing::debug_span!("fetch", url = %dispatch.job.url);
            let task = async move {
                let _slot = slot;
                tokio::select! {
                    done = fetch_one(&fetcher, dispatch, &frontier, &shared) => {
                        // The host's request slot is free now, while the page is parsed and
                        // stored; sent before the page moves on, so it precedes its completion.
                        let request_over = FrontierCmd::Fetched {
                            host_key: done.job.host_key.clone(),
                            signal: done.outcome.host_signal(),
                        };
                        let _ = frontier.send(request_over).await;
                        // A parse stage that is gone means the crawl is being abandoned.
                        let _ = fetched.send(done).await;
                    }
                    _ = abandon.cancelled() => {}
                }
            };
            tracker.spawn(task.instrument(span));
        }
    }
}

async fn fetch_one(
    fetcher: &Fetcher,
    dispatch: Dispatch,
    frontier: &mpsc::Sender<FrontierCmd>,
    shared: &Shared,
) -> FetchedJob {
    let Dispatch {
        job,
        give_up,
        delay_in_force,
    } = dispatch;
    let fetched_at = SystemTime::now();
    let mut host = HostObservation {
        delay_in_force,
        max_rate: 0.0,
    };
    let outcome = if give_up {
        FetchOutcome::Blocked {
            kind: "host_unreachable",
            reason: format!(
                "{} kept failing (circuit breaker tripped repeatedly); given up",
                job.host_key
            ),
        }
    } else {
        let verdict = fetcher.robots(&job.url).await;
        let crawl_delay = match &verdict {
            RobotsVerdict::Allowed { crawl_delay } => Some(*crawl_delay),
            RobotsVerdict::Disallowed => Some(None),
            RobotsVerdict::Unreachable { .. } => None,
        };
        if let Some(crawl_delay) = crawl_delay {
            if shared.first_report_for(&job.host_key) {
                let cmd = FrontierCmd::RobotsChecked {
                    host_key: job.host_key.clone(),
                    crawl_delay,
                };
                let _ = frontier.send(cmd).await;
            }
        }
        match verdict {
            RobotsVerdict::Disallowed => FetchOutcome::Blocked {
                kind: "robots_disallowed",
                reason: format!("robots.txt of {} disallows this URL", job.host_key),
            },
            RobotsVerdict::Unreachable { reason } => FetchOutcome::Blocked {
                kind: "robots_unreachable",
                reason: format!("robots.txt of {} unreachable: {reason}", job.host_key),
            },
            RobotsVerdict::Allowed { .. } => {
                host.max_rate = shared.note_request(&job.host_key);
                match fetcher.fetch(&job.url).await {
                    Ok(fetched) => FetchOutcome::Fetched(Box::new(fetched)),
                    Err(err) => {
                        tracing::debug!(url = %job.url, %err, "fetch failed");
                        FetchOutcome::Failed(err)
                    }
                }
            }
        }
    };
    FetchedJob {
        job,
        outcome,
        fetched_at,
        host,
    }
}
