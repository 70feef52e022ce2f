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
    /// Retries of a URL after a connect error, timeout, 408, 429 or 5xx (0 = no retries).
    pub retries: u32,
    /// Backoff base: the n-th retry of a URL waits a random time up to base x 2^n (full jitter),
    /// and a host with n consecutive failures waits base x 2^(n-1) before its next request.
    #[serde(with = "humantime_serde")]
    pub retry_base_delay: Duration,
    /// Longest backoff wait.
    #[serde(with = "humantime_serde")]
    pub retry_max_delay: Duration,
    /// Consecutive failures of a host that trip its circuit breaker (0 = no breaker).
    pub breaker_threshold: u32,
    /// How long a tripped host pauses.
    #[serde(with = "humantime_serde")]
    pub breaker_pause: Duration,
    /// Trips in a row (with no success between) after which the host counts as unreachable and
    /// its remaining URLs are recorded as failed.
    pub breaker_trips: u32,
    /// Adapt each host's delay to its latency (delay = latency / auto_throttle_target).
    pub auto_throttle: bool,
    /// The number of requests auto-throttle aims to have in flight per host.
    pub auto_throttle_target: f64,
    /// Longest per-host delay auto-throttle may set.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
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
            retries: 2,
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            breaker_threshold: 5,
            breaker_pause: Duration::from_secs(30),
            breaker_trips: 3,
            auto_throttle: false,
            auto_throttle_target: 1.0,
            max_delay: Duration::from_secs(60),
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
        if !(self.auto_throttle_target.is_finite() && self.auto_throttle_target > 0.0) {
            return Err(crate::FrontierError::Setting {
                key: "auto_throttle_target",
                value: self.auto_throttle_target.to_string(),
                reason: "must be a positive number",
            });
        }
        Ok(())
    }

    /// The random wait before retry number `attempt + 1` of a URL that has been tried
    /// `attempt + 1` times, or `None` when its retries are used up. `unit` is a random number in
    /// [0, 1) (the caller's generator keeps this crate deterministic): full jitter over
    /// [0, base x 2^(attempt+1)], but never below the host backoff base x 2^attempt, so successive
    /// waits of one URL never shrink.
    pub fn retry_delay(&self, attempt: u32, unit: f64) -> Option<Duration> {
        if attempt >= self.retries {
            return None;
        }
        let floor = self.backoff(attempt + 1);
        let ceiling = self.backoff(attempt + 2);
        let jittered = ceiling.mul_f64(unit.clamp(0.0, 1.0));
        Some(jittered.max(floor))
    }

    /// The host backoff after `failures` consecutive failures: base x 2^(failures-1), capped.
    pub fn backoff(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.retry_base_delay
            .saturating_mul(factor)
            .min(self.retry_max_delay)
    }
}
