//! Request counters: per (host, path-with-query) counts, the total, and per host the current
//! and maximum number of requests in flight. One mutex per host keeps contention low.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
struct HostCounters {
    paths: Mutex<HashMap<String, u64>>,
    current: AtomicUsize,
    max: AtomicUsize,
}

impl HostCounters {
    fn paths(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.paths.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// All counters of one site.
#[derive(Debug)]
pub(crate) struct Counters {
    hosts: Vec<HostCounters>,
    total: AtomicU64,
}

/// Marks one request in flight on a host; leaving scope (or being dropped) ends it.
#[must_use]
pub(crate) struct InFlight<'a> {
    host: &'a HostCounters,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.host.current.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Counters {
    pub(crate) fn new(hosts: usize) -> Counters {
        Counters {
            hosts: (0..hosts).map(|_| HostCounters::default()).collect(),
            total: AtomicU64::new(0),
        }
    }

    /// Counts a request for `path` on `host` and marks it in flight until the guard drops.
    pub(crate) fn begin(&self, host: usize, path: &str) -> InFlight<'_> {
        let hc = &self.hosts[host];
        {
            let mut paths = hc.paths();
            match paths.get_mut(path) {
                Some(n) => *n += 1,
                None => {
                    paths.insert(path.to_string(), 1);
                }
            }
        }
        self.total.fetch_add(1, Ordering::AcqRel);
        let now = hc.current.fetch_add(1, Ordering::AcqRel) + 1;
        hc.max.fetch_max(now, Ordering::AcqRel);
        InFlight { host: hc }
    }

    pub(crate) fn count(&self, host: usize, path: &str) -> u64 {
        self.hosts
            .get(host)
            .and_then(|hc| hc.paths().get(path).copied())
            .unwrap_or(0)
    }

    /// Every (host, path-with-query, count).
    pub(crate) fn all(&self) -> Vec<(usize, String, u64)> {
        let mut out = Vec::new();
        for (h, hc) in self.hosts.iter().enumerate() {
            out.extend(hc.paths().iter().map(|(p, n)| (h, p.clone(), *n)));
        }
        out
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Acquire)
    }

    pub(crate) fn max_in_flight(&self, host: usize) -> usize {
        self.hosts
            .get(host)
            .map_or(0, |hc| hc.max.load(Ordering::Acquire))
    }

    pub(crate) fn in_flight(&self, host: usize) -> usize {
        self.hosts
            .get(host)
            .map_or(0, |hc| hc.current.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_track_current_and_max() {
        let c = Counters::new(2);
        let a = c.begin(0, "/");
        let b = c.begin(0, "/p/2");
        assert_eq!(c.in_flight(0), 2);
        drop(a);
        let d = c.begin(0, "/");
        assert_eq!(c.max_in_flight(0), 2);
        drop((b, d));
        assert_eq!(c.in_flight(0), 0);
        assert_eq!(c.max_in_flight(1), 0);
        assert_eq!(c.count(0, "/"), 2);
        assert_eq!(c.count(1, "/"), 0);
        assert_eq!(c.total(), 3);
        assert_eq!(c.all().len(), 2);
    }
}
