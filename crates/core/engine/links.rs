//! A page's links made ready for the commit thread on the parse thread that found them: each
//! link's text, host key, scope verdict (all but the depth rule, which needs the page's final
//! depth) and a 128-bit fingerprint that the known-URL cache and the batch's own dedup key on.
//! So the one committer (the crawl's bottleneck at scale) neither allocates nor hashes nor runs
//! the scope's patterns per link. A page's links travel in one text buffer with each host key
//! once: the committer copies out only the URLs that are new, and frees a handful of buffers per
//! page instead of two strings per link (in a docs crawl, free() was ~18% of its samples).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::SipHasher13;
use trawl_frontier::{OutOfScope, Scope};
use trawl_parser::Parsed;
use url::Url;

/// The links of one page to follow, as prepared by a parse thread, in document order.
#[derive(Debug, Default)]
pub(crate) struct FoundLinks {
    /// The canonical URLs, one after another.
    text: String,
    /// The host keys (see `trawl_fetcher::host_key`), each once.
    hosts: Vec<String>,
    entries: Vec<Entry>,
}

/// Where one link's text ends in [`FoundLinks::text`] (it starts where the previous one ends),
/// and what was found out about it.
#[derive(Debug)]
struct Entry {
    end: usize,
    host: usize,
    fingerprint: u128,
    early_scope: Result<(), OutOfScope>,
}

/// One link of [`FoundLinks`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FoundLink<'a> {
    /// The canonical URL.
    pub(crate) url: &'a str,
    /// Its host key (see `trawl_fetcher::host_key`).
    pub(crate) host_key: &'a str,
    /// [`fingerprint`] of `url`.
    pub(crate) fingerprint: u128,
    /// `Scope::check(url, 0)`: to finish with `Scope::check_at_depth`.
    pub(crate) early_scope: Result<(), OutOfScope>,
}

/// What a host key is made of: scheme, host (as serialised) and port.
type HostParts<'u> = (&'u str, Option<&'u str>, Option<u16>);

impl FoundLinks {
    /// `urls`, prepared against `scope`.
    pub(crate) fn new<'u>(urls: impl IntoIterator<Item = &'u Url>, scope: &Scope) -> FoundLinks {
        let mut links = FoundLinks::default();
        let mut host_index: HashMap<String, usize> = HashMap::new();
        // Most links share the previous link's host: its key (a function of scheme, host and
        // port) is then neither built nor looked up again.
        let mut previous: Option<(HostParts<'u>, usize)> = None;
        for url in urls {
            let parts = (url.scheme(), url.host_str(), url.port_or_known_default());
            let host = match previous {
                Some((last, index)) if last == parts => index,
                _ => {
                    let key = trawl_fetcher::host_key(url);
                    let index = match host_index.get(&key) {
                        Some(&index) => index,
                        None => {
                            let index = links.hosts.len();
                            links.hosts.push(key.clone());
                            host_index.insert(key, index);
                            index
                        }
                    };
                    previous = Some((parts, index));
                    index
                }
            };
            let text = url.as_str();
            links.text.push_str(text);
            links.entries.push(Entry {
                end: links.text.len(),
                host,
                fingerprint: fingerprint(text),
                early_scope: scope.check(url, 0),
            });
        }
        links
    }

    /// How many links there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The links, in document order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = FoundLink<'_>> {
        let mut start = 0;
        self.entries.iter().map(move |entry| {
            let url = &self.text[start..entry.end];
            start = entry.end;
            FoundLink {
                url,
                host_key: &self.hosts[entry.host],
                fingerprint: entry.fingerprint,
                early_scope: entry.early_scope,
            }
        })
    }
}

/// The links of `parsed` to follow, in document order.
pub(crate) fn links_to_follow(parsed: &Parsed, scope: &Scope) -> FoundLinks {
    FoundLinks::new(parsed.links_to_follow(), scope)
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
    fn found_links_carry_what_the_commit_thread_needs() {
        let seed = Url::parse("http://example.org/").unwrap();
        let scope = Scope::new(&FrontierConfig::default(), &[seed]).unwrap();
        let urls: Vec<Url> = [
            "http://example.org:8080/a?b=1",
            // The previous link's host, then only the port, then only the scheme differs.
            "http://example.org:8080/a2",
            "http://example.org:8081/a3",
            "https://example.org:8081/a4",
            "http://elsewhere.net/",
            "http://example.org:8080/c",
            "https://example.org/",
            "http://elsewhere.net/x",
        ]
        .iter()
        .map(|u| Url::parse(u).unwrap())
        .collect();
        let links = FoundLinks::new(&urls, &scope);
        assert_eq!(links.len(), urls.len());
        let found: Vec<FoundLink<'_>> = links.iter().collect();
        assert_eq!(found.len(), urls.len());
        for (link, url) in found.iter().zip(&urls) {
            assert_eq!(link.url, url.as_str());
            assert_eq!(link.host_key, trawl_fetcher::host_key(url));
            assert_eq!(link.fingerprint, fingerprint(url.as_str()));
            assert_eq!(link.early_scope, scope.check(url, 0));
        }
        assert!(found[0].early_scope.is_ok());
        assert!(found[4].early_scope.is_err());
        // Each host key is kept once.
        assert_eq!(links.hosts.len(), 5);
        assert!(FoundLinks::default().iter().next().is_none());
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
