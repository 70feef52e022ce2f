//! HTTPS: a local testsite with a certificate made in the test is crawled when `--ca-cert` trusts
//! it, and fails with a recorded TLS error when nothing does.

use std::sync::Arc;

use trawl_testsite::{SiteSpec, TestSite};

use crate::support::{by_url, crawl_fresh, export, page_requests, store_path, trawl_ok};

struct Tls {
    server: Arc<rustls::ServerConfig>,
    cert_pem: String,
}

fn self_signed() -> Tls {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert_der = certified.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key_der)
    .unwrap();
    Tls {
        server: Arc::new(server),
        cert_pem: certified.cert.pem(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_site_is_crawled_when_its_certificate_is_trusted() {
    let tls = self_signed();
    let site = TestSite::start_tls(
        SiteSpec {
            pages: 60,
            hosts: 2,
            ..SiteSpec::default()
        },
        tls.server.clone(),
    )
    .await
    .unwrap();
    assert!(site.seed_url().starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.cert_pem).unwrap();
    let store = store_path(&dir);
    trawl_ok(&[
        "crawl",
        &site.seed_url(),
        "--store",
        store.to_str().unwrap(),
        "--ca-cert",
        ca.to_str().unwrap(),
        "--quiet",
    ])
    .await;
    let expected = site
        .graph()
        .reachable(&site.seed_url(), None, true, &|_| true);
    assert_eq!(page_requests(&site).len(), expected.len());
    let pages = by_url(&export(&store).await);
    let done: Vec<_> = pages
        .iter()
        .filter(|(_, p)| p["state"] == "done")
        .map(|(url, _)| url)
        .collect();
    assert_eq!(
        done,
        expected.keys().collect::<Vec<_>>(),
        "every reachable page fetched over TLS"
    );
    assert!(
        pages.iter().all(|(url, p)| p["state"] == "done"
            || p["error_kind"] == "robots_disallowed" && url.contains("/private/")),
        "nothing failed but what robots.txt forbids"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_a_recorded_tls_failure() {
    let tls = self_signed();
    let site = TestSite::start_tls(
        SiteSpec {
            pages: 10,
            ..SiteSpec::default()
        },
        tls.server.clone(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    // Per-URL failures are data: the crawl itself completes.
    trawl_ok(&[
        "crawl",
        &site.seed_url(),
        "--store",
        store.to_str().unwrap(),
        "--quiet",
    ])
    .await;
    let pages = by_url(&export(&store).await);
    assert_eq!(pages.len(), 1, "only the seed is known");
    let seed = &pages[&site.seed_url()];
    assert_eq!(seed["state"], "failed");
    assert_eq!(
        seed["error_kind"], "robots_unreachable",
        "robots.txt over TLS fails first: {seed}"
    );
    assert!(
        seed["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("tls"),
        "{seed}"
    );
    assert_eq!(
        site.total_requests(),
        0,
        "no request got through the failed handshake"
    );

    // Without robots.txt in the way, the page fetch itself records the TLS error.
    let (_dir, store) = crawl_fresh(&[&site.seed_url(), "--ignore-robots", "--quiet"]).await;
    let pages = by_url(&export(&store).await);
    let seed = &pages[&site.seed_url()];
    assert_eq!(seed["state"], "failed");
    assert_eq!(seed["error_kind"], "tls", "{seed}");
}
