//! The transport connector under hyper-rustls: direct TCP, or through an HTTP proxy. With a
//! proxy, http:// targets get a TCP connection to the proxy marked "proxied" (so hyper-util sends
//! absolute-form request targets), and https:// targets get a CONNECT tunnel (hyper-util's
//! [`Tunnel`]) over which hyper-rustls then runs TLS end-to-end. The whole connect (TCP and
//! tunnel handshake) is bounded by `connect_timeout`.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use http::header::HeaderValue;
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::error::FetchError;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A parsed `proxy` setting.
#[derive(Debug, Clone)]
pub(crate) struct ProxySettings {
    /// `http://host:port` of the proxy.
    uri: Uri,
    /// `Proxy-Authorization: Basic ...` from the URL's credentials.
    pub(crate) auth: Option<HeaderValue>,
}

/// Parse `http://[user:pass@]host[:port]`; anything else is a configuration error.
pub(crate) fn parse_proxy(s: &str) -> Result<ProxySettings, FetchError> {
    let bad = |why: &str| FetchError::Config {
        message: format!("invalid proxy {s:?}: {why}"),
    };
    let url = url::Url::parse(s.trim()).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(bad("only http:// proxies are supported"));
    }
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => return Err(bad("no host")),
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(bad("a proxy URL has no path or query"));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let uri: Uri = format!("http://{host}:{port}")
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    let auth = if url.username().is_empty() && url.password().is_none() {
        None
    } else {
        let decode = |p: &str| {
            percent_decode(p).ok_or_else(|| bad("credentials are not valid percent-encoded UTF-8"))
        };
        let user = decode(url.username())?;
        let pass = decode(url.password().unwrap_or(""))?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let mut value =
            HeaderValue::from_str(&format!("Basic {token}")).map_err(|e| bad(&e.to_string()))?;
        value.set_sensitive(true);
        Some(value)
    };
    Ok(ProxySettings { uri, auth })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Direct or proxied TCP connector (see the module docs).
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    proxy: Option<(ProxySettings, Tunnel<HttpConnector>)>,
    connect_timeout: Duration,
}

impl Connector {
    pub(crate) fn new(
        http: HttpConnector,
        proxy: Option<ProxySettings>,
        connect_timeout: Duration,
    ) -> Connector {
        let proxy = proxy.map(|p| {
            let mut tunnel = Tunnel::new(p.uri.clone(), http.clone());
            if let Some(auth) = &p.auth {
                tunnel = tunnel.with_auth(auth.clone());
            }
            (p, tunnel)
        });
        Connector {
            http,
            proxy,
            connect_timeout,
        }
    }
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // HttpConnector and Tunnel are always ready; each call below uses a fresh clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let timeout = self.connect_timeout;
        let connecting: Self::Future = match &self.proxy {
            None => {
                let fut = self.http.clone().call(dst);
                Box::pin(async move {
                    Ok(Conn {
                        io: fut.await?,
                        proxied: false,
                    })
                })
            }
            Some((_, tunnel)) if dst.scheme() == Some(&http::uri::Scheme::HTTPS) => {
                let fut = tunnel.clone().call(dst);
                Box::pin(async move {
                    Ok(Conn {
                        io: fut.await?,
                        proxied: false,
                    })
                })
            }
            Some((settings, _)) => {
                let fut = self.http.clone().call(settings.uri.clone());
                Box::pin(async move {
                    Ok(Conn {
                        io: fut.await?,
                        proxied: true,
                    })
                })
            }
        };
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(r) => r,
                Err(_) => Err(Box::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connect timeout (TCP or proxy tunnel)",
                )) as BoxError),
            }
        })
    }
}

/// A TCP connection that knows whether it goes to an HTTP proxy (absolute-form requests).
#[derive(Debug)]
pub(crate) struct Conn {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = parse_proxy("http://127.0.0.1:3128").unwrap();
        assert_eq!(p.uri.to_string(), "http://127.0.0.1:3128/");
        assert!(p.auth.is_none());
        let p = parse_proxy("http://al%40ice:s%3Acret@proxy.example").unwrap();
        assert_eq!(p.uri.authority().unwrap().as_str(), "proxy.example:80");
        // base64("al@ice:s:cret")
        assert_eq!(p.auth.unwrap(), "Basic YWxAaWNlOnM6Y3JldA==");
        for bad in [
            "",
            "not a url",
            "socks5://h:1",
            "https://h:1",
            "http://h:1/path",
            "http://",
        ] {
            assert_eq!(parse_proxy(bad).unwrap_err().kind(), "config", "{bad:?}");
        }
    }
}
