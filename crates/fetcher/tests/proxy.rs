//! Fetching through an HTTP proxy written in the test: http:// targets arrive at the proxy in
//! absolute form (with Proxy-Authorization), https:// targets through a CONNECT tunnel that the
//! proxy splices to the real TLS origin (rcgen certificate trusted via `ca_certs`).

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use trawl_fetcher::{FetchError, Fetcher, FetcherConfig};

/// What the proxy saw: (method, request target, Proxy-Authorization).
type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

async fn proxy_server() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move { Ok::<_, Infallible>(proxy_handle(req, seen).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, seen)
}

async fn proxy_handle(req: Request<Incoming>, seen: Seen) -> Response<Body> {
    let auth = req
        .headers()
        .get("proxy-authorization")
        .map(|v| v.to_str().unwrap().to_string());
    seen.lock()
        .unwrap()
        .push((req.method().to_string(), req.uri().to_string(), auth));
    if req.method() == Method::CONNECT {
        let target = req.uri().authority().unwrap().to_string();
        tokio::spawn(async move {
            let upgraded = hyper::upgrade::on(req).await.unwrap();
            let mut client = TokioIo::new(upgraded);
            let mut origin = TcpStream::connect(target).await.unwrap();
            let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
        });
        return response(200, &[], "");
    }
    // Answer absolute-form requests ourselves.
    let absolute = req.uri().scheme().is_some();
    response(
        200,
        &[("x-proxied", if absolute { "absolute" } else { "origin" })],
        "via proxy",
    )
}

#[tokio::test]
async fn http_target_goes_to_proxy_in_absolute_form_with_credentials() {
    let (proxy, seen) = proxy_server().await;
    let f = Fetcher::new(FetcherConfig {
        proxy: Some(format!("http://alice:s3cret@{proxy}")),
        obey_robots: false,
        ..FetcherConfig::default()
    })
    .unwrap();
    // The origin does not exist: only the proxy can answer.
    let url = url::Url::parse("http://origin.invalid:8080/page?q=1").unwrap();
    let page = f.fetch(&url).await.unwrap();
    assert_eq!(&page.body[..], b"via proxy");
    assert_eq!(page.header_str("x-proxied"), Some("absolute"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "GET");
    assert_eq!(seen[0].1, "http://origin.invalid:8080/page?q=1");
    // base64("alice:s3cret")
    assert_eq!(seen[0].2.as_deref(), Some("Basic YWxpY2U6czNjcmV0"));
}

#[tokio::test]
async fn https_target_is_tunnelled_with_connect() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_der: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key)
    .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let origin = serve_tls(
        handler(|req| async move {
            let target = req.uri().to_string();
            response(200, &[("x-target", target.as_str())], "secure via tunnel")
        }),
        Arc::new(tls),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, ck.cert.pem()).unwrap();

    let (proxy, seen) = proxy_server().await;
    let f = Fetcher::new(FetcherConfig {
        proxy: Some(format!("http://bob:pw@{proxy}")),
        ca_certs: vec![pem],
        obey_robots: false,
        ..FetcherConfig::default()
    })
    .unwrap();
    let url = url::Url::parse(&format!("https://localhost:{}/secret", origin.addr.port())).unwrap();
    let page = f.fetch(&url).await.unwrap();
    assert_eq!(&page.body[..], b"secure via tunnel");
    assert_eq!(origin.hits("/secret"), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "CONNECT");
    assert_eq!(seen[0].1, format!("localhost:{}", origin.addr.port()));
    assert_eq!(seen[0].2.as_deref(), Some("Basic Ym9iOnB3"));
}

#[tokio::test]
async fn unreachable_proxy_is_a_retryable_connect_error() {
    let dead = refused_addr().await;
    let f = Fetcher::new(FetcherConfig {
        proxy: Some(format!("http://{dead}")),
        ..FetcherConfig::default()
    })
    .unwrap();
    for url in ["http://example.invalid/", "https://example.invalid/"] {
        let err = f.fetch(&url::Url::parse(url).unwrap()).await.unwrap_err();
        assert!(matches!(err, FetchError::Connect { .. }), "{url}: {err}");
        assert!(err.is_retryable());
    }
}

#[test]
fn bad_proxy_url_is_a_config_error() {
    for bad in ["not a url", "ftp://proxy:21", "http://proxy:3128/some/path"] {
        let err = Fetcher::new(FetcherConfig {
            proxy: Some(bad.to_string()),
            ..FetcherConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, FetchError::Config { .. }), "{bad}: {err}");
    }
}
