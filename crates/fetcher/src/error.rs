//! The fetcher's single error type, [`FetchError`], and the classification of transport errors
//! (connect vs TLS vs timeout vs HTTP protocol) from hyper-util / rustls error chains.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in the fetcher. Non-2xx HTTP statuses are NOT errors.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not fetchable (not http/https, no host, ...).
    #[error("unsupported URL {url}: {reason}")]
    InvalidUrl {
        /// The offending URL.
        url: String,
        /// Why it is rejected.
        reason: String,
    },
    /// TCP connection failed (refused, unreachable, DNS failure, ...).
    #[error("cannot connect to {host}: {message}")]
    Connect {
        /// `host:port` that could not be reached.
        host: String,
        /// Human-readable error chain.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// The TLS handshake failed (e.g. unknown issuer, name mismatch).
    #[error("TLS handshake with {host} failed: {message}")]
    Tls {
        /// `host:port` of the peer.
        host: String,
        /// Human-readable error chain.
        message: String,
    },
    /// The fetch did not complete in time.
    #[error("timed out fetching {url} after {after:?} ({phase})")]
    Timeout {
        /// The URL being fetched.
        url: String,
        /// The configured timeout that expired.
        after: Duration,
        /// Where the fetch stalled: `"connect"` (TCP connect or proxy tunnel not done within
        /// `connect_timeout`, or the whole-fetch budget ran out first), `"response"` (no
        /// response headers within `response_timeout` or the whole-fetch budget),
        /// `"body_idle"` (no body byte for `body_idle_timeout`) or `"total"` (the body was
        /// still arriving when `request_timeout` ran out).
        phase: &'static str,
    },
    /// The decoded body exceeded the configured cap.
    #[error("body of {url} exceeds {limit} bytes")]
    BodyTooLarge {
        /// The URL being fetched.
        url: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The body's Content-Encoding is unknown or its data is corrupt.
    #[error("cannot decode {encoding} body of {url}: {message}")]
    Decode {
        /// The URL being fetched.
        url: String,
        /// The Content-Encoding.
        encoding: String,
        /// What went wrong.
        message: String,
    },
    /// HTTP protocol error (connection closed mid-body, malformed response, h2 reset, ...).
    #[error("HTTP error fetching {url}: {message}")]
    Http {
        /// The URL being fetched.
        url: String,
        /// Human-readable error chain.
        message: String,
    },
    /// An extra CA certificate file could not be read or parsed.
    #[error("cannot read CA certificate {path}: {message}")]
    CaCert {
        /// The PEM file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The configuration is invalid (e.g. a non-positive `requests_per_second`).
    #[error("invalid fetcher configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl FetchError {
    /// A short stable name for metrics and logs: `"invalid_url"`, `"connect"`, `"tls"`, `"timeout"`,
    /// `"too_large"`, `"decode"`, `"http"`, `"ca_cert"`, `"config"`.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. } => "invalid_url",
            FetchError::Connect { .. } => "connect",
            FetchError::Tls { .. } => "tls",
            FetchError::Timeout { .. } => "timeout",
            FetchError::BodyTooLarge { .. } => "too_large",
            FetchError::Decode { .. } => "decode",
            FetchError::Http { .. } => "http",
            FetchError::CaCert { .. } => "ca_cert",
            FetchError::Config { .. } => "config",
        }
    }

    /// Whether retrying the same URL later may succeed (connect failures, timeouts, protocol
    /// errors). TLS, size, decode, URL and configuration errors are permanent.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            FetchError::Connect { .. } | FetchError::Timeout { .. } | FetchError::Http { .. }
        )
    }
}

/// Whether an HTTP status is worth retrying later: 408, 429 and every 5xx except 501.
pub fn status_is_retryable(status: http::StatusCode) -> bool {
    let code = status.as_u16();
    code == 408 || code == 429 || ((500..=599).contains(&code) && code != 501)
}

/// Render an error and all its sources as `"a: b: c"` (skipping repeated messages).
pub(crate) fn chain_message(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        // io::Error::source skips its custom payload; descend into it explicitly.
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) if inner.to_string() != s => Some(inner),
            Some(inner) => inner.source(),
            None => e.source(),
        };
        if !parts.iter().any(|p| p == &s) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Walk an error chain, including the payloads of `io::Error`s, calling `f` on each link.
fn any_in_chain(
    err: &(dyn StdError + 'static),
    mut f: impl FnMut(&(dyn StdError + 'static)) -> bool,
) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = cur {
        if f(e) {
            return true;
        }
        depth += 1;
        if depth > 32 {
            return false;
        }
        // io::Error::source skips its custom payload (which may itself be an io::Error).
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    false
}

/// True if the chain contains a `rustls::Error` (a TLS failure rather than a TCP one).
pub(crate) fn is_tls_error(err: &(dyn StdError + 'static)) -> bool {
    any_in_chain(err, |e| e.is::<rustls::Error>())
}

/// True if the chain contains an `io::Error` of kind `TimedOut` (the connect timeout).
pub(crate) fn is_timed_out(err: &(dyn StdError + 'static)) -> bool {
    any_in_chain(err, |e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retryability() {
        let t = FetchError::Timeout {
            url: "http://a/".into(),
            after: Duration::from_secs(1),
            phase: "body",
        };
        assert_eq!(t.kind(), "timeout");
        assert!(t.is_retryable());
        let tls = FetchError::Tls {
            host: "a:443".into(),
            message: "bad".into(),
        };
        assert_eq!(tls.kind(), "tls");
        assert!(!tls.is_retryable());
        assert!(tls.to_string().contains("a:443"));
    }

    #[test]
    fn retryable_statuses() {
        let s = |c: u16| http::StatusCode::from_u16(c).unwrap();
        for c in [408, 429, 500, 502, 503, 504, 599] {
            assert!(status_is_retryable(s(c)), "{c}");
        }
        for c in [200, 301, 304, 400, 401, 403, 404, 410, 501] {
            assert!(!status_is_retryable(s(c)), "{c}");
        }
    }

    #[test]
    fn retryable_errors() {
        let http = FetchError::Http {
            url: "u".into(),
            message: "connection reset".into(),
        };
        let connect = FetchError::Connect {
            host: "h:1".into(),
            message: "refused".into(),
            source: None,
        };
        assert!(http.is_retryable() && connect.is_retryable());
        for e in [
            FetchError::BodyTooLarge {
                url: "u".into(),
                limit: 1,
            },
            FetchError::Decode {
                url: "u".into(),
                encoding: "gzip".into(),
                message: "x".into(),
            },
            FetchError::InvalidUrl {
                url: "u".into(),
                reason: "x".into(),
            },
            FetchError::Config {
                message: "x".into(),
            },
        ] {
            assert!(!e.is_retryable(), "{e}");
        }
    }

    #[test]
    fn finds_rustls_error_inside_io_error() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(is_tls_error(&io));
        assert!(
            chain_message(&io).contains("UnknownIssuer") || chain_message(&io).contains("issuer")
        );
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(!is_tls_error(&plain));
        assert!(!is_timed_out(&plain));
        assert!(is_timed_out(&std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timeout"
        )));
    }
}
