//! Link de-duplication for one page: canonical URLs keyed by a fast precomputed hash (collisions
//! handled), first occurrence kept, `rel=nofollow` merged, and the per-page outlink and URL-length
//! caps applied with what they drop counted.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use url::Url;

use crate::{Link, LinkKind, ParserConfig};

/// Keyed by a precomputed hash: no hashing of the key.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FxHash-style hash of a URL string (speed over DoS resistance; collisions are handled).
pub(crate) fn url_hash(s: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = s.len() as u64;
    let mut chunks = s.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    h
}

/// Marks a hash entry for a distinct URL that was dropped (not in `links`).
const DROPPED: usize = usize::MAX;

/// Collects links: de-duplication, the outlink cap and the URL length limit.
pub(crate) struct LinkSet {
    pub(crate) links: Vec<Link>,
    seen: HashMap<u64, usize, BuildHasherDefault<IdentityHasher>>,
    pub(crate) dropped: usize,
    max_links: usize,
    max_len: usize,
}

impl LinkSet {
    pub(crate) fn new(config: &ParserConfig, expected: usize) -> LinkSet {
        let cap = expected.min(config.max_outlinks);
        LinkSet {
            links: Vec::with_capacity(cap),
            seen: HashMap::with_capacity_and_hasher(cap, BuildHasherDefault::default()),
            dropped: 0,
            max_links: config.max_outlinks,
            max_len: config.max_url_len,
        }
    }

    /// Adds a link; returns whether this URL is (now or already) in `links`.
    pub(crate) fn push(&mut self, url: Url, kind: LinkKind, nofollow: bool) -> bool {
        let h = url_hash(url.as_str());
        match self.seen.get(&h).copied() {
            Some(DROPPED) => return false,
            Some(i) if self.links[i].url == url => {
                self.links[i].nofollow &= nofollow;
                return true;
            }
            Some(_) => {
                // A genuine 64-bit hash collision: fall back to a scan.
                if let Some(l) = self.links.iter_mut().find(|l| l.url == url) {
                    l.nofollow &= nofollow;
                    return true;
                }
                if url.as_str().len() > self.max_len || self.links.len() >= self.max_links {
                    self.dropped += 1;
                    return false;
                }
                self.links.push(Link {
                    url,
                    kind,
                    nofollow,
                });
                return true;
            }
            None => {}
        }
        if url.as_str().len() > self.max_len || self.links.len() >= self.max_links {
            self.seen.insert(h, DROPPED);
            self.dropped += 1;
            return false;
        }
        self.seen.insert(h, self.links.len());
        self.links.push(Link {
            url,
            kind,
            nofollow,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_collisions_are_handled() {
        // Force every URL into the same bucket by pre-seeding the map with a wrong index.
        let config = ParserConfig::default();
        let mut set = LinkSet::new(&config, 4);
        let a = Url::parse("http://a.test/").unwrap();
        let b = Url::parse("http://b.test/").unwrap();
        assert!(set.push(a.clone(), LinkKind::Anchor, false));
        set.seen.insert(url_hash(b.as_str()), 0); // pretend b collides with a
        assert!(set.push(b.clone(), LinkKind::Anchor, true));
        assert!(set.push(b.clone(), LinkKind::Anchor, true));
        assert_eq!(set.links.len(), 2);
        assert_eq!(set.links[1].url, b);
        assert!(set.links[1].nofollow);
    }
}
