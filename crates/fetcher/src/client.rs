//! Building the shared, pooled hyper-util legacy `Client`: an `HttpConnector` wrapped by
//! hyper-rustls (http/1.1 and h2 by ALPN) over a rustls `ClientConfig` (ring provider) whose
//! root store is webpki-roots plus the PEM certificates from `ca_certs`; under it, the direct or
//! proxied TCP [`Connector`].

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// Largest read buffer hyper keeps per HTTP/1 connection (hyper's default is ~400 KB). Each
/// pooled connection that once read a large body kept a buffer grown that far: 15 MB of the
/// Rust docs crawl's heap peak over 64 connections. Response heads must fit in it.
const HTTP1_MAX_READ_BUFFER: usize = 64 * 1024;
use rustls::RootCertStore;

use crate::config::FetcherConfig;
use crate::error::FetchError;
use crate::proxy::{Connector, ProxySettings};

/// The concrete client type shared by every clone of a `Fetcher`.
pub(crate) type HttpClient = Client<HttpsConnector<Connector>, Empty<Bytes>>;

/// Build the root store: bundled webpki roots plus every certificate in `ca_certs`.
fn root_store(config: &FetcherConfig) -> Result<RootCertStore, FetchError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for path in &config.ca_certs {
        add_pem_file(&mut roots, path)?;
    }
    Ok(roots)
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<(), FetchError> {
    let ca_err = |message: String| FetchError::CaCert {
        path: path.to_path_buf(),
        message,
    };
    // Called once from `Fetcher::new`, at startup: a synchronous read is fine here.
    let file = File::open(path).map_err(|e| ca_err(e.to_string()))?;
    let mut reader = BufReader::new(file);
    let mut added = 0usize;
    for cert in rustls_pemfile::certs(&mut reader) {
        let cert = cert.map_err(|e| ca_err(format!("invalid PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| ca_err(format!("invalid certificate: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(ca_err("no PEM certificates found".to_string()));
    }
    tracing::debug!(path = %path.display(), added, "added extra CA certificates");
    Ok(())
}

/// Build the pooled client described by `config`.
pub(crate) fn build_client(
    config: &FetcherConfig,
    proxy: Option<ProxySettings>,
) -> Result<HttpClient, FetchError> {
    let roots = root_store(config)?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| FetchError::Config {
        message: format!("TLS protocol versions: {e}"),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();

    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(config.connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(false);

    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(Connector::new(http, proxy, config.connect_timeout));

    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .http1_max_buf_size(HTTP1_MAX_READ_BUFFER)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https);
    Ok(client)
}
