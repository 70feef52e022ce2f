//! The [`Fetcher`] itself: one GET through the pooled client, with the per-host rate limit, the
//! phase timeouts (connect, response head, body idle, whole fetch), the configured extra headers,
//! bounded body reading, and no redirect following.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_TYPE, LOCATION, PROXY_AUTHORIZATION, USER_AGENT,
};
use http::{HeaderMap, Request, StatusCode, Uri, Version};
use http_body_util::Empty;
use hyper_util::client::legacy::connect::capture_connection;

use crate::body::{encoding_of, read_body, Overflow};
use crate::budget::{reservation, BodyBudget, BodyRoom};
use crate::client::{build_client, HttpClient};
use crate::config::FetcherConfig;
use crate::error::{chain_message, is_timed_out, is_tls_error, FetchError};
use crate::headers::{extra_headers, retry_after};
use crate::proxy::parse_proxy;
use crate::robots::RobotsCache;

const ACCEPT_VALUE: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";
const ACCEPT_ENCODING_VALUE: &str = "gzip, deflate, br, zstd";
/// Forget idle rate-limiter keys every this many requests, so the keyed store stays bounded.
const LIMITER_GC_EVERY: u64 = 4096;

/// The result of one GET: status, headers and the decoded body. Non-2xx statuses are data too.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that was fetched.
    pub url: url::Url,
    /// The response status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The decoded (gzip/deflate/br/zstd) body, at most `max_body_bytes` long.
    pub body: Bytes,
    /// From request start to body fully read.
    pub elapsed: Duration,
    /// For a 3xx with a `Location`: the target resolved against `url`.
    pub redirect_to: Option<url::Url>,
    /// The HTTP version negotiated (HTTP/1.1 or HTTP/2).
    pub version: Version,
    /// `Retry-After` (any status): delta-seconds, or an HTTP-date relative to now (a past
    /// date gives zero). `None` if absent or unparsable.
    pub retry_after: Option<Duration>,
    /// The body's room in the fetcher's `body_bytes_in_flight` budget: other fetches wait for
    /// room while this is held. Dropped with the `Fetched`; release it early
    /// ([`BodyRoom::release`]) once the body is let go.
    pub room: BodyRoom,
}

impl Fetched {
    /// The `Content-Type` header, if present and valid text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    /// The first value of header `name`, if present and valid text.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Host key: `"scheme://host:port"` with the port always explicit (the key hyper-util pools on).
/// IPv6 hosts keep their brackets, e.g. `http://[::1]:80`.
pub fn host_key(url: &url::Url) -> String {
    use std::fmt::Write;
    let scheme = url.scheme();
    let mut key = String::with_capacity(scheme.len() + url.host_str().map_or(0, str::len) + 9);
    key.push_str(scheme);
    key.push_str("://");
    // Built by hand: the key is made for every URL a crawl discovers.
    match url.host() {
        // Written as std writes the address (url's own form differs for IPv4-mapped ones, and
        // stored keys must not change).
        Some(url::Host::Ipv6(addr)) => {
            let _ = write!(key, "[{addr}]");
        }
        Some(url::Host::Domain(domain)) => key.push_str(domain),
        Some(url::Host::Ipv4(addr)) => {
            let _ = write!(key, "{addr}");
        }
        None => {}
    }
    if let Some(port) = url.port_or_known_default() {
        let _ = write!(key, ":{port}");
    }
    key
}

/// `host:port` for error messages.
fn authority(url: &url::Url) -> String {
    let key = host_key(url);
    match key.split_once("://") {
        Some((_, rest)) => rest.to_string(),
        None => key,
    }
}

/// Options for one internal GET (the public fetch and the robots.txt fetch differ).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GetOptions {
    pub(crate) limit: u64,
    pub(crate) overflow: Overflow,
}

pub(crate) struct Inner {
    pub(crate) config: FetcherConfig,
    client: HttpClient,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    requests: AtomicU64,
    user_agent: HeaderValue,
    /// The configured extra headers, validated.
    extra_headers: HeaderMap,
    /// `Proxy-Authorization` for http:// targets sent through the proxy.
    proxy_auth: Option<HeaderValue>,
    pub(crate) robots: RobotsCache,
    /// Room for bodies being read at once (`body_bytes_in_flight`).
    body_budget: BodyBudget,
}

/// A cheap-to-clone HTTP(S) fetcher. All clones share one pooled client, one rate limiter and
/// one robots.txt cache.
#[derive(Clone)]
pub struct Fetcher {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Build a fetcher: TLS roots (webpki + `ca_certs`), pooled client (direct or through
    /// `proxy`), optional rate limiter. Invalid `proxy`, `headers`, `user_agent` or
    /// `requests_per_second` give [`FetchError::Config`].
    pub fn new(config: FetcherConfig) -> Result<Fetcher, FetchError> {
        let proxy = config.proxy.as_deref().map(parse_proxy).transpose()?;
        let proxy_auth = proxy.as_ref().and_then(|p| p.auth.clone());
        let extra_headers = extra_headers(&config.headers)?;
        let client = build_client(&config, proxy)?;
        let limiter = match config.requests_per_second {
            None => None,
            Some(rps) => Some(RateLimiter::keyed(quota_for(rps)?)),
        };
        let user_agent =
            HeaderValue::from_str(&config.user_agent).map_err(|e| FetchError::Config {
                message: format!("invalid user_agent {:?}: {e}", config.user_agent),
            })?;
        Ok(Fetcher {
            inner: Arc::new(Inner {
                body_budget: BodyBudget::new(config.body_bytes_in_flight),
                config,
                client,
                limiter,
                requests: AtomicU64::new(0),
                user_agent,
                extra_headers,
                proxy_auth,
                robots: RobotsCache::default(),
            }),
        })
    }

    /// The configuration this fetcher was built with.
    pub fn config(&self) -> &FetcherConfig {
        &self.inner.config
    }

    /// Fetch one URL with GET. Does NOT follow redirects: a 3xx comes back as `Ok(Fetched)` with
    /// `redirect_to` set. Non-2xx statuses are `Ok(Fetched)` too (they are data). `Err` only for
    /// transport-level failure, timeout, an oversized or undecodable body.
    pub async fn fetch(&self, url: &url::Url) -> Result<Fetched, FetchError> {
        let opts = GetOptions {
            limit: self.inner.config.max_body_bytes,
            overflow: Overflow::Error,
        };
        let result = self.get(url, opts).await;
        match &result {
            Ok(f) => {
                tracing::debug!(url = %url, status = %f.status, bytes = f.body.len(), elapsed = ?f.elapsed, "fetched")
            }
            Err(e) => tracing::debug!(url = %url, kind = e.kind(), error = %e, "fetch failed"),
        }
        result
    }

    /// One GET with the given cap and timeout (shared by `fetch` and the robots.txt fetch).
    pub(crate) async fn get(
        &self,
        url: &url::Url,
        opts: GetOptions,
    ) -> Result<Fetched, FetchError> {
        let uri = to_uri(url)?;
        let key = host_key(url);
        if let Some(limiter) = &self.inner.limiter {
            limiter.until_key_ready(&key).await;
            let n = self.inner.requests.fetch_add(1, Ordering::Relaxed);
            if n % LIMITER_GC_EVERY == LIMITER_GC_EVERY - 1 {
                limiter.retain_recent();
            }
        }

        let mut req = Request::get(uri);
        if let Some(headers) = req.headers_mut() {
            headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_VALUE));
            if self.inner.config.accept_encoding {
                headers.insert(
                    ACCEPT_ENCODING,
                    HeaderValue::from_static(ACCEPT_ENCODING_VALUE),
                );
            }
            for name in self.inner.extra_headers.keys() {
                headers.remove(name);
            }
            for (name, value) in &self.inner.extra_headers {
                headers.append(name, value.clone());
            }
            headers.insert(USER_AGENT, self.inner.user_agent.clone());
            if url.scheme() == "http" {
                if let Some(auth) = &self.inner.proxy_auth {
                    headers.insert(PROXY_AUTHORIZATION, auth.clone());
                }
            }
        }
        let mut req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::InvalidUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })?;

        let config = &self.inner.config;
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start) + config.request_timeout;
        let timeout_err = |phase: &'static str, after: Duration| FetchError::Timeout {
            url: url.to_string(),
            after,
            phase,
        };

        // Phase 1: a connection (pooled, or new within connect_timeout), then phase 2: the
        // response head within response_timeout of having the connection.
        let mut capture = capture_connection(&mut req);
        let response = self.inner.client.request(req);
        tokio::pin!(response);
        let early = tokio::select! {
            r = &mut response => Some(r),
            _ = async { capture.wait_for_connection_metadata().await.is_some() } => None,
            _ = tokio::time::sleep_until(deadline) => {
                return Err(timeout_err("connect", config.request_timeout));
            }
        };
        let result = match early {
            Some(r) => r,
            None => {
                let head_deadline = tokio::time::Instant::now() + config.response_timeout;
                let (until, after) = if head_deadline < deadline {
                    (head_deadline, config.response_timeout)
                } else {
                    (deadline, config.request_timeout)
                };
                match tokio::time::timeout_at(until, &mut response).await {
                    Ok(r) => r,
                    Err(_) => return Err(timeout_err("response", after)),
                }
            }
        };
        let response = result.map_err(|e| self.classify_client_error(url, e))?;

        let (parts, body) = response.into_parts();
        let url_str = url.as_str();
        let encoding = encoding_of(&parts.headers, url_str)?;
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let identity = encoding == crate::body::Encoding::Identity;
        if identity && opts.overflow == Overflow::Error {
            // An honest Content-Length above the cap fails without reading anything.
            if declared.is_some_and(|len| len > opts.limit) {
                return Err(FetchError::BodyTooLarge {
                    url: url.to_string(),
                    limit: opts.limit,
                });
            }
        }
        // Room for the body among the bodies being read; waiting for it counts against no timeout.
        let waiting_since = tokio::time::Instant::now();
        let room = self
            .inner
            .body_budget
            .reserve(reservation(declared, !identity, opts.limit))
            .await;
        let deadline = deadline + waiting_since.elapsed();
        // Phase 3: the body, with body_idle_timeout between pieces and the whole-fetch deadline.
        let read = read_body(
            body,
            encoding,
            opts.limit,
            opts.overflow,
            config.body_idle_timeout,
            url_str,
        );
        let body = match tokio::time::timeout_at(deadline, read).await {
            Err(_) => return Err(timeout_err("total", config.request_timeout)),
            Ok(r) => r?,
        };

        let redirect_to = if parts.status.is_redirection() {
            parts
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc.trim()).ok())
        } else {
            None
        };
        let retry_after = retry_after(&parts.headers, SystemTime::now());
        Ok(Fetched {
            url: url.clone(),
            status: parts.status,
            headers: parts.headers,
            body,
            elapsed: start.elapsed(),
            redirect_to,
            version: parts.version,
            retry_after,
            room,
        })
    }

    fn classify_client_error(
        &self,
        url: &url::Url,
        e: hyper_util::client::legacy::Error,
    ) -> FetchError {
        let message = chain_message(&e);
        if is_tls_error(&e) {
            FetchError::Tls {
                host: authority(url),
                message,
            }
        } else if e.is_connect() {
            if is_timed_out(&e) {
                FetchError::Timeout {
                    url: url.to_string(),
                    after: self.inner.config.connect_timeout,
                    phase: "connect",
                }
            } else {
                FetchError::Connect {
                    host: authority(url),
                    message,
                    source: Some(Box::new(e)),
                }
            }
        } else {
            FetchError::Http {
                url: url.to_string(),
                message,
            }
        }
    }
}

/// A governor quota allowing `rps` requests per second per key, burst 1.
fn quota_for(rps: f64) -> Result<Quota, FetchError> {
    let bad = || FetchError::Config {
        message: format!("requests_per_second must be a positive finite number, got {rps}"),
    };
    if !rps.is_finite() || rps <= 0.0 {
        return Err(bad());
    }
    let period = Duration::try_from_secs_f64(1.0 / rps).map_err(|_| bad())?;
    Quota::with_period(period)
        .map(|q| q.allow_burst(NonZeroU32::MIN))
        .ok_or_else(bad)
}

/// Convert a `url::Url` to an `http::Uri`, rejecting what the client cannot fetch.
fn to_uri(url: &url::Url) -> Result<Uri, FetchError> {
    let invalid = |reason: String| FetchError::InvalidUrl {
        url: url.to_string(),
        reason,
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("scheme {:?} is not http(s)", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_string()));
    }
    let mut clean = url.clone();
    clean.set_fragment(None);
    if !clean.username().is_empty() || clean.password().is_some() {
        // Credentials in URLs are never sent on the request line.
        let _ = clean.set_username("");
        let _ = clean.set_password(None);
    }
    clean
        .as_str()
        .parse::<Uri>()
        .map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_written_as_before() {
        fn old_host_key(url: &url::Url) -> String {
            let host = match url.host() {
                Some(url::Host::Ipv6(addr)) => format!("[{addr}]"),
                Some(h) => h.to_string(),
                None => String::new(),
            };
            match url.port_or_known_default() {
                Some(port) => format!("{}://{}:{}", url.scheme(), host, port),
                None => format!("{}://{}", url.scheme(), host),
            }
        }
        for url in [
            "http://example.com/a",
            "https://Example.COM:8443/",
            "http://127.0.0.1:8089/index.html",
            "https://[::1]/x",
            "http://[::ffff:1.2.3.4]:81/",
            "https://xn--bcher-kva.example/",
            "file:///tmp/x",
            "data:text/plain,hi",
        ] {
            let url = url::Url::parse(url).unwrap();
            assert_eq!(host_key(&url), old_host_key(&url), "{url}");
        }
    }

    #[test]
    fn host_keys_have_explicit_ports() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            host_key(&u("https://Example.com/a?b")),
            "https://example.com:443"
        );
        assert_eq!(host_key(&u("http://example.com/")), "http://example.com:80");
        assert_eq!(
            host_key(&u("http://127.0.0.1:8080/x")),
            "http://127.0.0.1:8080"
        );
        assert_eq!(host_key(&u("http://[::1]/")), "http://[::1]:80");
    }

    #[test]
    fn uri_conversion_rejects_non_http() {
        let u = url::Url::parse("ftp://example.com/file").unwrap();
        assert_eq!(to_uri(&u).unwrap_err().kind(), "invalid_url");
        let u = url::Url::parse("http://user:pw@example.com/p#frag").unwrap();
        assert_eq!(to_uri(&u).unwrap().to_string(), "http://example.com/p");
    }

    #[test]
    fn quota_rejects_nonsense() {
        assert!(quota_for(0.0).is_err());
        assert!(quota_for(f64::NAN).is_err());
        assert!(quota_for(-1.0).is_err());
        assert!(quota_for(10.0).is_ok());
    }
}
