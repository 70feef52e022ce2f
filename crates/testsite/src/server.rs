//! [`TestSite`]: one hyper-util (HTTP/1.1 + HTTP/2) listener per host on 127.0.0.1, optionally
//! over TLS, answering from the [`SiteGraph`] and counting every request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::counters::Counters;
use crate::delay::PreciseDelay;
use crate::graph::{Served, SiteGraph};
use crate::{html, SiteError, SiteSpec};

/// The fixed `Last-Modified` of every page.
pub const LAST_MODIFIED: &str = "Mon, 01 Jan 2024 00:00:00 GMT";

/// State shared by every connection of a site.
struct Shared {
    graph: SiteGraph,
    counters: Counters,
    latency: Duration,
    delay: PreciseDelay,
}

/// A running synthetic site. Dropping it stops the listeners and closes connections.
pub struct TestSite {
    shared: Arc<Shared>,
    token: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for TestSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSite")
            .field("graph", &self.shared.graph)
            .finish_non_exhaustive()
    }
}

impl TestSite {
    /// Starts the site over plain HTTP, each host on a random port of 127.0.0.1.
    pub async fn start(spec: SiteSpec) -> io::Result<TestSite> {
        Self::start_on(spec, None, 0).await
    }

    /// Starts the site over HTTPS with `tls` (ALPN set to h2 + http/1.1 if `tls` has none).
    pub async fn start_tls(spec: SiteSpec, tls: Arc<rustls::ServerConfig>) -> io::Result<TestSite> {
        Self::start_on(spec, Some(tls), 0).await
    }

    /// Starts the site with host `h` on port `first_port + h` (all random if `first_port` is 0),
    /// over HTTPS if `tls` is given.
    pub async fn start_on(
        spec: SiteSpec,
        tls: Option<Arc<rustls::ServerConfig>>,
        first_port: u16,
    ) -> io::Result<TestSite> {
        spec.validate()?;
        let mut listeners = Vec::with_capacity(spec.hosts);
        let mut ports = Vec::with_capacity(spec.hosts);
        for host in 0..spec.hosts {
            let port = if first_port == 0 {
                0
            } else {
                u16::try_from(host)
                    .ok()
                    .and_then(|h| first_port.checked_add(h))
                    .ok_or(SiteError::PortOverflow { host, first_port })?
            };
            let addr = format!("127.0.0.1:{port}");
            let bind_err = |source| SiteError::Bind {
                host,
                addr: addr.clone(),
                source,
            };
            let listener = TcpListener::bind(&addr).await.map_err(bind_err)?;
            ports.push(listener.local_addr().map_err(bind_err)?.port());
            listeners.push(listener);
        }
        let acceptor = tls.map(|config| {
            let config = if config.alpn_protocols.is_empty() {
                let mut c = (*config).clone();
                c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                Arc::new(c)
            } else {
                config
            };
            TlsAcceptor::from(config)
        });
        let graph = SiteGraph::new(spec.clone(), acceptor.is_some(), &ports);
        let shared = Arc::new(Shared {
            graph,
            counters: Counters::new(spec.hosts),
            latency: spec.latency,
            delay: PreciseDelay::start()?,
        });
        let token = CancellationToken::new();
        let tasks = listeners
            .into_iter()
            .enumerate()
            .map(|(host, listener)| {
                tokio::spawn(accept_loop(
                    listener,
                    host,
                    shared.clone(),
                    acceptor.clone(),
                    token.clone(),
                ))
            })
            .collect();
        Ok(TestSite {
            shared,
            token,
            tasks,
        })
    }

    /// The spec the site was started from.
    pub fn spec(&self) -> &SiteSpec {
        self.shared.graph.spec()
    }

    /// Number of hosts (listeners).
    pub fn host_count(&self) -> usize {
        self.shared.graph.host_count()
    }

    /// `"http(s)://127.0.0.1:PORT"` of host `host` (no trailing slash). Panics if out of range.
    pub fn base_url(&self, host: usize) -> String {
        self.shared.graph.base_url(host).to_string()
    }

    /// Absolute canonical URL of page `page`.
    pub fn page_url(&self, page: usize) -> String {
        self.shared.graph.page_url(page)
    }

    /// `page_url(0)`: the home page of host 0, from which every page is reachable.
    pub fn seed_url(&self) -> String {
        self.page_url(0)
    }

    /// How many requests were made for that absolute URL (host + path + query; fragment ignored).
    pub fn requests(&self, url: &str) -> u64 {
        match self.shared.graph.locate(url) {
            Some((h, path)) => self.shared.counters.count(h, &path),
            None => 0,
        }
    }

    /// Absolute URL -> request count, for every request made (robots.txt included).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared
            .counters
            .all()
            .into_iter()
            .map(|(h, path, n)| (format!("{}{path}", self.shared.graph.base_url(h)), n))
            .collect()
    }

    /// Total number of requests over all hosts.
    pub fn total_requests(&self) -> u64 {
        self.shared.counters.total()
    }

    /// The most requests host `host` had in flight at once (0 for an unknown host).
    pub fn max_in_flight(&self, host: usize) -> usize {
        self.shared.counters.max_in_flight(host)
    }

    /// Requests host `host` has in flight now.
    pub fn in_flight(&self, host: usize) -> usize {
        self.shared.counters.in_flight(host)
    }

    /// The site's deterministic structure (cheap clone).
    pub fn graph(&self) -> SiteGraph {
        self.shared.graph.clone()
    }

    /// Stops accepting, closes open connections and waits for the listener tasks to end.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for TestSite {
    fn drop(&mut self) {
        self.token.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Accepts connections of one host until cancelled; dropping `conns` aborts open connections.
async fn accept_loop(
    listener: TcpListener,
    host: usize,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    token: CancellationToken,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, host, shared.clone(), tls.clone()));
                }
                // Out of file descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    host: usize,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
) {
    let service = service_fn(move |req| handle(shared.clone(), host, req));
    let builder = auto::Builder::new(TokioExecutor::new());
    // Connection errors (client resets, bad requests) are the client's business.
    let _ = match tls {
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(stream) => {
                builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
            }
            Err(_) => return,
        },
        None => {
            builder
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
    };
}

async fn handle(
    shared: Arc<Shared>,
    host: usize,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived = Instant::now();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let _in_flight = shared.counters.begin(host, path);
    if !shared.latency.is_zero() {
        shared.delay.until(arrived + shared.latency).await;
    }
    Ok(respond(&shared.graph, host, &req, path))
}

fn respond<B>(
    graph: &SiteGraph,
    host: usize,
    req: &Request<B>,
    path: &str,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "",
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    const HTML: &str = "text/html; charset=utf-8";
    match graph.serve(host, path) {
        Served::Page(i) => {
            let etag = format!("\"p{i}\"");
            let headers = req.headers();
            let not_modified = match headers.get(header::IF_NONE_MATCH) {
                Some(v) => v.to_str().is_ok_and(|v| {
                    v.split(',').any(|t| {
                        let t = t.trim();
                        t == "*" || t.trim_start_matches("W/") == etag
                    })
                }),
                None => headers
                    .get(header::IF_MODIFIED_SINCE)
                    .is_some_and(|v| v.as_bytes() == LAST_MODIFIED.as_bytes()),
            };
            let mut resp = if not_modified {
                response(StatusCode::NOT_MODIFIED, HTML, "")
            } else {
                response(StatusCode::OK, HTML, html::page(graph, i))
            };
            if let Ok(v) = HeaderValue::from_str(&etag) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            resp.headers_mut().insert(
                header::LAST_MODIFIED,
                HeaderValue::from_static(LAST_MODIFIED),
            );
            resp
        }
        Served::Moved(t) => {
            let mut resp = response(StatusCode::MOVED_PERMANENTLY, HTML, "");
            if let Ok(v) = HeaderValue::from_str(&graph.page_path(t)) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Served::Private(k) => response(StatusCode::OK, HTML, html::private(k)),
        Served::Robots => response(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            html::robots(graph.spec()),
        ),
        Served::Missing => response(StatusCode::NOT_FOUND, HTML, html::not_found(path)),
    }
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
