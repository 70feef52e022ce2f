//! robots.txt (RFC 9309): fetched once per host key through the shared client, cached with
//! single-flight (concurrent callers for one host wait for one fetch), and turned into a
//! [`RobotsVerdict`] per URL with [`RobotsRules`]. Sitemap lines are kept and exposed by
//! [`Fetcher::sitemaps`]; `Crawl-delay` is capped by `max_crawl_delay`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use url::Url;

use crate::body::Overflow;
use crate::fetch::{host_key, Fetcher, GetOptions};
use crate::rules::RobotsRules;

/// How much of a robots.txt is read (RFC 9309 asks for at least 500 KiB); the rest is ignored.
pub const ROBOTS_MAX_BYTES: u64 = 512 * 1024;
/// Maximum redirect hops followed for robots.txt (RFC 9309 §2.3.1.2).
pub const ROBOTS_MAX_REDIRECTS: usize = 5;
/// A fetched (or absent) robots.txt is trusted this long (RFC 9309 §2.4: at most 24 h).
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// An unreachable robots.txt (5xx, network error) is retried after this long.
const UNREACHABLE_TTL: Duration = Duration::from_secs(5 * 60);

/// The robots.txt verdict for one URL.
#[derive(Debug, Clone, PartialEq)]
pub enum RobotsVerdict {
    /// The URL may be fetched; `crawl_delay` is the host's `Crawl-delay`, if any.
    Allowed {
        /// `Crawl-delay` from robots.txt for our agent group, capped at `max_crawl_delay`.
        crawl_delay: Option<Duration>,
    },
    /// robots.txt disallows this URL for our agent.
    Disallowed,
    /// robots.txt could not be fetched (5xx, network error, timeout): treat everything as
    /// disallowed for now (RFC 9309 §2.3.1.4).
    Unreachable {
        /// Why robots.txt could not be fetched.
        reason: String,
    },
}

impl RobotsVerdict {
    /// True only for [`RobotsVerdict::Allowed`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, RobotsVerdict::Allowed { .. })
    }
}

/// What we learned from one host's robots.txt.
#[derive(Debug)]
enum Rules {
    /// No usable robots.txt (4xx, too many redirects): everything allowed.
    AllowAll,
    /// Parsed rules for our agent.
    Parsed {
        rules: Box<RobotsRules>,
        crawl_delay: Option<Duration>,
        sitemaps: Vec<Url>,
    },
    /// Could not be fetched: everything disallowed until it expires.
    Unreachable(String),
}

#[derive(Debug)]
pub(crate) struct RobotsEntry {
    rules: Rules,
    expires: Instant,
}

type Slot = Arc<OnceCell<RobotsEntry>>;

/// Per-host-key single-flight cache of robots.txt results.
#[derive(Debug, Default)]
pub(crate) struct RobotsCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl RobotsCache {
    /// The slot for `key`, replacing an expired one. The lock is never held across an await.
    fn slot(&self, key: &str) -> Slot {
        let mut map = match self.slots.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        if let Some(slot) = map.get(key) {
            let expired = slot.get().is_some_and(|e| e.expires <= now);
            if !expired {
                return Arc::clone(slot);
            }
        }
        let slot: Slot = Arc::new(OnceCell::new());
        map.insert(key.to_string(), Arc::clone(&slot));
        slot
    }

    /// The existing slot for `key`, if any (no insertion).
    fn existing(&self, key: &str) -> Option<Slot> {
        let map = match self.slots.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.get(key).cloned()
    }
}

impl Fetcher {
    /// robots.txt verdict for this URL (RFC 9309): fetched once per host key
    /// (`scheme://host:port`), cached (single-flight), obeyed. 2xx: parsed for the product token
    /// of `user_agent`; 3xx: followed up to 5 hops; 4xx: allow all; 5xx / network error /
    /// timeout: [`RobotsVerdict::Unreachable`]. If `obey_robots` is false: always allowed, no fetch.
    pub async fn robots(&self, url: &Url) -> RobotsVerdict {
        if !self.inner.config.obey_robots {
            return RobotsVerdict::Allowed { crawl_delay: None };
        }
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return RobotsVerdict::Unreachable {
                reason: format!("no robots.txt for URL {url}"),
            };
        }
        let key = host_key(url);
        let slot = self.inner.robots.slot(&key);
        let entry = slot.get_or_init(|| self.fetch_robots(url)).await;
        let verdict = match &entry.rules {
            Rules::AllowAll => RobotsVerdict::Allowed { crawl_delay: None },
            Rules::Parsed {
                rules, crawl_delay, ..
            } => {
                if rules.allows(url) {
                    RobotsVerdict::Allowed {
                        crawl_delay: *crawl_delay,
                    }
                } else {
                    RobotsVerdict::Disallowed
                }
            }
            Rules::Unreachable(reason) => RobotsVerdict::Unreachable {
                reason: reason.clone(),
            },
        };
        tracing::trace!(url = %url, ?verdict, "robots verdict");
        verdict
    }

    /// `Sitemap:` URLs from the cached robots.txt of this URL's host (empty if not fetched yet,
    /// absent, or unreachable). Never fetches.
    pub fn sitemaps(&self, url: &Url) -> Vec<Url> {
        let Some(slot) = self.inner.robots.existing(&host_key(url)) else {
            return Vec::new();
        };
        match slot.get().map(|e| &e.rules) {
            Some(Rules::Parsed { sitemaps, .. }) => sitemaps.clone(),
            _ => Vec::new(),
        }
    }

    /// Fetch and interpret the robots.txt for `url`'s host, following up to 5 redirects.
    async fn fetch_robots(&self, url: &Url) -> RobotsEntry {
        let opts = GetOptions {
            limit: ROBOTS_MAX_BYTES,
            overflow: Overflow::Truncate,
        };
        let mut target = match url.join("/robots.txt") {
            Ok(u) => u,
            Err(e) => return entry(Rules::Unreachable(format!("bad robots.txt URL: {e}"))),
        };
        for _hop in 0..=ROBOTS_MAX_REDIRECTS {
            let fetched = match self.get(&target, opts).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::debug!(url = %target, error = %e, "robots.txt unreachable");
                    return entry(Rules::Unreachable(e.to_string()));
                }
            };
            let status = fetched.status;
            if status.is_success() {
                return entry(self.parse(&target, &fetched.body));
            }
            if status.is_redirection() {
                match fetched.redirect_to {
                    Some(next) => {
                        target = next;
                        continue;
                    }
                    None => return entry(Rules::AllowAll),
                }
            }
            if status.is_client_error() {
                return entry(Rules::AllowAll);
            }
            return entry(Rules::Unreachable(format!(
                "robots.txt at {target} returned {status}"
            )));
        }
        // More than five redirects: the file is considered unavailable (RFC 9309 §2.3.1.2).
        entry(Rules::AllowAll)
    }

    fn parse(&self, robots_url: &Url, body: &[u8]) -> Rules {
        let rules = RobotsRules::parse(body, self.inner.config.robots_agent());
        let crawl_delay = rules
            .crawl_delay()
            .map(|d| d.min(self.inner.config.max_crawl_delay));
        let sitemaps = rules
            .sitemaps()
            .iter()
            .filter_map(|s| robots_url.join(s.trim()).ok())
            .collect();
        Rules::Parsed {
            rules: Box::new(rules),
            crawl_delay,
            sitemaps,
        }
    }
}

fn entry(rules: Rules) -> RobotsEntry {
    let ttl = match rules {
        Rules::Unreachable(_) => UNREACHABLE_TTL,
        _ => ROBOTS_TTL,
    };
    RobotsEntry {
        rules,
        expires: Instant::now() + ttl,
    }
}
