//! Per-host state: the in-memory window of the host's FIFO queue, its in-flight count and its clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Job;

/// Everything the scheduler knows about one host key.
#[derive(Debug)]
pub(crate) struct HostState {
    /// The in-memory window of this host's queue, in store order.
    pub(crate) queue: VecDeque<Job>,
    /// Requests handed out whose fetch has not finished (what the per-host cap counts).
    pub(crate) in_flight: usize,
    /// Jobs whose fetch finished ([`Frontier::fetched`](crate::Frontier::fetched)) and that are
    /// not completed yet (being parsed or stored).
    pub(crate) landed: usize,
    /// Earliest moment the next request to this host may start.
    pub(crate) next_start: Instant,
    /// A host-specific delay (robots Crawl-delay) overriding the configured one when longer.
    pub(crate) delay_override: Option<Duration>,
    /// Queued jobs of this host exist in the store beyond the in-memory window.
    pub(crate) store_has_more: bool,
    /// The highest sequence number announced while the host was spilling.
    pub(crate) max_spilled_seq: Option<u64>,
    /// The highest sequence number ever put in memory (jobs at or below it are never loaded twice).
    pub(crate) last_loaded_seq: Option<u64>,
    /// A refill request for this host is out.
    pub(crate) refill_pending: bool,
    /// The host sits in the ready ring, the timed heap or the give-up ring.
    pub(crate) scheduled: bool,
    /// Failures since the last success (drives backoff and the circuit breaker).
    pub(crate) consecutive_failures: u32,
    /// Throttling answers (429/503) since the last success.
    pub(crate) consecutive_throttles: u32,
    /// Circuit-breaker trips since the last success.
    pub(crate) trips: u32,
    /// The host is given up on: its remaining jobs are handed out to be recorded as failed.
    pub(crate) unreachable: bool,
    /// The delay auto-throttle currently sets for this host.
    pub(crate) throttle_delay: Duration,
    /// robots.txt of this host has been checked (until then, one request at a time).
    pub(crate) robots_checked: bool,
    /// When the last request to this host started.
    pub(crate) last_start: Option<Instant>,
}

impl HostState {
    pub(crate) fn new(now: Instant) -> HostState {
        HostState {
            queue: VecDeque::new(),
            in_flight: 0,
            landed: 0,
            next_start: now,
            delay_override: None,
            store_has_more: false,
            max_spilled_seq: None,
            last_loaded_seq: None,
            refill_pending: false,
            scheduled: false,
            consecutive_failures: 0,
            consecutive_throttles: 0,
            trips: 0,
            unreachable: false,
            throttle_delay: Duration::ZERO,
            robots_checked: false,
            last_start: None,
        }
    }

    /// Whether a job with this sequence number is already in memory or was handed out.
    pub(crate) fn already_loaded(&self, seq: u64) -> bool {
        self.last_loaded_seq.is_some_and(|last| seq <= last)
    }

    /// Whether the host still has work that lives only in the store.
    pub(crate) fn spilling(&self) -> bool {
        self.store_has_more || self.refill_pending
    }

    /// The delay in force: the longest of the configured one, robots' Crawl-delay and
    /// auto-throttle's.
    pub(crate) fn effective_delay(&self, configured: Duration) -> Duration {
        configured
            .max(self.delay_override.unwrap_or(Duration::ZERO))
            .max(self.throttle_delay)
    }
}
