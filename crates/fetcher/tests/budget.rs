//! The body budget (`body_bytes_in_flight`) against a real local hyper server: a body waits for
//! room while other bodies hold theirs, the wait counts against no timeout, and room comes back
//! when a body is let go.

mod common;

use std::time::Duration;

use common::*;
use trawl_fetcher::{Fetcher, FetcherConfig};

#[tokio::test]
async fn a_body_waits_for_room_that_a_held_body_gives_back_without_timing_out() {
    let body = "x".repeat(60 * 1024);
    let server = serve(handler(move |_| {
        let body = body.clone();
        async move { response(200, &[("content-type", "text/plain")], body) }
    }))
    .await;
    let fetcher = Fetcher::new(FetcherConfig {
        body_bytes_in_flight: 100 * 1024,
        // Shorter than the wait below: the wait for room must not count.
        request_timeout: Duration::from_millis(300),
        body_idle_timeout: Duration::from_millis(300),
        ..FetcherConfig::default()
    })
    .unwrap();

    let mut first = fetcher.fetch(&server.url("/first")).await.unwrap();
    assert_eq!(first.body.len(), 60 * 1024);
    assert_eq!(
        first.room.bytes(),
        60 * 1024,
        "the body holds its declared length"
    );

    let second = {
        let fetcher = fetcher.clone();
        let url = server.url("/second");
        tokio::spawn(async move { fetcher.fetch(&url).await })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !second.is_finished(),
        "60 KiB more does not fit in a 100 KiB budget while the first body holds its room"
    );
    assert_eq!(
        server.hits("/second"),
        1,
        "the request went out; only its body waits"
    );

    first.room.release();
    let second = second
        .await
        .unwrap()
        .expect("no timeout: waiting for room is not fetching");
    assert_eq!(second.body.len(), 60 * 1024);
    // Dropping a fetched page gives its room back too.
    drop(second);
    let third = fetcher.fetch(&server.url("/third")).await.unwrap();
    assert_eq!(third.room.bytes(), 60 * 1024);
}

#[tokio::test]
async fn small_bodies_pass_beside_a_held_one() {
    let server = serve(handler(|req| async move {
        let body = if req.uri().path() == "/big" {
            "b".repeat(80 * 1024)
        } else {
            "s".repeat(1024)
        };
        response(200, &[("content-type", "text/plain")], body)
    }))
    .await;
    let fetcher = Fetcher::new(FetcherConfig {
        body_bytes_in_flight: 100 * 1024,
        ..FetcherConfig::default()
    })
    .unwrap();
    let big = fetcher.fetch(&server.url("/big")).await.unwrap();
    assert_eq!(big.room.bytes(), 80 * 1024);
    let mut small = Vec::new();
    for i in 0..10 {
        small.push(
            fetcher
                .fetch(&server.url(&format!("/small/{i}")))
                .await
                .unwrap(),
        );
    }
    assert!(small
        .iter()
        .all(|page| page.body.len() == 1024 && page.room.bytes() == 1024));
}
