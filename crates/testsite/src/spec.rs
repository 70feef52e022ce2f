//! [`SiteSpec`]: the handful of numbers that fully determine a synthetic site.
//!
//! Two sites started from equal specs serve byte-identical pages (up to the ports, which are
//! part of absolute URLs), so tests can compute what a crawl must fetch without fetching.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SiteError;

/// The shape of a synthetic site. Every page, link, redirect and robots rule follows from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteSpec {
    /// Number of pages N (page `i` lives on host `i % hosts`). At least 1.
    pub pages: usize,
    /// Number of hosts H; each host is a separate listener (port) on 127.0.0.1. At least 1.
    pub hosts: usize,
    /// Outlinks per page: the link to page `i + 1` plus `links_per_page - 1` pseudo-random pages.
    pub links_per_page: usize,
    /// Approximate HTML size of a page in bytes (padded with filler text).
    pub page_bytes: usize,
    /// Delay added before every response.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Percent (0-100) of a page's random links that point to a page on another host.
    pub cross_host_percent: u8,
    /// Percent (0-100) of pages that also link to a `/missing/{i}` URL answering 404.
    pub not_found_percent: u8,
    /// Percent (0-100) of pages that also link to a `/moved/{i}` URL answering 301 to a real page.
    pub redirect_percent: u8,
    /// Path prefixes disallowed for every user agent in `/robots.txt`.
    pub robots_disallow: Vec<String>,
    /// Percent (0-100) of pages that also link to `/private/{i}`, a 200 page that robots forbids.
    pub private_percent: u8,
    /// Seed of the deterministic link generator.
    pub seed: u64,
}

impl Default for SiteSpec {
    fn default() -> Self {
        SiteSpec {
            pages: 100,
            hosts: 1,
            links_per_page: 8,
            page_bytes: 2048,
            latency: Duration::ZERO,
            cross_host_percent: 20,
            not_found_percent: 2,
            redirect_percent: 2,
            robots_disallow: vec!["/private/".to_string()],
            private_percent: 1,
            seed: 1,
        }
    }
}

impl SiteSpec {
    /// Checks the spec: at least one page and one host, percentages at most 100.
    pub fn validate(&self) -> Result<(), SiteError> {
        if self.pages == 0 {
            return Err(SiteError::InvalidSpec("pages must be at least 1".into()));
        }
        if self.hosts == 0 {
            return Err(SiteError::InvalidSpec("hosts must be at least 1".into()));
        }
        for (name, value) in [
            ("cross_host_percent", self.cross_host_percent),
            ("not_found_percent", self.not_found_percent),
            ("redirect_percent", self.redirect_percent),
            ("private_percent", self.private_percent),
        ] {
            if value > 100 {
                return Err(SiteError::InvalidSpec(format!(
                    "{name} is {value}, must be at most 100"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values_and_valid() {
        let s = SiteSpec::default();
        assert_eq!(
            (s.pages, s.hosts, s.links_per_page, s.page_bytes),
            (100, 1, 8, 2048)
        );
        assert_eq!(s.robots_disallow, vec!["/private/".to_string()]);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let zero_hosts = SiteSpec {
            hosts: 0,
            ..SiteSpec::default()
        };
        assert!(matches!(
            zero_hosts.validate(),
            Err(SiteError::InvalidSpec(_))
        ));
        let zero_pages = SiteSpec {
            pages: 0,
            ..SiteSpec::default()
        };
        assert!(zero_pages.validate().is_err());
        let pct = SiteSpec {
            redirect_percent: 101,
            ..SiteSpec::default()
        };
        assert!(pct
            .validate()
            .unwrap_err()
            .to_string()
            .contains("redirect_percent"));
    }
}
