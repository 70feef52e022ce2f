//! Fetcher settings: the `[fetcher]` section of trawl's TOML configuration.

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
    /// Maximum time for a whole fetch: connect, TLS, request, response headers and the full body.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long an idle pooled connection is kept open for reuse.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Maximum number of idle pooled connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Cap on the DECODED body size in bytes; larger bodies fail with `too_large`.
    /// Content-Length is not trusted: the limit is enforced while reading.
    pub max_body_bytes: u64,
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
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 32,
            max_body_bytes: 10 * 1024 * 1024,
            ca_certs: Vec::new(),
            obey_robots: true,
            requests_per_second: None,
            accept_encoding: true,
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
}
