//! A bounded cache of URLs known to be in the store, in front of the store's seen-set.
//! Links that appear on most pages (navigation, footers) are answered here instead of by a sled
//! lookup inside the commit transaction. Each entry keeps the depth the URL was committed at (the
//! store's depth is never larger), so a link is skipped only when the store would change nothing:
//! a shorter path still reaches the store and lowers a queued URL's depth. Entries are 128-bit
//! fingerprints (see [`super::links::fingerprint`]): 16 bytes instead of the URL's text, and a
//! hit that is not the same URL has odds of ~10⁻²⁷; a miss falls through to the store. A batch's
//! URLs are added as it is committed (a failed commit ends the crawl, so the cache never
//! outlives it).

use std::collections::VecDeque;

use super::links::FingerprintMap;

/// URLs known to the store, the most recent `capacity` of them, with a depth bound.
#[derive(Debug)]
pub(crate) struct KnownUrls {
    depths: FingerprintMap<u32>,
    order: VecDeque<u128>,
    capacity: usize,
}

impl KnownUrls {
    pub(crate) fn new(capacity: usize) -> KnownUrls {
        let capacity = capacity.max(1);
        // Grown as needed: a small crawl touches only a small table.
        let initial = capacity.min(1 << 12);
        KnownUrls {
            depths: FingerprintMap::with_capacity_and_hasher(initial, Default::default()),
            order: VecDeque::with_capacity(initial),
            capacity,
        }
    }

    /// Whether the store holds the URL with this fingerprint at `depth` or less (so finding it at
    /// `depth` changes nothing).
    pub(crate) fn covers(&self, fingerprint: u128, depth: u32) -> bool {
        self.depths
            .get(&fingerprint)
            .is_some_and(|known| *known <= depth)
    }

    /// Records that the store holds the URL with this fingerprint at `depth` or less, forgetting
    /// the oldest entry when full.
    pub(crate) fn insert(&mut self, fingerprint: u128, depth: u32) {
        if let Some(known) = self.depths.get_mut(&fingerprint) {
            *known = (*known).min(depth);
            return;
        }
        if self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.depths.remove(&oldest);
            }
        }
        self.depths.insert(fingerprint, depth);
        self.order.push_back(fingerprint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::links::fingerprint;

    #[test]
    fn covers_only_at_the_known_depth_or_deeper() {
        let (a, b) = (fingerprint("a"), fingerprint("b"));
        let mut known = KnownUrls::new(8);
        known.insert(a, 3);
        assert!(known.covers(a, 3) && known.covers(a, 5));
        assert!(!known.covers(a, 2), "a shorter path must reach the store");
        known.insert(a, 2);
        assert!(known.covers(a, 2));
        assert!(!known.covers(b, 9));
    }

    #[test]
    fn holds_at_most_capacity_and_forgets_the_oldest() {
        let [a, b, c] = ["a", "b", "c"].map(fingerprint);
        let mut known = KnownUrls::new(2);
        known.insert(a, 1);
        known.insert(b, 1);
        known.insert(a, 1);
        known.insert(c, 1);
        assert!(!known.covers(a, 1), "the oldest is forgotten");
        assert!(known.covers(b, 1) && known.covers(c, 1));
        assert_eq!((known.depths.len(), known.order.len()), (2, 2));
    }
}
