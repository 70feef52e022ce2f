//! Per-host statistics: [`HostStats`] kept in the `hosts` tree (host key -> versioned value),
//! changed only by merging a [`HostStatsDelta`] inside a commit's transaction.

use serde::{Deserialize, Serialize};

use crate::records::{Reader, Writer, VALUE_VERSION};
use crate::StoreError;

/// What the store knows about one host, accumulated over the whole crawl (and its resumes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStats {
    /// Requests sent.
    pub requests: u64,
    /// Requests that ended in an error (network error, 5xx, ...).
    pub errors: u64,
    /// Requests that were scheduled again.
    pub retries: u64,
    /// URLs not fetched because robots.txt disallows them.
    pub robots_blocked: u64,
    /// The last known delay between requests in force for the host, milliseconds.
    pub delay_ms: u64,
    /// The highest request rate seen, requests per second x 1000.
    pub max_rate_milli: u64,
    /// The HTTP status of the last response.
    pub last_status: Option<u16>,
}

/// A change to one host's [`HostStats`], part of a [`crate::CommitBatch`]. Counts add up;
/// `delay_ms` and `last_status` replace the stored value when Some; `max_rate_milli` keeps the
/// maximum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostStatsDelta {
    /// The host key (scheme + host + port).
    pub host_key: String,
    /// Requests sent since the last delta.
    pub requests: u64,
    /// Errors since the last delta.
    pub errors: u64,
    /// Retries since the last delta.
    pub retries: u64,
    /// URLs blocked by robots.txt since the last delta.
    pub robots_blocked: u64,
    /// The delay now in force, if known.
    pub delay_ms: Option<u64>,
    /// The highest rate seen in this period (requests/s x 1000).
    pub max_rate_milli: u64,
    /// The status of the latest response, if any.
    pub last_status: Option<u16>,
}

impl HostStats {
    /// Applies `delta` (see [`HostStatsDelta`] for the rules).
    pub fn merge(&mut self, delta: &HostStatsDelta) {
        self.requests = self.requests.saturating_add(delta.requests);
        self.errors = self.errors.saturating_add(delta.errors);
        self.retries = self.retries.saturating_add(delta.retries);
        self.robots_blocked = self.robots_blocked.saturating_add(delta.robots_blocked);
        if let Some(d) = delta.delay_ms {
            self.delay_ms = d;
        }
        self.max_rate_milli = self.max_rate_milli.max(delta.max_rate_milli);
        if delta.last_status.is_some() {
            self.last_status = delta.last_status;
        }
    }
}

/// Encodes host statistics.
pub(crate) fn encode_host_stats(h: &HostStats) -> Vec<u8> {
    let mut w = Writer::new(VALUE_VERSION);
    w.uint(h.requests);
    w.uint(h.errors);
    w.uint(h.retries);
    w.uint(h.robots_blocked);
    w.uint(h.delay_ms);
    w.uint(h.max_rate_milli);
    w.opt_uint(h.last_status.map(u64::from));
    w.0
}

/// Decodes host statistics; `host` names them in errors.
pub(crate) fn decode_host_stats(bytes: &[u8], host: &str) -> Result<HostStats, StoreError> {
    let mut r = Reader::new(bytes, "statistics of host", host, &[VALUE_VERSION])?;
    let h = HostStats {
        requests: r.uint()?,
        errors: r.uint()?,
        retries: r.uint()?,
        robots_blocked: r.uint()?,
        delay_ms: r.uint()?,
        max_rate_milli: r.uint()?,
        last_status: match r.opt_uint()? {
            None => None,
            Some(s) => Some(u16::try_from(s).map_err(|_| r.err("status out of range"))?),
        },
    };
    r.finish()?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_rules() {
        let mut h = HostStats::default();
        h.merge(&HostStatsDelta {
            host_key: "h".into(),
            requests: 3,
            errors: 1,
            delay_ms: Some(500),
            max_rate_milli: 2000,
            last_status: Some(200),
            ..HostStatsDelta::default()
        });
        h.merge(&HostStatsDelta {
            host_key: "h".into(),
            requests: 2,
            retries: 1,
            robots_blocked: 4,
            delay_ms: None,
            max_rate_milli: 1500,
            last_status: None,
            ..HostStatsDelta::default()
        });
        assert_eq!(
            h,
            HostStats {
                requests: 5,
                errors: 1,
                retries: 1,
                robots_blocked: 4,
                delay_ms: 500,
                max_rate_milli: 2000,
                last_status: Some(200),
            }
        );
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let h = HostStats {
            requests: u64::MAX,
            errors: 2,
            retries: 3,
            robots_blocked: 4,
            delay_ms: 5,
            max_rate_milli: 6,
            last_status: Some(503),
        };
        let bytes = encode_host_stats(&h);
        assert_eq!(bytes[0], VALUE_VERSION);
        assert_eq!(decode_host_stats(&bytes, "h").unwrap(), h);
        for cut in 0..bytes.len() {
            assert!(decode_host_stats(&bytes[..cut], "h")
                .unwrap_err()
                .is_corrupt());
        }
        let e = decode_host_stats(&[9, 0], "http://x:80").unwrap_err();
        assert!(e.to_string().contains("http://x:80"));
    }
}
