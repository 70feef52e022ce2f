//! The messages that flow between the pipeline's stages.

use std::time::Duration;

use trawl_fetcher::{FetchError, Fetched};
use trawl_frontier::{HostSignal, Job};
use trawl_parser::Parsed;

/// From the persist stage (and the fetch stage, for request ends and robots delays) back to the
/// frontier task.
#[derive(Debug)]
pub(crate) enum FrontierCmd {
    /// The store queued these new jobs (in sequence order).
    Queued(Vec<Job>),
    /// A job's request is over (sent by the fetch stage before it passes the job on, so it always
    /// precedes the job's completion): free the host's request slot and apply what the request
    /// said about its host.
    Fetched {
        host_key: String,
        signal: HostSignal,
    },
    /// These jobs of these hosts are committed (done, failed or re-queued for a retry).
    Completed(Vec<String>),
    /// A host's robots.txt is known now, with its Crawl-delay if it has one.
    RobotsChecked {
        host_key: String,
        crawl_delay: Option<Duration>,
    },
}

/// A job on its way from the frontier to the fetch stage.
#[derive(Debug)]
pub(crate) struct Dispatch {
    pub(crate) job: Job,
    /// The host is given up on: record the job as failed without fetching.
    pub(crate) give_up: bool,
    /// The host's delay between requests in force when the job was issued.
    pub(crate) delay_in_force: Duration,
}

/// What the fetch stage made of one job.
#[derive(Debug)]
pub(crate) enum FetchOutcome {
    /// The server answered (any status).
    Fetched(Box<Fetched>),
    /// The request failed at the transport level.
    Failed(FetchError),
    /// robots.txt forbids the URL, or could not be fetched (the reason says which).
    Blocked { kind: &'static str, reason: String },
}

impl FetchOutcome {
    /// What the outcome says about its host: the politeness feedback (backoff, circuit breaker,
    /// auto-throttle) the frontier applies.
    pub(crate) fn host_signal(&self) -> HostSignal {
        match self {
            FetchOutcome::Fetched(fetched) => {
                let status = fetched.status.as_u16();
                if status == 429 || (status == 503 && fetched.retry_after.is_some()) {
                    HostSignal::Throttled {
                        retry_after: fetched.retry_after,
                    }
                } else if fetched.status.is_server_error() || status == 408 {
                    HostSignal::Failure
                } else {
                    HostSignal::Success {
                        latency: fetched.elapsed,
                    }
                }
            }
            FetchOutcome::Failed(_) => HostSignal::Failure,
            FetchOutcome::Blocked { kind, .. } if *kind == "robots_unreachable" => {
                HostSignal::Failure
            }
            FetchOutcome::Blocked { .. } => HostSignal::Neutral,
        }
    }
}

/// A fetched job on its way to the parse stage.
#[derive(Debug)]
pub(crate) struct FetchedJob {
    pub(crate) job: Job,
    pub(crate) outcome: FetchOutcome,
    pub(crate) fetched_at: std::time::SystemTime,
    pub(crate) host: HostObservation,
}

/// What the fetch stage saw of the job's host, for `trawl stats --hosts`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HostObservation {
    /// The host's delay between requests in force when the job was issued.
    pub(crate) delay_in_force: Duration,
    /// The most requests this crawl started to the host within one second, so far.
    pub(crate) max_rate: f64,
}

/// A job ready to be persisted: its fetch outcome, for HTML what the parser found, and the body
/// encoded for the store.
#[derive(Debug)]
pub(crate) struct ParsedJob {
    pub(crate) job: Job,
    pub(crate) outcome: FetchOutcome,
    pub(crate) fetched_at: std::time::SystemTime,
    pub(crate) host: HostObservation,
    /// The parse, its links moved to `links`.
    pub(crate) parsed: Option<Parsed>,
    /// The links to follow, prepared for the commit thread.
    pub(crate) links: super::links::FoundLinks,
    /// The body, encoded for the store by the parse stage (when bodies are kept).
    pub(crate) encoded_body: Option<trawl_store::EncodedBody>,
    /// The decoded body's size (the body itself may have been dropped once it was encoded).
    pub(crate) body_size: u64,
}
