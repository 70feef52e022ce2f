//! Per-host feedback: what each finished request says about its host. Successes reset the host's
//! failure counters and feed auto-throttle; failures back the host off exponentially and trip its
//! circuit breaker; throttling answers (429/503, Retry-After) push its next request out. One place
//! computes a host's next allowed time from every politeness signal.

use std::time::{Duration, Instant};

use crate::scheduler::Frontier;

/// What a finished request says about its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSignal {
    /// The host answered (any status that is not a throttle or a server error).
    Success {
        /// Time from request start to the end of the body.
        latency: Duration,
    },
    /// The host failed: connect error, timeout, reset, 5xx, robots.txt unreachable.
    Failure,
    /// The host asked to slow down (429, or 503 with Retry-After), for this long if it said.
    Throttled {
        /// The Retry-After the host gave, if any.
        retry_after: Option<Duration>,
    },
    /// Nothing to learn (e.g. a robots.txt block decided locally).
    Neutral,
}

impl Frontier {
    /// Applies a finished request's signal to its host.
    pub fn record(&mut self, host_key: &str, signal: HostSignal, now: Instant) {
        let config = self.config.clone();
        let configured_delay = self.delay;
        let host = self.host_mut(host_key, now);
        match signal {
            HostSignal::Neutral => return,
            HostSignal::Success { latency } => {
                host.consecutive_failures = 0;
                host.consecutive_throttles = 0;
                host.trips = 0;
                if config.auto_throttle {
                    let target = latency.div_f64(config.auto_throttle_target);
                    let smoothed = (host.throttle_delay + target) / 2;
                    host.throttle_delay = smoothed.max(configured_delay).min(config.max_delay);
                }
            }
            HostSignal::Throttled { retry_after } => {
                host.consecutive_throttles += 1;
                let wait =
                    retry_after.unwrap_or_else(|| config.backoff(host.consecutive_throttles));
                host.next_start = host.next_start.max(now + wait);
                if config.auto_throttle {
                    let doubled = (host.throttle_delay * 2).max(config.retry_base_delay);
                    host.throttle_delay = doubled.min(config.max_delay);
                }
            }
            HostSignal::Failure => {
                host.consecutive_failures += 1;
                let backoff = config.backoff(host.consecutive_failures);
                host.next_start = host.next_start.max(now + backoff);
                if config.breaker_threshold > 0
                    && host.consecutive_failures >= config.breaker_threshold
                {
                    host.consecutive_failures = 0;
                    host.trips += 1;
                    host.next_start = host.next_start.max(now + config.breaker_pause);
                    if host.trips >= config.breaker_trips.max(1) {
                        host.unreachable = true;
                    }
                }
            }
        }
        // A host given up on is served from the give-up ring; its place elsewhere is stale.
        let unreachable = host.unreachable;
        if unreachable {
            host.scheduled = false;
        }
        self.schedule(host_key, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FrontierConfig, Job, Pop};

    fn config() -> FrontierConfig {
        FrontierConfig {
            per_host: 4,
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(8),
            breaker_threshold: 3,
            breaker_pause: Duration::from_secs(30),
            breaker_trips: 2,
            ..FrontierConfig::default()
        }
    }

    fn job(seq: u64, path: &str) -> Job {
        Job::new(
            seq,
            url::Url::parse(&format!("http://a{path}")).unwrap(),
            "http://a:80".into(),
            0,
        )
    }

    const A: &str = "http://a:80";

    #[test]
    fn failures_back_off_exponentially_and_success_resets() {
        let mut f = Frontier::new(&config());
        let t0 = Instant::now();
        for seq in 0..4 {
            f.push(job(seq, &format!("/{seq}")), t0);
        }
        f.record(A, HostSignal::Failure, t0);
        assert_eq!(f.pop(t0), Pop::NotBefore(t0 + Duration::from_secs(1)));
        f.record(A, HostSignal::Failure, t0);
        assert_eq!(f.pop(t0), Pop::NotBefore(t0 + Duration::from_secs(2)));
        let t2 = t0 + Duration::from_secs(2);
        assert!(matches!(f.pop(t2), Pop::Ready(_)));
        f.record(
            A,
            HostSignal::Success {
                latency: Duration::from_millis(5),
            },
            t2,
        );
        f.record(A, HostSignal::Failure, t2);
        assert_eq!(
            f.pop(t2),
            Pop::NotBefore(t2 + Duration::from_secs(1)),
            "the count restarted"
        );
    }

    #[test]
    fn retry_after_pushes_the_next_request_out() {
        let mut f = Frontier::new(&config());
        let t0 = Instant::now();
        f.push(job(0, "/0"), t0);
        f.record(
            A,
            HostSignal::Throttled {
                retry_after: Some(Duration::from_secs(7)),
            },
            t0,
        );
        assert_eq!(f.pop(t0), Pop::NotBefore(t0 + Duration::from_secs(7)));
        assert!(
            !f.host_unreachable(A),
            "throttling does not trip the breaker"
        );
    }

    #[test]
    fn breaker_pauses_then_gives_up_and_hands_out_the_rest_to_fail() {
        let mut f = Frontier::new(&config());
        let t0 = Instant::now();
        for seq in 0..5 {
            f.push(job(seq, &format!("/{seq}")), t0);
        }
        for _ in 0..3 {
            f.record(A, HostSignal::Failure, t0);
        }
        assert_eq!(
            f.pop(t0),
            Pop::NotBefore(t0 + Duration::from_secs(30)),
            "tripped: paused"
        );
        assert!(!f.host_unreachable(A));
        for _ in 0..3 {
            f.record(A, HostSignal::Failure, t0);
        }
        assert!(f.host_unreachable(A), "second trip in a row: given up");
        let mut given_up = Vec::new();
        while let Pop::GiveUp(job) = f.pop(t0) {
            given_up.push(job.seq);
        }
        assert_eq!(
            given_up,
            vec![0, 1, 2, 3, 4],
            "every queued job is handed out, ignoring the cap"
        );
        for _ in 0..5 {
            f.complete(A, t0);
        }
        assert!(f.is_done());
    }

    #[test]
    fn auto_throttle_follows_latency_within_bounds() {
        let mut f = Frontier::new(&FrontierConfig {
            auto_throttle: true,
            max_delay: Duration::from_secs(2),
            ..config()
        });
        let t0 = Instant::now();
        f.record(
            A,
            HostSignal::Success {
                latency: Duration::from_millis(400),
            },
            t0,
        );
        assert_eq!(f.host_delay(A), Duration::from_millis(200));
        f.record(
            A,
            HostSignal::Success {
                latency: Duration::from_millis(400),
            },
            t0,
        );
        assert_eq!(f.host_delay(A), Duration::from_millis(300));
        for _ in 0..20 {
            f.record(
                A,
                HostSignal::Success {
                    latency: Duration::from_secs(60),
                },
                t0,
            );
        }
        assert_eq!(
            f.host_delay(A),
            Duration::from_secs(2),
            "capped by max_delay"
        );
    }

    #[test]
    fn a_retry_waits_for_its_not_before_time() {
        let mut f = Frontier::new(&config());
        let t0 = Instant::now();
        let mut retry = job(0, "/0");
        retry.not_before = Some(t0 + Duration::from_secs(3));
        f.push(retry, t0);
        assert_eq!(f.pop(t0), Pop::NotBefore(t0 + Duration::from_secs(3)));
        assert!(matches!(f.pop(t0 + Duration::from_secs(3)), Pop::Ready(_)));
    }

    #[test]
    fn retry_delays_grow_and_end() {
        let c = config();
        let waits: Vec<Duration> = (0..2)
            .map(|attempt| c.retry_delay(attempt, 0.0).unwrap())
            .collect();
        assert_eq!(
            waits,
            [Duration::from_secs(1), Duration::from_secs(2)],
            "floors"
        );
        assert_eq!(
            c.retry_delay(0, 0.99).unwrap(),
            Duration::from_millis(1980),
            "jitter up to base x 2"
        );
        assert_eq!(c.retry_delay(2, 0.5), None, "two retries by default");
        assert_eq!(c.backoff(10), Duration::from_secs(8), "capped");
    }
}
