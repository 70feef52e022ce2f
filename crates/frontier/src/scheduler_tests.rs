//! Unit tests of the scheduler, with time as a parameter.

use std::time::{Duration, Instant};

use super::*;

fn job(seq: u64, host: &str, path: &str) -> Job {
    let url = url::Url::parse(&format!("http://{host}{path}")).unwrap();
    Job::new(seq, url, format!("http://{host}:80"), 0)
}

fn ready(pop: Pop) -> Job {
    match pop {
        Pop::Ready(job) => job,
        other => panic!("expected a ready job, got {other:?}"),
    }
}

#[test]
fn per_host_cap_holds_and_other_hosts_proceed() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 2,
        ..Default::default()
    });
    let now = Instant::now();
    for seq in 0..5 {
        f.push(job(seq, "a", &format!("/{seq}")), now);
    }
    f.push(job(10, "b", "/x"), now);
    let mut hosts = Vec::new();
    while let Pop::Ready(j) = f.pop(now) {
        hosts.push(j.host_key);
    }
    assert_eq!(hosts.iter().filter(|h| h.contains("//a")).count(), 2);
    assert_eq!(hosts.iter().filter(|h| h.contains("//b")).count(), 1);
    assert_eq!(f.in_flight(), 3);
    f.complete("http://a:80", now);
    assert_eq!(ready(f.pop(now)).url.path(), "/2");
    assert!(!f.is_done());
}

#[test]
fn round_robin_across_hosts() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 10,
        ..Default::default()
    });
    let now = Instant::now();
    for seq in 0..3 {
        f.push(job(seq, "a", &format!("/{seq}")), now);
        f.push(job(100 + seq, "b", &format!("/{seq}")), now);
    }
    let order: Vec<String> = (0..6)
        .map(|_| ready(f.pop(now)).url.host_str().unwrap().to_string())
        .collect();
    assert_eq!(order, ["a", "b", "a", "b", "a", "b"]);
}

#[test]
fn delay_spaces_request_starts() {
    let delay = Duration::from_millis(500);
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 4,
        delay,
        ..Default::default()
    });
    let t0 = Instant::now();
    f.push(job(0, "a", "/0"), t0);
    f.push(job(1, "a", "/1"), t0);
    ready(f.pop(t0));
    assert_eq!(f.pop(t0), Pop::NotBefore(t0 + delay));
    assert_eq!(f.pop(t0 + delay / 2), Pop::NotBefore(t0 + delay));
    assert_eq!(ready(f.pop(t0 + delay)).url.path(), "/1");
}

#[test]
fn host_delay_override_is_used_when_longer() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 4,
        ..Default::default()
    });
    let t0 = Instant::now();
    f.set_host_delay("http://a:80", Duration::from_secs(2), t0);
    f.push(job(0, "a", "/0"), t0);
    f.push(job(1, "a", "/1"), t0);
    ready(f.pop(t0));
    assert_eq!(
        f.pop(t0 + Duration::from_secs(1)),
        Pop::NotBefore(t0 + Duration::from_secs(2))
    );
}

#[test]
fn budget_stops_issuing_and_counts_earlier_pages() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 10,
        max_pages: Some(3),
        ..Default::default()
    });
    f.set_already_issued(1);
    let now = Instant::now();
    for seq in 0..5 {
        f.push(job(seq, "a", &format!("/{seq}")), now);
    }
    ready(f.pop(now));
    ready(f.pop(now));
    assert_eq!(f.pop(now), Pop::Empty);
    assert!(!f.is_done(), "two jobs are still in flight");
    f.complete("http://a:80", now);
    f.complete("http://a:80", now);
    assert!(f.is_done());
}

#[test]
fn done_only_when_nothing_queued_or_in_flight() {
    let mut f = Frontier::new(&FrontierConfig::default());
    let now = Instant::now();
    assert!(f.is_done());
    f.push(job(0, "a", "/"), now);
    assert!(!f.is_done());
    let j = ready(f.pop(now));
    assert!(!f.is_done());
    f.complete(&j.host_key, now);
    assert!(f.is_done());
}

#[test]
fn window_spills_and_refills_in_order() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 100,
        window: 4,
        ..Default::default()
    });
    let now = Instant::now();
    for seq in 0..10 {
        f.push(job(seq, "a", &format!("/{seq}")), now);
    }
    assert_eq!(f.queued_in_memory(), 4, "only the window is held in memory");
    assert!(
        f.take_refill_request().is_none(),
        "window is full, no refill yet"
    );
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(ready(f.pop(now)).seq);
    }
    let request = f.take_refill_request().expect("window ran low");
    assert_eq!(request.after, Some(3));
    assert_eq!(request.limit, 3);
    assert!(
        f.take_refill_request().is_none(),
        "one request out at a time"
    );
    assert!(!f.is_done());
    // The store answers with entries 4..=6; a late announcement of 5 is ignored.
    let jobs = (4..7)
        .map(|seq| job(seq, "a", &format!("/{seq}")))
        .collect();
    f.refill("http://a:80", jobs, false, now);
    f.push(job(5, "a", "/5"), now);
    while let Pop::Ready(j) = f.pop(now) {
        got.push(j.seq);
        if let Some(request) = f.take_refill_request() {
            let after = request.after.unwrap();
            let jobs: Vec<Job> = (after + 1..10)
                .take(request.limit)
                .map(|seq| job(seq, "a", &format!("/{seq}")))
                .collect();
            let exhausted = jobs.len() < request.limit;
            f.refill(&request.host_key, jobs, exhausted, now);
        }
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    for _ in 0..10 {
        f.complete("http://a:80", now);
    }
    if let Some(request) = f.take_refill_request() {
        f.refill(&request.host_key, Vec::new(), true, now);
    }
    assert!(f.is_done());
}

#[test]
fn resumed_host_is_not_done_until_refilled_empty() {
    let mut f = Frontier::new(&FrontierConfig::default());
    let now = Instant::now();
    f.mark_spilled("http://a:80", now);
    assert!(!f.is_done());
    let request = f
        .take_refill_request()
        .expect("a spilled host asks for a refill");
    assert_eq!(request.after, None);
    f.refill(&request.host_key, vec![job(7, "a", "/7")], true, now);
    let j = ready(f.pop(now));
    assert_eq!(j.seq, 7);
    f.complete(&j.host_key, now);
    assert!(f.is_done());
}

#[test]
fn announcement_during_refill_keeps_host_spilling() {
    let mut f = Frontier::new(&FrontierConfig {
        window: 2,
        ..Default::default()
    });
    let now = Instant::now();
    f.mark_spilled("http://a:80", now);
    let request = f.take_refill_request().unwrap();
    // While the store is read, a new job 9 is committed and announced.
    f.push(job(9, "a", "/9"), now);
    f.refill(&request.host_key, vec![job(1, "a", "/1")], true, now);
    assert!(
        f.take_refill_request().is_some(),
        "job 9 still lives only in the store"
    );
}

#[test]
fn robots_gate_allows_one_request_until_robots_is_checked_then_applies_crawl_delay() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 4,
        ..Default::default()
    });
    f.set_robots_gate(true);
    let t0 = Instant::now();
    for seq in 0..4 {
        f.push(job(seq, "a", &format!("/{seq}")), t0);
    }
    ready(f.pop(t0));
    assert_eq!(
        f.pop(t0),
        Pop::Empty,
        "one request until robots.txt is known"
    );
    let t1 = t0 + Duration::from_millis(100);
    f.robots_checked("http://a:80", Some(Duration::from_secs(2)), t1);
    assert_eq!(
        f.pop(t1),
        Pop::NotBefore(t0 + Duration::from_secs(2)),
        "Crawl-delay counts from the first start"
    );
    let t2 = t0 + Duration::from_secs(2);
    ready(f.pop(t2));
    assert_eq!(f.pop(t2), Pop::NotBefore(t2 + Duration::from_secs(2)));
}

#[test]
fn total_in_flight_is_capped_across_hosts() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 8,
        ..Default::default()
    });
    f.set_max_in_flight(3);
    let now = Instant::now();
    for (seq, host) in ["a", "b", "c", "d"].iter().enumerate() {
        f.push(job(seq as u64, host, "/"), now);
        f.push(job(10 + seq as u64, host, "/x"), now);
    }
    for _ in 0..3 {
        ready(f.pop(now));
    }
    assert_eq!(
        f.pop(now),
        Pop::Empty,
        "three in flight, whatever the hosts"
    );
    f.complete("http://a:80", now);
    ready(f.pop(now));
}

#[test]
fn a_fetched_job_frees_its_request_slot_but_stays_unfinished() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 1,
        ..Default::default()
    });
    let now = Instant::now();
    f.push(job(0, "a", "/0"), now);
    f.push(job(1, "a", "/1"), now);
    let first = ready(f.pop(now));
    assert_eq!(f.pop(now), Pop::Empty, "one request to the host at a time");
    f.fetched(&first.host_key, now);
    assert_eq!(f.in_flight(), 0);
    assert_eq!(f.unfinished(), 1);
    let second = ready(f.pop(now));
    assert_eq!(second.url.path(), "/1");
    assert_eq!((f.in_flight(), f.unfinished()), (1, 2));
    f.complete(&first.host_key, now);
    f.fetched(&second.host_key, now);
    assert!(!f.is_done(), "the second job is fetched but not completed");
    f.complete(&second.host_key, now);
    assert!(f.is_done());
    assert_eq!((f.in_flight(), f.unfinished()), (0, 0));
}

#[test]
fn completing_a_job_never_reported_fetched_frees_its_request_slot() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 1,
        ..Default::default()
    });
    let now = Instant::now();
    f.push(job(0, "a", "/0"), now);
    f.push(job(1, "a", "/1"), now);
    let first = ready(f.pop(now));
    f.complete(&first.host_key, now);
    assert_eq!((f.in_flight(), f.unfinished()), (0, 0));
    ready(f.pop(now));
}

#[test]
fn unfinished_jobs_are_capped_across_hosts() {
    let mut f = Frontier::new(&FrontierConfig {
        per_host: 8,
        ..Default::default()
    });
    f.set_max_in_flight(2);
    f.set_max_unfinished(3);
    let now = Instant::now();
    for (seq, host) in ["a", "b", "c", "d"].iter().enumerate() {
        f.push(job(seq as u64, host, "/"), now);
    }
    let a = ready(f.pop(now));
    let b = ready(f.pop(now));
    assert_eq!(f.pop(now), Pop::Empty, "two requests in flight");
    f.fetched(&a.host_key, now);
    f.fetched(&b.host_key, now);
    let c = ready(f.pop(now));
    assert_eq!(
        f.pop(now),
        Pop::Empty,
        "one request in flight, but three jobs unfinished"
    );
    f.fetched(&c.host_key, now);
    assert_eq!(f.pop(now), Pop::Empty, "still three unfinished");
    f.complete(&a.host_key, now);
    ready(f.pop(now));
}
