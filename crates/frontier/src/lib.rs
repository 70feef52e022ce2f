//! `trawl-frontier` decides which URL trawl fetches next.
//!
//! It is synchronous and sans-IO: time is a parameter (`now: Instant`), and the durable queue lives in
//! the caller's store. The frontier keeps per-host FIFO queues of [`Job`]s, schedules hosts round-robin
//! under a per-host cap on requests in flight and a per-host delay, stops issuing at a page budget,
//! and holds at most a window of jobs per host in memory: the rest stay in the store and are paged
//! back in through [`Frontier::take_refill_request`] / [`Frontier::refill`]. A job's request slot
//! is freed by [`Frontier::fetched`] once its response is in; the job itself ends with
//! [`Frontier::complete`] once the caller has stored it, and the crawl is done when no job is
//! unfinished. [`Scope`] decides which discovered URLs are crawled at all (host / domain / any,
//! include and exclude patterns, maximum depth).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use trawl_frontier::{Frontier, FrontierConfig, Job, Pop};
//!
//! let mut frontier = Frontier::new(&FrontierConfig { per_host: 1, ..FrontierConfig::default() });
//! let now = Instant::now();
//! for (seq, path) in ["/a", "/b"].iter().enumerate() {
//!     let url = url::Url::parse(&format!("http://example.org{path}")).unwrap();
//!     frontier.push(Job::new(seq as u64, url, "http://example.org:80".into(), 0), now);
//! }
//! // One request in flight per host: the second job waits for the first response.
//! let Pop::Ready(first) = frontier.pop(now) else { panic!("a job is ready") };
//! assert_eq!(first.url.path(), "/a");
//! assert!(matches!(frontier.pop(now), Pop::Empty));
//! frontier.fetched(&first.host_key, now);
//! let later = now + Duration::from_millis(1);
//! assert!(matches!(frontier.pop(later), Pop::Ready(job) if job.url.path() == "/b"));
//! frontier.complete(&first.host_key, later);
//! assert!(!frontier.is_done(), "/b is still unfinished");
//! ```

mod config;
mod error;
mod feedback;
mod host;
mod job;
mod scheduler;
mod scope;

pub use config::{FrontierConfig, ScopeMode};
pub use error::FrontierError;
pub use feedback::HostSignal;
pub use job::Job;
pub use scheduler::{Frontier, Pop, RefillRequest};
pub use scope::{OutOfScope, Scope};
