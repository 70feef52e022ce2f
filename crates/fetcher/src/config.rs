//! Fetcher settings: the `[fetcher]` section of trawl's TOML configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default `User-Agent`: `trawl/<version> (+https://github.com/trawl-rs/trawl)`.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "trawl/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/trawl-rs/trawl)"
);

/// Fetcher settings (TOML section `[fetcher]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetcherConfig {
    /// `User-Agent` header sent with every request. Its product token (the part before the
    /// first `/`, e.g. `trawl`) is the agent name matched against robots.txt groups.
    pub user_agent: String,
    /// Maximum time to establish a TCP connection, e.g. `"10s"`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Maximum time from having a connection (new or pooled) to receiving the response
    /// headers, e.g. `"15s"`. Catches servers that accept but never answer.
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
    /// Longest gap allowed between two pieces of the response body (and between the headers
    /// and the first body byte), e.g. `"10s"`. Catches stalled bodies.
    #[serde(with = "humantime_serde")]
    pub body_idle_timeout: Duration,
    /// Maximum time for a whole fetch: connect, TLS, request, response headers and the full
    /// body. Catches bodies that trickle in slowly but never stall long enough for
    /// `body_idle_timeout`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long an idle pooled connection is kept open for reuse.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Maximum number of idle pooled connections kept per host. Keep it at least the frontier's
    /// per-host cap: connections beyond it are closed when idle and opened again (a crawl of one
    /// host at 64 requests at once opened 3,066 connections for 20,000 pages with 32, 67 with
    /// 64). Only connections a crawl uses are ever open, so a larger value costs nothing on
    /// crawls with fewer requests per host.
    pub pool_max_idle_per_host: usize,
    /// Cap on the DECODED body size in bytes; larger bodies fail with `too_large`.
    /// Content-Length is not trusted: the limit is enforced while reading.
    pub max_body_bytes: u64,
    /// Most body bytes read at once across all fetches. A fetch waits for room before it reads
    /// its body (the wait does not count against the timeouts), reserving the declared length
    /// (capped at `max_body_bytes`), so pages of many megabytes are not all held at once.
    pub body_bytes_in_flight: u64,
    /// Extra trusted root certificates (PEM files), in addition to the bundled webpki roots.
    pub ca_certs: Vec<PathBuf>,
    /// Fetch, cache and obey robots.txt (RFC 9309).
    pub obey_robots: bool,
    /// Per-host rate limit in requests per second (host = scheme://host:port).
    /// Omit for no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Send `Accept-Encoding: gzip, deflate, br, zstd` and decode compressed bodies.
    pub accept_encoding: bool,
    /// HTTP proxy for every request, e.g. `"http://proxy:3128"` or
    /// `"http://user:pass@proxy:3128"` (credentials are sent as `Proxy-Authorization: Basic`).
    /// http:// targets are requested through it in absolute form; https:// targets through a
    /// CONNECT tunnel (TLS stays end-to-end). Omit for direct connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Extra headers sent with every request, robots.txt included,
    /// e.g. `headers = { "X-Team" = "search" }`. They override the built-in `Accept` etc.
    /// of the same name (but not `User-Agent`: set `user_agent` for that).
    pub headers: BTreeMap<String, String>,
    /// Upper bound for a robots.txt `Crawl-delay`; larger values are capped to this, e.g. `"30s"`.
    #[serde(with = "humantime_serde")]
    pub max_crawl_delay: Duration,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(15),
            body_idle_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 64,
            max_body_bytes: 10 * 1024 * 1024,
            body_bytes_in_flight: 16 * 1024 * 1024,
            ca_certs: Vec::new(),
            obey_robots: true,
            requests_per_second: None,
            accept_encoding: true,
            proxy: None,
            headers: BTreeMap::new(),
            max_crawl_delay: Duration::from_secs(30),
        }
    }
}

impl FetcherConfig {
    /// The robots.txt product token of [`user_agent`](Self::user_agent): the text before the
    /// first `/` or whitespace, e.g. `"trawl"` for `"trawl/0.1 (+https://...)"`.
    pub fn robots_agent(&self) -> &str {
        let token = self
            .user_agent
            .split(|c: char| c == '/' || c.is_whitespace())
            .next()
            .unwrap_or("");
        if token.is_empty() {
            "*"
        } else {
            token
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_agent_token() {
        let c = FetcherConfig::default();
        assert!(c.user_agent.starts_with("trawl/"));
        assert_eq!(c.robots_agent(), "trawl");
        assert_eq!(c.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert!(c.obey_robots);
    }

    #[test]
    fn toml_round_trip_with_humantime() {
        let c: FetcherConfig = toml::from_str(
            "connect_timeout = \"500ms\"\nrequests_per_second = 2.5\nobey_robots = false\n",
        )
        .unwrap();
        assert_eq!(c.connect_timeout, Duration::from_millis(500));
        assert_eq!(c.requests_per_second, Some(2.5));
        assert!(!c.obey_robots);
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        let text = toml::to_string(&c).unwrap();
        let back: FetcherConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
        let none = toml::to_string(&FetcherConfig::default()).unwrap();
        assert!(!none.contains("requests_per_second"));
        assert_eq!(
            toml::from_str::<FetcherConfig>(&none).unwrap(),
            FetcherConfig::default()
        );
        assert!(toml::from_str::<FetcherConfig>("bogus = 1").is_err());
    }

    #[test]
    fn new_keys_parse_and_old_configs_keep_defaults() {
        let old: FetcherConfig =
            toml::from_str("connect_timeout = \"3s\"\nrequest_timeout = \"20s\"\n").unwrap();
        assert_eq!(old.response_timeout, Duration::from_secs(15));
        assert_eq!(old.body_idle_timeout, Duration::from_secs(10));
        assert_eq!(old.max_crawl_delay, Duration::from_secs(30));
        assert_eq!(old.proxy, None);
        assert!(old.headers.is_empty());

        let c: FetcherConfig = toml::from_str(
            "response_timeout = \"2s\"\nbody_idle_timeout = \"250ms\"\nmax_crawl_delay = \"1m\"\n\
             proxy = \"http://u:p@127.0.0.1:3128\"\nheaders = { \"X-Team\" = \"search\" }\n",
        )
        .unwrap();
        assert_eq!(c.response_timeout, Duration::from_secs(2));
        assert_eq!(c.body_idle_timeout, Duration::from_millis(250));
        assert_eq!(c.max_crawl_delay, Duration::from_secs(60));
        assert_eq!(c.proxy.as_deref(), Some("http://u:p@127.0.0.1:3128"));
        assert_eq!(c.headers.get("X-Team").map(String::as_str), Some("search"));
        let back: FetcherConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
