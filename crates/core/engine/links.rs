//! A page's links made ready for the commit thread on the parse thread that found them: each
//! link's text, host key, scope verdict (all but the depth rule, which needs the page's final
//! depth) and a 128-bit fingerprint that the known-URL cache and the batch's own dedup key on.
//! So the one committer (the crawl's bottleneck at scale) neither allocates nor hashes nor runs
//! the scope's patterns per link; it only moves what is ready here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::SipHasher13;
use trawl_frontier::{OutOfScope, Scope};
use trawl_parser::Parsed;
use url::Url;

/// A link to follow, as prepared by a parse thread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FoundLink {
    /// The canonical URL.
    pub(crate) url: String,
    /// Its host key (see `trawl_fetcher::host_key`).
    pub(crate) host_key: String,
    /// [`fingerprint`] of `url`.
    pub(crate) fingerprint: u128,
    /// `Scope::check(url, 0)`: to finish with `Scope::check_at_depth`.
    pub(crate) early_scope: Result<(), OutOfScope>,
}

impl FoundLink {
    pub(crate) fn new(url: &Url, scope: &Scope) -> FoundLink {
        FoundLink {
            url: url.as_str().to_string(),
            host_key: trawl_fetcher::host_key(url),
            fingerprint: fingerprint(url.as_str()),
            early_scope: scope.check(url, 0),
        }
    }
}

/// The links of `parsed` to follow, in document order.
pub(crate) fn links_to_follow(parsed: &Parsed, scope: &Scope) -> Vec<FoundLink> {
    parsed
        .links_to_follow()
        .map(|url| FoundLink::new(url, scope))
        .collect()
}

/// A 128-bit SipHash-1-3 of a URL's text. Two URLs share one with odds of about n²/2¹²⁹ among
/// n URLs (~10⁻²⁷ for a million), so sets keyed by it are exact in practice at 16 bytes an entry.
pub(crate) fn fingerprint(url: &str) -> u128 {
    // Fixed keys: fingerprints are compared only within one process.
    SipHasher13::new_with_keys(0x7472_6177_6c5f_6b6e, 0x6f77_6e5f_7572_6c73)
        .hash(url.as_bytes())
        .as_u128()
}

/// A map keyed by fingerprints (already uniform: hashed no further).
pub(crate) type FingerprintMap<V> = HashMap<u128, V, BuildHasherDefault<FingerprintHasher>>;

/// Takes a fingerprint's low 64 bits as its hash.
#[derive(Debug, Default)]
pub(crate) struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for u128 keys; kept correct for any other use.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_frontier::FrontierConfig;

    #[test]
    fn a_found_link_carries_what_the_commit_thread_needs() {
        let seed = Url::parse("http://example.org/").unwrap();
        let scope = Scope::new(&FrontierConfig::default(), &[seed]).unwrap();
        let inside = Url::parse("http://example.org:8080/a?b=1").unwrap();
        let link = FoundLink::new(&inside, &scope);
        assert_eq!(link.url, inside.as_str());
        assert_eq!(link.host_key, trawl_fetcher::host_key(&inside));
        assert_eq!(link.fingerprint, fingerprint(inside.as_str()));
        let outside = Url::parse("http://elsewhere.net/").unwrap();
        assert_eq!(
            FoundLink::new(&outside, &scope).early_scope,
            scope.check(&outside, 0)
        );
        assert!(FoundLink::new(&outside, &scope).early_scope.is_err());
    }

    #[test]
    fn fingerprints_differ_for_different_urls_and_key_a_map() {
        let mut seen: FingerprintMap<u32> = FingerprintMap::default();
        for i in 0..10_000 {
            let url = format!("http://example.org/p/{i}");
            assert_eq!(fingerprint(&url), fingerprint(&url.clone()));
            assert!(seen.insert(fingerprint(&url), i).is_none(), "{url}");
        }
        assert_eq!(seen.get(&fingerprint("http://example.org/p/42")), Some(&42));
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }
}
