//! HTTPS: a self-signed rcgen certificate is rejected as a TLS error unless its PEM is given in
//! `ca_certs`; bad CA files are reported as `CaCert`.

mod common;

use std::sync::Arc;

use common::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use trawl_fetcher::{FetchError, Fetcher, FetcherConfig};

struct Tls {
    cert_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn self_signed() -> Tls {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert_der: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key)
    .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Tls {
        cert_pem: ck.cert.pem(),
        server: Arc::new(server),
    }
}

async fn https_server(tls: &Tls) -> TestServer {
    serve_tls(
        handler(|req| async move {
            let v = format!("{:?}", req.version());
            response(200, &[("x-version", v.as_str())], "secure")
        }),
        tls.server.clone(),
    )
    .await
}

#[tokio::test]
async fn untrusted_certificate_is_tls_error() {
    let tls = self_signed();
    let server = https_server(&tls).await;
    let f = Fetcher::new(FetcherConfig::default()).unwrap();
    let err = f.fetch(&server.https_url("/")).await.unwrap_err();
    match &err {
        FetchError::Tls { host, message } => {
            assert_eq!(host, &server.addr.to_string());
            assert!(
                message.to_lowercase().contains("issuer") || message.contains("certificate"),
                "{message}"
            );
        }
        other => panic!("expected Tls, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn trusted_via_ca_certs_succeeds_over_h2() {
    let tls = self_signed();
    let server = https_server(&tls).await;
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, &tls.cert_pem).unwrap();
    let f = Fetcher::new(FetcherConfig {
        ca_certs: vec![pem],
        ..FetcherConfig::default()
    })
    .unwrap();
    let page = f.fetch(&server.https_url("/secret")).await.unwrap();
    assert_eq!(page.status, http::StatusCode::OK);
    assert_eq!(&page.body[..], b"secure");
    // ALPN negotiated h2 with the server.
    assert_eq!(page.version, http::Version::HTTP_2);
    assert_eq!(page.header_str("x-version"), Some("HTTP/2.0"));
    // The "localhost" SAN works too.
    let url = url::Url::parse(&format!("https://localhost:{}/", server.addr.port())).unwrap();
    assert_eq!(f.fetch(&url).await.unwrap().status, http::StatusCode::OK);
}

#[test]
fn bad_ca_files_are_ca_cert_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = Fetcher::new(FetcherConfig {
        ca_certs: vec![missing.clone()],
        ..FetcherConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(&err, FetchError::CaCert { path, .. } if path == &missing),
        "{err}"
    );

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let err = Fetcher::new(FetcherConfig {
        ca_certs: vec![garbage.clone()],
        ..FetcherConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(&err, FetchError::CaCert { path, .. } if path == &garbage),
        "{err}"
    );
    assert_eq!(err.kind(), "ca_cert");
}
