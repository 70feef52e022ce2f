//! `trawl-fetcher`: trawl's HTTP(S) fetcher.
//!
//! One cloneable [`Fetcher`] wraps a pooled hyper-util legacy client over rustls (http/1.1 and
//! h2 by ALPN, webpki roots plus optional extra CA certificates), with:
//!
//! - timeouts per phase: connect (TCP / proxy tunnel), response head, body idle gap, and the
//!   whole fetch;
//! - an optional HTTP proxy (absolute-form for http://, CONNECT tunnel for https://) and
//!   configured extra request headers;
//! - bodies read frame by frame, decoded (gzip, deflate, br, zstd) and capped on the DECODED size,
//!   so decompression bombs and endless bodies are cut off with bounded memory;
//! - a byte budget for bodies held at once across all fetches (`body_bytes_in_flight`): a body
//!   waits for room before it is read and keeps it as [`Fetched::room`] until let go;
//! - an optional per-host rate limit (governor, keyed by [`host_key`]);
//! - no redirect following: a 3xx comes back with [`Fetched::redirect_to`] set;
//! - robots.txt (RFC 9309) fetched once per host, cached single-flight, via [`Fetcher::robots`],
//!   matched by the pure [`RobotsRules`] (Google's reference semantics);
//! - retry hints for the scheduler: [`FetchError::is_retryable`], [`status_is_retryable`],
//!   [`Fetched::retry_after`].
//!
//! ```
//! use trawl_fetcher::{host_key, Fetcher, FetcherConfig};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A tiny one-shot HTTP server on 127.0.0.1.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move {
//!     if let Ok((mut sock, _)) = listener.accept().await {
//!         let mut buf = [0u8; 4096];
//!         let _ = sock.read(&mut buf).await;
//!         let _ = sock
//!             .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello")
//!             .await;
//!     }
//! });
//!
//! let fetcher = Fetcher::new(FetcherConfig::default())?;
//! let url = url::Url::parse(&format!("http://{addr}/greeting"))?;
//! assert_eq!(host_key(&url), format!("http://{addr}"));
//!
//! let page = fetcher.fetch(&url).await?;
//! assert_eq!(page.status, http::StatusCode::OK);
//! assert_eq!(page.content_type(), Some("text/plain"));
//! assert_eq!(&page.body[..], b"hello");
//! # Ok(())
//! # }
//! ```

mod body;
mod budget;
mod client;
mod config;
mod error;
mod fetch;
mod headers;
mod proxy;
mod robots;
mod rules;

pub use budget::BodyRoom;
pub use config::{FetcherConfig, DEFAULT_USER_AGENT};
pub use error::{status_is_retryable, FetchError};
pub use fetch::{host_key, Fetched, Fetcher};
pub use headers::parse_header_arg;
pub use robots::{RobotsVerdict, ROBOTS_MAX_BYTES, ROBOTS_MAX_REDIRECTS};
pub use rules::RobotsRules;
