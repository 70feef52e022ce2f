//! A job: one URL the frontier hands out to be fetched.

use url::Url;

/// One URL to fetch, with what the scheduler and the store need to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The store's queue sequence number (monotonic per crawl); orders the per-host FIFO.
    pub seq: u64,
    /// The canonical URL.
    pub url: Url,
    /// Politeness key: `scheme://host:port`.
    pub host_key: String,
    /// Link depth from the seeds (0 for a seed; a redirect target keeps its source's depth).
    pub depth: u32,
    /// Redirect hops that led here.
    pub redirect_hops: u32,
    /// Earlier fetch attempts of this URL.
    pub attempts: u32,
    /// Not to be fetched before this moment (a retry waiting out its backoff).
    pub not_before: Option<std::time::Instant>,
}

impl Job {
    /// A fresh job with no redirect hops and no earlier attempts.
    pub fn new(seq: u64, url: Url, host_key: String, depth: u32) -> Job {
        Job {
            seq,
            url,
            host_key,
            depth,
            redirect_hops: 0,
            attempts: 0,
            not_before: None,
        }
    }
}
