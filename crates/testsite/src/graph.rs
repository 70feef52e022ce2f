//! The deterministic structure of the site: where each page lives, what it links to, what every
//! URL serves, and which URLs a well-behaved crawler would request ([`SiteGraph::reachable`]).
//!
//! The link list of a page comes from ONE function ([`SiteGraph::links`]), used both to render the
//! HTML and to answer [`SiteGraph::outlinks`], so the two cannot disagree. Nothing here is O(N):
//! a page's links are recomputed from `(seed, page)` with splitmix64 whenever needed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::spec::SiteSpec;

/// What an absolute URL of the site serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// 200 HTML page number `i`.
    Page(usize),
    /// 404 (`/missing/{k}` and every unknown path).
    Missing,
    /// 301 to the absolute URL `to` (a page on the same host).
    Redirect {
        /// Absolute canonical URL of the target page.
        to: String,
    },
    /// 200 page under `/private/` that robots.txt forbids.
    Private,
    /// `/robots.txt`.
    Robots,
}

/// One `<a href>` of a page: what is written in the HTML and its absolute canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// As written in the HTML (root-relative or absolute, maybe with a `#fragment`).
    pub href: String,
    /// Absolute, fragment-free, canonical URL.
    pub url: String,
}

/// What a server-side path maps to, with indices (the server needs paths, not URLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    Page(usize),
    Missing,
    Moved(usize),
    Private(usize),
    Robots,
}

/// A cheap-to-clone view of the site's deterministic structure, with its real ports.
#[derive(Debug, Clone)]
pub struct SiteGraph {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    spec: SiteSpec,
    scheme: &'static str,
    bases: Vec<String>,
    port_to_host: HashMap<u16, usize>,
}

const STREAM_LINKS: u64 = 0x6c69_6e6b;
const STREAM_MOVED: u64 = 0x6d6f_7665;

/// splitmix64-based generator, seeded from (seed, stream, index).
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64, index: usize) -> Rng {
        let mut r = Rng(seed
            ^ stream.wrapping_mul(0xA24B_AED4_963E_E407)
            ^ (index as u64).wrapping_mul(0x9FB2_1C65_1E98_DF25));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform-enough value in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn percent(&mut self, p: u8) -> bool {
        self.below(100) < usize::from(p)
    }
}

impl SiteGraph {
    /// Builds the graph of `spec` served under `scheme` (`"http"`/`"https"`) on 127.0.0.1 with
    /// `ports[h]` for host `h`. `ports.len()` must equal `spec.hosts`.
    pub fn new(spec: SiteSpec, https: bool, ports: &[u16]) -> SiteGraph {
        let scheme = if https { "https" } else { "http" };
        let bases = ports
            .iter()
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect();
        let port_to_host = ports.iter().enumerate().map(|(h, p)| (*p, h)).collect();
        SiteGraph {
            inner: Arc::new(Inner {
                spec,
                scheme,
                bases,
                port_to_host,
            }),
        }
    }

    /// The spec this graph was built from.
    pub fn spec(&self) -> &SiteSpec {
        &self.inner.spec
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.inner.bases.len()
    }

    /// `"http(s)://127.0.0.1:PORT"` of host `host` (no trailing slash). Panics if out of range.
    pub fn base_url(&self, host: usize) -> &str {
        &self.inner.bases[host]
    }

    /// The host page `page` lives on.
    pub fn host_of(&self, page: usize) -> usize {
        page % self.hosts()
    }

    /// Root-relative path of page `page`: `/` for a host's home page, else `/p/{page}`.
    pub fn page_path(&self, page: usize) -> String {
        if page < self.hosts() {
            "/".to_string()
        } else {
            format!("/p/{page}")
        }
    }

    /// Absolute canonical URL of page `page`.
    pub fn page_url(&self, page: usize) -> String {
        if page < self.hosts() {
            format!("{}/", self.base_url(self.host_of(page)))
        } else {
            format!("{}/p/{page}", self.base_url(self.host_of(page)))
        }
    }

    fn hosts(&self) -> usize {
        self.inner.spec.hosts
    }

    fn pages(&self) -> usize {
        self.inner.spec.pages
    }

    /// Hosts that have at least one page.
    fn hosts_with_pages(&self) -> usize {
        self.hosts().min(self.pages())
    }

    /// Number of pages on host `h`.
    fn pages_on(&self, h: usize) -> usize {
        if h >= self.pages() {
            0
        } else {
            (self.pages() - 1 - h) / self.hosts() + 1
        }
    }

    fn random_page_on(&self, h: usize, rng: &mut Rng) -> usize {
        h + self.hosts() * rng.below(self.pages_on(h).max(1))
    }

    /// A link from a page on host `from` to `path` on host `to`.
    fn link(&self, from: usize, to: usize, path: &str, rng: &mut Rng) -> Link {
        let url = format!("{}{path}", self.base_url(to));
        let mut href = if to != from || rng.below(2) == 0 {
            url.clone()
        } else {
            path.to_string()
        };
        if rng.below(4) == 0 {
            href.push_str("#s1");
        }
        Link { href, url }
    }

    /// THE link list of page `page`, in document order (the server renders exactly these).
    pub(crate) fn links(&self, page: usize) -> Vec<Link> {
        let spec = &self.inner.spec;
        let h = self.host_of(page);
        let mut rng = Rng::new(spec.seed, STREAM_LINKS, page);
        let mut out = Vec::with_capacity(spec.links_per_page + 3);
        if spec.links_per_page > 0 && page + 1 < spec.pages {
            let next = page + 1;
            out.push(self.link(h, self.host_of(next), &self.page_path(next), &mut rng));
        }
        let others = self.hosts_with_pages();
        for _ in 1..spec.links_per_page {
            let to = if others > 1 && rng.percent(spec.cross_host_percent) {
                (h + 1 + rng.below(others - 1)) % others
            } else {
                h
            };
            let t = self.random_page_on(to, &mut rng);
            out.push(self.link(h, to, &self.page_path(t), &mut rng));
        }
        if rng.percent(spec.not_found_percent) {
            out.push(self.link(h, h, &format!("/missing/{page}"), &mut rng));
        }
        if rng.percent(spec.redirect_percent) {
            out.push(self.link(h, h, &format!("/moved/{page}"), &mut rng));
        }
        if rng.percent(spec.private_percent) {
            out.push(self.link(h, h, &format!("/private/{page}"), &mut rng));
        }
        out
    }

    /// Absolute URLs (fragment-free, http(s) only) page `page` links to, in document order,
    /// duplicates included. Empty if `page` is out of range.
    pub fn outlinks(&self, page: usize) -> Vec<String> {
        if page >= self.pages() {
            return Vec::new();
        }
        self.links(page).into_iter().map(|l| l.url).collect()
    }

    /// The page `/moved/{k}` redirects to (on the same host as page `k`).
    pub(crate) fn moved_target(&self, k: usize) -> usize {
        let mut rng = Rng::new(self.inner.spec.seed, STREAM_MOVED, k);
        self.random_page_on(self.host_of(k), &mut rng)
    }

    /// Splits an absolute URL of this site into (host index, path-with-query), dropping any
    /// fragment; a missing path becomes `/`. `None` if the URL is not on this site.
    pub fn locate(&self, url: &str) -> Option<(usize, String)> {
        let scheme = self.inner.scheme;
        let prefix = url.get(..scheme.len() + 3)?;
        if !prefix.eq_ignore_ascii_case(&format!("{scheme}://")) {
            return None;
        }
        let rest = &url[scheme.len() + 3..];
        let rest = rest.split('#').next().unwrap_or("");
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(auth_end);
        let (host, port) = authority.rsplit_once(':')?;
        if host != "127.0.0.1" && !host.eq_ignore_ascii_case("localhost") {
            return None;
        }
        let port: u16 = port.parse().ok()?;
        let h = *self.inner.port_to_host.get(&port)?;
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Some((h, path))
    }

    /// The canonical absolute form of a URL of this site (`None` if not on this site).
    pub fn canonical(&self, url: &str) -> Option<String> {
        self.locate(url)
            .map(|(h, path)| format!("{}{path}", self.base_url(h)))
    }

    /// What path-with-query `path` on host `h` serves (queries are ignored).
    pub(crate) fn serve(&self, h: usize, path: &str) -> Served {
        let path = path.split('?').next().unwrap_or("");
        let valid_k = |s: &str| -> Option<usize> {
            let k = parse_index(s)?;
            (k < self.pages() && self.host_of(k) == h).then_some(k)
        };
        if path == "/robots.txt" {
            return Served::Robots;
        }
        if path == "/" {
            return if h < self.pages() {
                Served::Page(h)
            } else {
                Served::Missing
            };
        }
        if let Some(rest) = path.strip_prefix("/p/") {
            return match valid_k(rest) {
                Some(i) if i >= self.hosts() => Served::Page(i),
                _ => Served::Missing,
            };
        }
        if let Some(rest) = path.strip_prefix("/moved/") {
            return valid_k(rest).map_or(Served::Missing, |k| Served::Moved(self.moved_target(k)));
        }
        if let Some(rest) = path.strip_prefix("/private/") {
            return valid_k(rest).map_or(Served::Missing, Served::Private);
        }
        Served::Missing
    }

    /// What an absolute URL of this site serves (`None`: not on this site).
    pub fn resolve(&self, url: &str) -> Option<Resource> {
        let (h, path) = self.locate(url)?;
        Some(match self.serve(h, &path) {
            Served::Page(i) => Resource::Page(i),
            Served::Missing => Resource::Missing,
            Served::Moved(t) => Resource::Redirect {
                to: self.page_url(t),
            },
            Served::Private(_) => Resource::Private,
            Served::Robots => Resource::Robots,
        })
    }

    /// Whether `/robots.txt` disallows the URL's path (for every agent).
    pub fn robots_disallows(&self, url: &str) -> bool {
        match self.locate(url) {
            Some((_, path)) => self
                .inner
                .spec
                .robots_disallow
                .iter()
                .any(|p| !p.is_empty() && path.starts_with(p.as_str())),
            None => false,
        }
    }

    /// Breadth-first set of absolute URLs a crawler following the rules would REQUEST, each with
    /// its (smallest) depth.
    ///
    /// Rules: start at `seed` depth 0; a 200 page's outlinks get depth+1; a redirect's target keeps
    /// the SAME depth as the redirecting URL; 404s and private pages have no outlinks; URLs for
    /// which `allow(url)` is false are not requested; URLs under `robots_disallow` are not
    /// requested if `obey_robots`; `max_depth` (None = unlimited) bounds depth. robots.txt itself
    /// is not included.
    pub fn reachable(
        &self,
        seed: &str,
        max_depth: Option<u32>,
        obey_robots: bool,
        allow: &dyn Fn(&str) -> bool,
    ) -> BTreeMap<String, u32> {
        let admit = |url: &str| allow(url) && !(obey_robots && self.robots_disallows(url));
        let mut depth: HashMap<String, u32> = HashMap::new();
        // 0-1 BFS: redirects (weight 0) go to the front, links (weight 1) to the back.
        let mut queue: VecDeque<(String, u32)> = VecDeque::new();
        let seed = self.canonical(seed).unwrap_or_else(|| seed.to_string());
        if !admit(&seed) {
            return BTreeMap::new();
        }
        depth.insert(seed.clone(), 0);
        queue.push_back((seed, 0));
        let relax = |url: String,
                     d: u32,
                     front: bool,
                     depth: &mut HashMap<String, u32>,
                     queue: &mut VecDeque<(String, u32)>| {
            if depth.get(&url).is_some_and(|&old| old <= d) || !admit(&url) {
                return;
            }
            depth.insert(url.clone(), d);
            if front {
                queue.push_front((url, d));
            } else {
                queue.push_back((url, d));
            }
        };
        while let Some((url, d)) = queue.pop_front() {
            if depth.get(&url).is_some_and(|&best| best < d) {
                continue; // superseded by a shorter path
            }
            match self.resolve(&url) {
                Some(Resource::Page(i)) if !matches!(max_depth, Some(m) if d >= m) => {
                    for link in self.outlinks(i) {
                        relax(link, d + 1, false, &mut depth, &mut queue);
                    }
                }
                Some(Resource::Redirect { to }) => relax(to, d, true, &mut depth, &mut queue),
                _ => {}
            }
        }
        depth.into_iter().collect()
    }
}

/// Parses a canonical decimal index (no sign, no leading zeros).
fn parse_index(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: SiteSpec) -> SiteGraph {
        let ports: Vec<u16> = (0..spec.hosts).map(|h| 7000 + h as u16).collect();
        SiteGraph::new(spec, false, &ports)
    }

    #[test]
    fn pages_live_on_their_host_at_their_path() {
        let g = graph(SiteSpec {
            pages: 10,
            hosts: 3,
            ..SiteSpec::default()
        });
        assert_eq!(g.page_url(0), "http://127.0.0.1:7000/");
        assert_eq!(g.page_url(2), "http://127.0.0.1:7002/");
        assert_eq!(g.page_url(7), "http://127.0.0.1:7001/p/7");
        assert_eq!(
            g.resolve("http://127.0.0.1:7001/p/7"),
            Some(Resource::Page(7))
        );
        assert_eq!(g.resolve("HTTP://127.0.0.1:7002"), Some(Resource::Page(2)));
        assert_eq!(
            g.resolve("http://127.0.0.1:7001/p/7?x=1#f"),
            Some(Resource::Page(7))
        );
        // Wrong host, non-canonical or out-of-range indices are 404s; other origins are not ours.
        assert_eq!(
            g.resolve("http://127.0.0.1:7000/p/7"),
            Some(Resource::Missing)
        );
        assert_eq!(
            g.resolve("http://127.0.0.1:7001/p/07"),
            Some(Resource::Missing)
        );
        assert_eq!(
            g.resolve("http://127.0.0.1:7001/p/1"),
            Some(Resource::Missing)
        );
        assert_eq!(
            g.resolve("http://127.0.0.1:7001/p/10"),
            Some(Resource::Missing)
        );
        assert_eq!(
            g.resolve("http://127.0.0.1:7000/robots.txt"),
            Some(Resource::Robots)
        );
        assert_eq!(g.resolve("https://127.0.0.1:7000/"), None);
        assert_eq!(g.resolve("http://127.0.0.1:7999/"), None);
        assert_eq!(g.resolve("http://example.org:7000/"), None);
        assert_eq!(
            g.canonical("http://127.0.0.1:7001"),
            Some("http://127.0.0.1:7001/".into())
        );
    }

    #[test]
    fn moved_targets_a_page_on_the_same_host() {
        let g = graph(SiteSpec {
            pages: 50,
            hosts: 4,
            ..SiteSpec::default()
        });
        for k in 0..50 {
            let url = format!("{}/moved/{k}", g.base_url(k % 4));
            let Some(Resource::Redirect { to }) = g.resolve(&url) else {
                panic!("{url}")
            };
            match g.resolve(&to) {
                Some(Resource::Page(t)) => assert_eq!(t % 4, k % 4, "{url} -> {to}"),
                other => panic!("{url} -> {to}: {other:?}"),
            }
        }
    }

    #[test]
    fn link_counts_and_cross_host_share_follow_the_spec() {
        let same = graph(SiteSpec {
            pages: 200,
            hosts: 4,
            links_per_page: 5,
            cross_host_percent: 0,
            not_found_percent: 0,
            redirect_percent: 0,
            private_percent: 0,
            ..SiteSpec::default()
        });
        for i in 0..199 {
            let links = same.outlinks(i);
            assert_eq!(links.len(), 5);
            assert_eq!(links[0], same.page_url(i + 1));
            let base = same.base_url(i % 4);
            assert!(links[1..]
                .iter()
                .all(|l| l.starts_with(base) && l[base.len()..].starts_with('/')));
        }
        assert_eq!(same.outlinks(199).len(), 4, "the last page has no i+1 link");
        let cross = graph(SiteSpec {
            cross_host_percent: 100,
            ..same.spec().clone()
        });
        for i in 0..199 {
            let base = cross.base_url(i % 4);
            assert!(cross.outlinks(i)[1..]
                .iter()
                .all(|l| !l.starts_with(&format!("{base}/"))));
        }
        let all = graph(SiteSpec {
            not_found_percent: 100,
            redirect_percent: 100,
            private_percent: 100,
            ..same.spec().clone()
        });
        let links = all.outlinks(9);
        let base = all.base_url(1);
        assert_eq!(
            &links[5..],
            &[
                format!("{base}/missing/9"),
                format!("{base}/moved/9"),
                format!("{base}/private/9")
            ]
        );
        // Both href styles and some fragments occur.
        let hrefs: Vec<String> = (0..50).flat_map(|i| all.links(i)).map(|l| l.href).collect();
        assert!(hrefs.iter().any(|h| h.starts_with('/')));
        assert!(hrefs.iter().any(|h| h.starts_with("http://")));
        assert!(hrefs.iter().any(|h| h.contains('#')));
    }

    #[test]
    fn reachable_follows_redirects_at_the_same_depth_and_obeys_robots() {
        let g = graph(SiteSpec {
            pages: 40,
            hosts: 3,
            redirect_percent: 50,
            private_percent: 50,
            not_found_percent: 50,
            ..SiteSpec::default()
        });
        let seed = g.page_url(0);
        let polite = g.reachable(&seed, None, true, &|_| true);
        assert!((0..40).all(|i| polite.contains_key(&g.page_url(i))));
        assert!(!polite.keys().any(|u| u.contains("/private/")));
        assert!(polite.keys().any(|u| u.contains("/missing/")));
        for (url, d) in &polite {
            if let Some(Resource::Redirect { to }) = g.resolve(url) {
                assert!(polite[&to] <= *d, "{url} -> {to}");
            }
        }
        let rude = g.reachable(&seed, None, false, &|_| true);
        assert!(rude.keys().any(|u| u.contains("/private/")));
        let shallow = g.reachable(&seed, Some(1), true, &|_| true);
        assert!(shallow.values().all(|d| *d <= 1));
        let mut expected: Vec<String> = g.outlinks(0);
        expected.push(seed.clone());
        for u in g.outlinks(0) {
            if let Some(Resource::Redirect { to }) = g.resolve(&u) {
                expected.push(to);
            }
        }
        expected.retain(|u| !g.robots_disallows(u));
        expected.sort();
        expected.dedup();
        assert_eq!(shallow.keys().cloned().collect::<Vec<_>>(), expected);
    }
}
