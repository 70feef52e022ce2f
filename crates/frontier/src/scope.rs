//! Scope: which discovered URLs a crawl follows at all (hosts, include/exclude patterns, depth).

use regex::RegexSet;
use url::Url;

use crate::{FrontierConfig, FrontierError, ScopeMode};

/// Why a URL is left out of the crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfScope {
    /// Its host is not one the scope allows.
    Host,
    /// It is deeper than the maximum depth.
    Depth,
    /// It matches an exclude pattern.
    Excluded,
    /// Include patterns are set and it matches none.
    NotIncluded,
    /// It is not http or https.
    Scheme,
}

impl OutOfScope {
    /// A short stable name for counters and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            OutOfScope::Host => "out_of_scope_host",
            OutOfScope::Depth => "too_deep",
            OutOfScope::Excluded => "excluded",
            OutOfScope::NotIncluded => "not_included",
            OutOfScope::Scheme => "scheme",
        }
    }
}

/// Compiled scope rules for one crawl.
#[derive(Debug, Clone)]
pub struct Scope {
    mode: ScopeMode,
    hosts: Vec<String>,
    include: Option<RegexSet>,
    exclude: Option<RegexSet>,
    max_depth: Option<u32>,
}

impl Scope {
    /// Compiles the rules of `config` for a crawl that starts at `seeds`.
    pub fn new(config: &FrontierConfig, seeds: &[Url]) -> Result<Scope, FrontierError> {
        let mut hosts = Vec::new();
        for seed in seeds {
            let host = seed
                .host_str()
                .ok_or_else(|| FrontierError::SeedWithoutHost {
                    url: seed.to_string(),
                })?
                .to_ascii_lowercase();
            let host = match config.scope {
                ScopeMode::Domain => host
                    .strip_prefix("www.")
                    .map(str::to_string)
                    .unwrap_or(host),
                _ => host,
            };
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        Ok(Scope {
            mode: config.scope,
            hosts,
            include: compile("include", &config.include)?,
            exclude: compile("exclude", &config.exclude)?,
            max_depth: config.max_depth,
        })
    }

    /// Whether a URL found at `depth` is crawled. Seeds are always crawled and are not checked here.
    pub fn check(&self, url: &Url, depth: u32) -> Result<(), OutOfScope> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutOfScope::Scheme);
        }
        if self.max_depth.is_some_and(|max| depth > max) {
            return Err(OutOfScope::Depth);
        }
        if !self.host_allowed(url.host_str().unwrap_or("")) {
            return Err(OutOfScope::Host);
        }
        let text = url.as_str();
        if self.exclude.as_ref().is_some_and(|set| set.is_match(text)) {
            return Err(OutOfScope::Excluded);
        }
        if self.include.as_ref().is_some_and(|set| !set.is_match(text)) {
            return Err(OutOfScope::NotIncluded);
        }
        Ok(())
    }

    /// [`Scope::check`] in two steps, for callers that check a URL before its depth is final:
    /// `early` is `check(url, 0)` (done ahead, e.g. on a worker thread) and this gives what
    /// `check(url, depth)` would, with the same precedence of reasons.
    pub fn check_at_depth(
        &self,
        early: Result<(), OutOfScope>,
        depth: u32,
    ) -> Result<(), OutOfScope> {
        match early {
            Err(OutOfScope::Scheme) => Err(OutOfScope::Scheme),
            _ if self.max_depth.is_some_and(|max| depth > max) => Err(OutOfScope::Depth),
            other => other,
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self.mode {
            ScopeMode::Any => true,
            ScopeMode::Host => self.hosts.contains(&host),
            ScopeMode::Domain => self.hosts.iter().any(|domain| {
                host == *domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }),
        }
    }
}

fn compile(which: &'static str, patterns: &[String]) -> Result<Option<RegexSet>, FrontierError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for pattern in patterns {
        regex::Regex::new(pattern).map_err(|source| FrontierError::Pattern {
            which,
            pattern: pattern.clone(),
            source,
        })?;
    }
    RegexSet::new(patterns)
        .map(Some)
        .map_err(|source| FrontierError::Pattern {
            which,
            pattern: patterns.join(" | "),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn scope(config: FrontierConfig) -> Scope {
        Scope::new(&config, &[url("https://www.example.org:8443/start")]).unwrap()
    }

    #[test]
    fn host_scope_allows_any_port_but_not_other_hosts() {
        let s = scope(FrontierConfig::default());
        assert_eq!(s.check(&url("http://www.example.org:9999/x"), 1), Ok(()));
        assert_eq!(s.check(&url("https://WWW.example.org/x"), 1), Ok(()));
        assert_eq!(
            s.check(&url("https://docs.example.org/x"), 1),
            Err(OutOfScope::Host)
        );
        assert_eq!(
            s.check(&url("https://example.com/x"), 1),
            Err(OutOfScope::Host)
        );
    }

    #[test]
    fn domain_scope_allows_subdomains_only() {
        let s = scope(FrontierConfig {
            scope: ScopeMode::Domain,
            ..Default::default()
        });
        assert_eq!(s.check(&url("https://docs.example.org/x"), 1), Ok(()));
        assert_eq!(s.check(&url("https://example.org/x"), 1), Ok(()));
        assert_eq!(
            s.check(&url("https://badexample.org/x"), 1),
            Err(OutOfScope::Host)
        );
        assert_eq!(
            s.check(&url("https://example.org.evil.net/"), 1),
            Err(OutOfScope::Host)
        );
    }

    #[test]
    fn any_scope_allows_every_host_but_not_other_schemes() {
        let s = scope(FrontierConfig {
            scope: ScopeMode::Any,
            ..Default::default()
        });
        assert_eq!(s.check(&url("https://elsewhere.net/"), 1), Ok(()));
        assert_eq!(
            s.check(&url("ftp://elsewhere.net/"), 1),
            Err(OutOfScope::Scheme)
        );
    }

    #[test]
    fn depth_include_and_exclude() {
        let s = scope(FrontierConfig {
            max_depth: Some(2),
            include: vec!["/docs/".into(), "/blog/".into()],
            exclude: vec![r"\.pdf$".into()],
            ..Default::default()
        });
        let base = "https://www.example.org";
        assert_eq!(s.check(&url(&format!("{base}/docs/a")), 2), Ok(()));
        assert_eq!(
            s.check(&url(&format!("{base}/docs/a")), 3),
            Err(OutOfScope::Depth)
        );
        assert_eq!(
            s.check(&url(&format!("{base}/shop/a")), 1),
            Err(OutOfScope::NotIncluded)
        );
        assert_eq!(
            s.check(&url(&format!("{base}/blog/a.pdf")), 1),
            Err(OutOfScope::Excluded)
        );
    }

    #[test]
    fn a_check_in_two_steps_equals_the_check_at_once() {
        let s = scope(FrontierConfig {
            max_depth: Some(2),
            include: vec!["/docs/".into()],
            exclude: vec![r"\.pdf$".into()],
            ..Default::default()
        });
        let urls = [
            "https://www.example.org/docs/a",
            "https://www.example.org/shop/a",
            "https://www.example.org/docs/a.pdf",
            "https://elsewhere.net/docs/a",
            "ftp://www.example.org/docs/a",
        ];
        let mut reasons = Vec::new();
        for text in urls {
            let u = url(text);
            for depth in 0..4 {
                let at_once = s.check(&u, depth);
                assert_eq!(
                    s.check_at_depth(s.check(&u, 0), depth),
                    at_once,
                    "{text} at {depth}"
                );
                if !reasons.contains(&at_once) {
                    reasons.push(at_once);
                }
            }
        }
        assert_eq!(reasons.len(), 6, "every outcome is covered: {reasons:?}");
    }

    #[test]
    fn bad_pattern_names_the_pattern() {
        let err = Scope::new(
            &FrontierConfig {
                exclude: vec!["(".into()],
                ..Default::default()
            },
            &[url("https://example.org/")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("exclude pattern \"(\""), "{err}");
    }
}
