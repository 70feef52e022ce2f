//! Frontier settings: the `[frontier]` section of trawl's config.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which hosts a crawl may leave its seeds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScopeMode {
    /// Only the seeds' host names (any port, any scheme).
    #[default]
    Host,
    /// The seeds' host names and their subdomains (`www.` is stripped from a seed first).
    Domain,
    /// Any host.
    Any,
}

/// Scheduling, politeness and scope settings (TOML section `[frontier]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrontierConfig {
    /// Most requests in flight to one host (scheme + host + port) at once.
    pub per_host: usize,
    /// Least time between the starts of two requests to one host.
    #[serde(with = "humantime_serde")]
    pub delay: Duration,
    /// Queued jobs per host held in memory; the rest stay in the store and are paged in.
    pub window: usize,
    /// Which hosts are in scope: "host", "domain" or "any".
    pub scope: ScopeMode,
    /// Deepest link depth followed (seeds are depth 0); none = unlimited.
    pub max_depth: Option<u32>,
    /// Most pages fetched by the crawl (across resumes); none = unlimited.
    pub max_pages: Option<u64>,
    /// Regexes on the URL: if any are given, a discovered URL must match one.
    pub include: Vec<String>,
    /// Regexes on the URL: a discovered URL matching any of them is dropped.
    pub exclude: Vec<String>,
}

impl Default for FrontierConfig {
    fn default() -> Self {
        FrontierConfig {
            per_host: 2,
            delay: Duration::ZERO,
            window: 1024,
            scope: ScopeMode::Host,
            max_depth: None,
            max_pages: None,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

impl FrontierConfig {
    /// Checks the numeric settings; the patterns are checked by [`crate::Scope::new`].
    pub fn validate(&self) -> Result<(), crate::FrontierError> {
        if self.per_host == 0 {
            return Err(crate::FrontierError::Setting {
                key: "per_host",
                value: "0".into(),
                reason: "at least one request per host must be allowed",
            });
        }
        if self.window == 0 {
            return Err(crate::FrontierError::Setting {
                key: "window",
                value: "0".into(),
                reason: "the in-memory window must hold at least one job",
            });
        }
        Ok(())
    }
}
