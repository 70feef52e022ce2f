//! The messages that flow between the pipeline's stages.

use std::time::Duration;

use trawl_fetcher::{FetchError, Fetched};
use trawl_frontier::Job;
use trawl_parser::Parsed;

/// From the persist stage (and the fetch stage, for robots delays) back to the frontier task.
#[derive(Debug)]
pub(crate) enum FrontierCmd {
    /// The store queued these new jobs (in sequence order).
    Queued(Vec<Job>),
    /// These jobs are committed (done or failed): free their hosts' in-flight slots.
    Completed(Vec<String>),
    /// A host's robots.txt asks for this delay between requests.
    HostDelay { host_key: String, delay: Duration },
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

/// A fetched job on its way to the parse stage.
#[derive(Debug)]
pub(crate) struct FetchedJob {
    pub(crate) job: Job,
    pub(crate) outcome: FetchOutcome,
    pub(crate) fetched_at: std::time::SystemTime,
}

/// A job ready to be persisted: its fetch outcome and, for HTML, what the parser found.
#[derive(Debug)]
pub(crate) struct ParsedJob {
    pub(crate) job: Job,
    pub(crate) outcome: FetchOutcome,
    pub(crate) fetched_at: std::time::SystemTime,
    pub(crate) parsed: Option<Parsed>,
}
