//! The scheduler: round-robin over ready hosts, a timed heap for hosts waiting out their delay, a
//! per-host in-flight cap, a page budget, and paging of per-host queues between memory and the store.
//!
//! A job handed out is first *in flight* (its request may be on the wire: the per-host and total
//! caps count these) and, once [`Frontier::fetched`] says its response is in, *landed* until
//! [`Frontier::complete`] (being parsed and stored). Freeing the request slot when the response is
//! in keeps the wire busy while earlier pages are parsed and committed; the crawl is done only when
//! nothing is in flight or landed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::host::HostState;
use crate::{FrontierConfig, Job};

/// What [`Frontier::pop`] has to offer at a given moment.
#[derive(Debug, PartialEq, Eq)]
pub enum Pop {
    /// Fetch this now.
    Ready(Job),
    /// The job's host is unreachable (its circuit breaker tripped too often): record the job as
    /// failed without fetching it. It counts as in flight until completed.
    GiveUp(Job),
    /// Nothing may start before this moment (some host is waiting out its delay).
    NotBefore(Instant),
    /// Nothing can be issued now: no queued job, every host with work is at its in-flight cap, or the
    /// page budget is spent. Completions or new jobs may change that; [`Frontier::is_done`] says
    /// whether anything ever can.
    Empty,
}

/// A request to page a host's queue back in from the store: the caller reads up to `limit` queued
/// entries of `host_key` with a sequence number above `after` and hands them to [`Frontier::refill`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefillRequest {
    /// The host whose window runs low.
    pub host_key: String,
    /// Only entries after this sequence number (none: from the start).
    pub after: Option<u64>,
    /// At most this many entries.
    pub limit: usize,
}

/// The crawl's scheduler. See the crate docs.
#[derive(Debug)]
pub struct Frontier {
    pub(crate) config: FrontierConfig,
    per_host: usize,
    pub(crate) delay: Duration,
    window: usize,
    budget: Option<u64>,
    issued: u64,
    pub(crate) hosts: HashMap<String, HostState>,
    ready: VecDeque<String>,
    giving_up: VecDeque<String>,
    timed: BinaryHeap<Reverse<(Instant, String)>>,
    refill_wanted: VecDeque<String>,
    queued_in_memory: usize,
    in_flight: usize,
    landed: usize,
    spilling_hosts: usize,
    robots_gate: bool,
    max_in_flight: Option<usize>,
    max_unfinished: Option<usize>,
}

impl Frontier {
    /// An empty frontier with these settings (numbers below 1 are treated as 1).
    pub fn new(config: &FrontierConfig) -> Frontier {
        Frontier {
            config: config.clone(),
            per_host: config.per_host.max(1),
            delay: config.delay,
            window: config.window.max(1),
            budget: config.max_pages,
            issued: 0,
            hosts: HashMap::new(),
            ready: VecDeque::new(),
            giving_up: VecDeque::new(),
            timed: BinaryHeap::new(),
            refill_wanted: VecDeque::new(),
            queued_in_memory: 0,
            in_flight: 0,
            landed: 0,
            spilling_hosts: 0,
            robots_gate: false,
            max_in_flight: None,
            max_unfinished: None,
        }
    }

    /// Caps the requests in flight across all hosts (the crawl's concurrency): every job between a
    /// pop and its [`Frontier::fetched`] (or [`Frontier::complete`]) counts.
    pub fn set_max_in_flight(&mut self, max: usize) {
        self.max_in_flight = Some(max.max(1));
    }

    /// Caps the jobs handed out and not yet completed, across all hosts: requests in flight plus
    /// landed jobs (fetched, not yet parsed and stored). This bounds the work a slow consumer lets
    /// pile up between the fetch and the store.
    pub fn set_max_unfinished(&mut self, max: usize) {
        self.max_unfinished = Some(max.max(1));
    }

    /// Counts pages fetched before this run (on resume) against the page budget.
    pub fn set_already_issued(&mut self, pages: u64) {
        self.issued = pages;
    }

    /// Pages issued so far, including those counted by [`Frontier::set_already_issued`].
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Jobs handed out whose fetch has not finished.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Jobs handed out and not yet completed: in flight, or landed and awaiting
    /// [`Frontier::complete`].
    pub fn unfinished(&self) -> usize {
        self.in_flight + self.landed
    }

    /// Jobs queued in memory (jobs that live only in the store are not counted).
    pub fn queued_in_memory(&self) -> usize {
        self.queued_in_memory
    }

    /// Whether the page budget is spent.
    pub fn budget_spent(&self) -> bool {
        self.budget.is_some_and(|budget| self.issued >= budget)
    }

    /// Nothing unfinished and nothing left that may be issued: the crawl is over.
    pub fn is_done(&self) -> bool {
        self.unfinished() == 0
            && (self.budget_spent() || (self.queued_in_memory == 0 && self.spilling_hosts == 0))
    }

    /// Adds a job that the store has just queued. Jobs of a host arrive in sequence order; a job that
    /// does not fit in the host's window stays in the store only and is paged in later.
    pub fn push(&mut self, job: Job, now: Instant) {
        let window = self.window;
        let host = self.host_mut(&job.host_key, now);
        if host.already_loaded(job.seq) {
            return;
        }
        if host.spilling() || host.queue.len() >= window {
            host.max_spilled_seq = Some(host.max_spilled_seq.map_or(job.seq, |s| s.max(job.seq)));
            let key = job.host_key.clone();
            self.set_store_has_more(&key, true);
            return;
        }
        host.last_loaded_seq = Some(job.seq);
        host.queue.push_back(job.clone());
        self.queued_in_memory += 1;
        self.schedule(&job.host_key, now);
    }

    /// Tells the frontier that `host_key` has queued jobs in the store that it has not seen (resume).
    pub fn mark_spilled(&mut self, host_key: &str, now: Instant) {
        self.host_mut(host_key, now);
        self.set_store_has_more(host_key, true);
    }

    /// Sets a host-specific least delay between requests (e.g. robots.txt `Crawl-delay`); the longer
    /// of it and the configured delay applies, from the host's last request on.
    pub fn set_host_delay(&mut self, host_key: &str, delay: Duration, now: Instant) {
        let configured = self.delay;
        let host = self.host_mut(host_key, now);
        host.delay_override = Some(delay);
        if let Some(last) = host.last_start {
            host.next_start = host.next_start.max(last + host.effective_delay(configured));
        }
    }

    /// With the gate on, a host gets one request at a time until [`Frontier::robots_checked`] says
    /// its robots.txt is known, so its Crawl-delay applies from the second request on.
    pub fn set_robots_gate(&mut self, on: bool) {
        self.robots_gate = on;
    }

    /// Records that a host's robots.txt was checked, with its Crawl-delay if it has one.
    pub fn robots_checked(&mut self, host_key: &str, crawl_delay: Option<Duration>, now: Instant) {
        if let Some(delay) = crawl_delay {
            self.set_host_delay(host_key, delay, now);
        }
        self.host_mut(host_key, now).robots_checked = true;
        self.schedule(host_key, now);
    }

    fn host_cap(&self, host: &HostState) -> usize {
        if self.robots_gate && !host.robots_checked {
            1
        } else {
            self.per_host
        }
    }

    /// The next host whose window runs low while the store holds more of its queue. The request is
    /// outstanding until [`Frontier::refill`] answers it.
    pub fn take_refill_request(&mut self) -> Option<RefillRequest> {
        while let Some(key) = self.refill_wanted.pop_front() {
            let window = self.window;
            let Some(host) = self.hosts.get_mut(&key) else {
                continue;
            };
            if host.refill_pending || !host.store_has_more || host.queue.len() > window / 2 {
                continue;
            }
            host.refill_pending = true;
            return Some(RefillRequest {
                after: host.last_loaded_seq,
                limit: window - host.queue.len(),
                host_key: key,
            });
        }
        None
    }

    /// Answers a [`RefillRequest`]: `jobs` are the entries read from the store, in sequence order;
    /// `exhausted` says the store returned fewer than asked.
    pub fn refill(&mut self, host_key: &str, jobs: Vec<Job>, exhausted: bool, now: Instant) {
        let mut loaded = 0;
        {
            let host = self.host_mut(host_key, now);
            host.refill_pending = false;
            for job in jobs {
                if host.already_loaded(job.seq) {
                    continue;
                }
                host.last_loaded_seq = Some(job.seq);
                host.queue.push_back(job);
                loaded += 1;
            }
        }
        self.queued_in_memory += loaded;
        let host = self.host_mut(host_key, now);
        let spilled_beyond = match (host.max_spilled_seq, host.last_loaded_seq) {
            (Some(spilled), Some(last)) => spilled > last,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let more = !exhausted || spilled_beyond;
        // `set_store_has_more` keeps the spilling count right; refill_pending was cleared above.
        self.recount_spilling(host_key, more);
        self.schedule(host_key, now);
        self.want_refill_if_low(host_key);
    }

    /// The next job to fetch at `now`, if any host may be asked.
    pub fn pop(&mut self, now: Instant) -> Pop {
        if self.budget_spent()
            || self.max_in_flight.is_some_and(|max| self.in_flight >= max)
            || self
                .max_unfinished
                .is_some_and(|max| self.unfinished() >= max)
        {
            return Pop::Empty;
        }
        while let Some(key) = self.giving_up.pop_front() {
            let Some(host) = self.hosts.get_mut(&key) else {
                continue;
            };
            host.scheduled = false;
            let Some(job) = host.queue.pop_front() else {
                continue;
            };
            host.in_flight += 1;
            self.queued_in_memory -= 1;
            self.in_flight += 1;
            self.issued += 1;
            self.schedule(&key, now);
            self.want_refill_if_low(&key);
            return Pop::GiveUp(job);
        }
        while let Some(Reverse((at, _))) = self.timed.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, key))) = self.timed.pop() {
                self.ready.push_back(key);
            }
        }
        while let Some(key) = self.ready.pop_front() {
            let configured_delay = self.delay;
            let per_host = match self.hosts.get(&key) {
                Some(host) => self.host_cap(host),
                None => continue,
            };
            let Some(host) = self.hosts.get_mut(&key) else {
                continue;
            };
            host.scheduled = false;
            if host.queue.is_empty() || host.in_flight >= per_host {
                continue;
            }
            if let Some(not_before) = host.queue.front().and_then(|job| job.not_before) {
                host.next_start = host.next_start.max(not_before);
            }
            if host.next_start > now {
                self.schedule(&key, now);
                continue;
            }
            let Some(job) = host.queue.pop_front() else {
                continue;
            };
            host.in_flight += 1;
            host.last_start = Some(now);
            host.next_start = now + host.effective_delay(configured_delay);
            self.queued_in_memory -= 1;
            self.in_flight += 1;
            self.issued += 1;
            self.schedule(&key, now);
            self.want_refill_if_low(&key);
            return Pop::Ready(job);
        }
        // A host's next start may have moved later since it entered the heap (backoff,
        // Retry-After): correct the top before reporting it, so the caller sleeps just long enough.
        while let Some(Reverse((at, key))) = self.timed.peek() {
            let actual = self.hosts.get(key).map(|host| {
                let head = host.queue.front().and_then(|job| job.not_before);
                head.map_or(host.next_start, |not_before| {
                    host.next_start.max(not_before)
                })
            });
            match actual {
                Some(actual) if actual > *at => {
                    if let Some(Reverse((_, key))) = self.timed.pop() {
                        self.timed.push(Reverse((actual, key)));
                    }
                }
                _ => return Pop::NotBefore(*at),
            }
        }
        Pop::Empty
    }

    /// Records that the request of a job of `host_key` handed out by [`Frontier::pop`] is over
    /// (its response is in, or it failed): the host's request slot is free, while the job stays
    /// unfinished until [`Frontier::complete`].
    pub fn fetched(&mut self, host_key: &str, now: Instant) {
        if let Some(host) = self.hosts.get_mut(host_key) {
            if host.in_flight > 0 {
                host.in_flight -= 1;
                self.in_flight -= 1;
                host.landed += 1;
                self.landed += 1;
            }
            self.schedule(host_key, now);
        }
    }

    /// Records that a job of `host_key` handed out by [`Frontier::pop`] has finished (whatever its
    /// outcome). A job whose fetch was not reported by [`Frontier::fetched`] frees its request
    /// slot here.
    pub fn complete(&mut self, host_key: &str, now: Instant) {
        if let Some(host) = self.hosts.get_mut(host_key) {
            if host.landed > 0 {
                host.landed -= 1;
                self.landed -= 1;
            } else if host.in_flight > 0 {
                host.in_flight -= 1;
                self.in_flight -= 1;
            }
            self.schedule(host_key, now);
        }
    }

    /// The delay between request starts in force for a host now.
    pub fn host_delay(&self, host_key: &str) -> Duration {
        self.hosts
            .get(host_key)
            .map_or(self.delay, |host| host.effective_delay(self.delay))
    }

    /// Whether the frontier has given up on a host.
    pub fn host_unreachable(&self, host_key: &str) -> bool {
        self.hosts
            .get(host_key)
            .is_some_and(|host| host.unreachable)
    }

    pub(crate) fn host_mut(&mut self, key: &str, now: Instant) -> &mut HostState {
        self.hosts
            .entry(key.to_string())
            .or_insert_with(|| HostState::new(now))
    }

    fn set_store_has_more(&mut self, key: &str, more: bool) {
        self.recount_spilling(key, more);
        self.want_refill_if_low(key);
    }

    fn recount_spilling(&mut self, key: &str, more: bool) {
        if let Some(host) = self.hosts.get_mut(key) {
            let was = host.spilling();
            host.store_has_more = more;
            let is = host.spilling();
            match (was, is) {
                (false, true) => self.spilling_hosts += 1,
                (true, false) => self.spilling_hosts -= 1,
                _ => {}
            }
        }
    }

    fn want_refill_if_low(&mut self, key: &str) {
        let window = self.window;
        if let Some(host) = self.hosts.get(key) {
            if host.store_has_more && !host.refill_pending && host.queue.len() <= window / 2 {
                self.refill_wanted.push_back(key.to_string());
            }
        }
    }

    /// Puts a host with work and a free slot in the ready ring or the timed heap (once); a host
    /// given up on goes to the give-up ring, whatever its slots and delay.
    pub(crate) fn schedule(&mut self, key: &str, now: Instant) {
        let per_host = match self.hosts.get(key) {
            Some(host) => self.host_cap(host),
            None => return,
        };
        let Some(host) = self.hosts.get_mut(key) else {
            return;
        };
        if host.scheduled || host.queue.is_empty() {
            return;
        }
        if host.unreachable {
            host.scheduled = true;
            self.giving_up.push_back(key.to_string());
            return;
        }
        if host.in_flight >= per_host {
            return;
        }
        host.scheduled = true;
        if host.next_start <= now {
            self.ready.push_back(key.to_string());
        } else {
            self.timed.push(Reverse((host.next_start, key.to_string())));
        }
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
