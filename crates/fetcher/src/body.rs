//! Reading a response body with bounded memory: the raw frames are streamed through an
//! async-compression decoder chosen from `Content-Encoding`, and the DECODED bytes are counted
//! against the cap as they arrive, so a decompression bomb or an endless body is cut off early.
//! A gap longer than the idle timeout between two raw frames ends the read as `body_idle`.

use std::pin::Pin;
use std::time::Duration;

use async_compression::tokio::bufread::{
    BrotliDecoder, DeflateDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder,
};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use http::HeaderMap;
use http_body_util::BodyExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;

use crate::error::{chain_message, FetchError};

/// A supported `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
        }
    }
}

/// What to do when the decoded body exceeds the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Fail with [`FetchError::BodyTooLarge`].
    Error,
    /// Keep the first `limit` bytes and stop reading (robots.txt, RFC 9309 §2.5).
    Truncate,
}

/// Parse `Content-Encoding` (possibly a comma list, `identity` entries ignored).
pub(crate) fn encoding_of(headers: &HeaderMap, url: &str) -> Result<Encoding, FetchError> {
    let mut found: Vec<String> = Vec::new();
    for value in headers.get_all(http::header::CONTENT_ENCODING) {
        let text = value.to_str().map_err(|_| FetchError::Decode {
            url: url.to_string(),
            encoding: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            message: "Content-Encoding is not ASCII".to_string(),
        })?;
        for part in text.split(',') {
            let part = part.trim().to_ascii_lowercase();
            if !part.is_empty() && part != "identity" {
                found.push(part);
            }
        }
    }
    let decode_err = |encoding: String, message: &str| FetchError::Decode {
        url: url.to_string(),
        encoding,
        message: message.to_string(),
    };
    match found.as_slice() {
        [] => Ok(Encoding::Identity),
        [one] => match one.as_str() {
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            "br" => Ok(Encoding::Brotli),
            "zstd" => Ok(Encoding::Zstd),
            other => Err(decode_err(
                other.to_string(),
                "unsupported content encoding",
            )),
        },
        many => Err(decode_err(
            many.join(", "),
            "stacked content encodings are not supported",
        )),
    }
}

/// Marker error: no body frame arrived within the idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("no body data for {0:?}")]
struct BodyIdle(Duration);

/// Read `body` fully, decoding it per `encoding`, keeping at most `limit` decoded bytes, failing
/// with a `body_idle` timeout if no frame arrives for `idle`.
pub(crate) async fn read_body<B>(
    body: B,
    encoding: Encoding,
    limit: u64,
    overflow: Overflow,
    idle: Duration,
    url: &str,
) -> Result<Bytes, FetchError>
where
    B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + Unpin + 'static,
{
    if encoding == Encoding::Identity {
        return read_identity(body, limit, overflow, idle, url).await;
    }
    let frames = body.into_data_stream().map_err(std::io::Error::other);
    let stream = futures::stream::unfold(Some(frames), move |state| async move {
        let mut frames = state?;
        match tokio::time::timeout(idle, frames.next()).await {
            Ok(Some(item)) => Some((item, Some(frames))),
            Ok(None) => None,
            Err(_) => Some((Err(std::io::Error::other(BodyIdle(idle))), None)),
        }
    });
    let mut raw = StreamReader::new(Box::pin(stream));
    let mut reader: Pin<Box<dyn AsyncRead + Send>> = match encoding {
        Encoding::Identity => Box::pin(raw),
        Encoding::Gzip => {
            let mut d = GzipDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
        Encoding::Deflate => {
            // HTTP "deflate" should be zlib-wrapped, but some servers send raw deflate: sniff.
            let head = match raw.fill_buf().await {
                Ok(buf) => buf.get(..2).map(|h| [h[0], h[1]]),
                Err(e) => return Err(classify_read_error(e, encoding, url)),
            };
            if head.is_none_or(is_zlib_header) {
                Box::pin(ZlibDecoder::new(raw))
            } else {
                Box::pin(DeflateDecoder::new(raw))
            }
        }
        Encoding::Brotli => Box::pin(BrotliDecoder::new(raw)),
        Encoding::Zstd => Box::pin(ZstdDecoder::new(raw)),
    };

    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = BytesMut::with_capacity(limit_usize.min(64 * 1024));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(classify_read_error(e, encoding, url)),
        };
        if append_capped(&mut out, &chunk[..n], limit, overflow, url)? {
            break;
        }
    }
    Ok(out.freeze())
}

/// RFC 1950: CM = 8 (deflate) and the 16-bit header is a multiple of 31.
fn is_zlib_header(h: [u8; 2]) -> bool {
    h[0] & 0x0f == 8 && (u16::from(h[0]) << 8 | u16::from(h[1])) % 31 == 0
}

/// Appends `data` to `out` within `limit` decoded bytes. Past the limit: an error, or (when
/// truncating) the part that fits and `true` for "full, stop reading".
fn append_capped(
    out: &mut BytesMut,
    data: &[u8],
    limit: u64,
    overflow: Overflow,
    url: &str,
) -> Result<bool, FetchError> {
    let room = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(out.len());
    if data.len() <= room {
        out.extend_from_slice(data);
        return Ok(false);
    }
    match overflow {
        Overflow::Error => Err(FetchError::BodyTooLarge {
            url: url.to_string(),
            limit,
        }),
        Overflow::Truncate => {
            out.extend_from_slice(&data[..room]);
            Ok(true)
        }
    }
}

/// Bytes reserved up front from a `Content-Length`, at most (a lying server gets no more).
const MAX_PREALLOCATION: u64 = 1 << 20;

/// An unencoded body: its frames are copied once into a buffer sized from `Content-Length`
/// (no decoder, no intermediate chunk).
async fn read_identity<B>(
    body: B,
    limit: u64,
    overflow: Overflow,
    idle: Duration,
    url: &str,
) -> Result<Bytes, FetchError>
where
    B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + Unpin + 'static,
{
    let expected = body.size_hint().exact().unwrap_or(0);
    let reserve = expected.min(limit).min(MAX_PREALLOCATION) as usize;
    let mut out = BytesMut::with_capacity(reserve);
    let mut frames = body.into_data_stream();
    loop {
        let frame = match tokio::time::timeout(idle, frames.next()).await {
            Ok(None) => break,
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(e))) => {
                return Err(classify_read_error(
                    std::io::Error::other(e),
                    Encoding::Identity,
                    url,
                ))
            }
            Err(_) => {
                return Err(classify_read_error(
                    std::io::Error::other(BodyIdle(idle)),
                    Encoding::Identity,
                    url,
                ))
            }
        };
        if append_capped(&mut out, &frame, limit, overflow, url)? {
            break;
        }
    }
    Ok(out.freeze())
}

/// A read error is either the transport failing (hyper error inside) or corrupt compressed data.
fn classify_read_error(e: std::io::Error, encoding: Encoding, url: &str) -> FetchError {
    if let Some(BodyIdle(after)) = find_idle(&e) {
        return FetchError::Timeout {
            url: url.to_string(),
            after: *after,
            phase: "body_idle",
        };
    }
    let transport = e.get_ref().is_some_and(|inner| inner.is::<hyper::Error>());
    if transport || encoding == Encoding::Identity {
        FetchError::Http {
            url: url.to_string(),
            message: chain_message(&e),
        }
    } else {
        FetchError::Decode {
            url: url.to_string(),
            encoding: encoding.name().to_string(),
            message: chain_message(&e),
        }
    }
}

/// The idle marker, possibly wrapped in further io::Errors by a decoder.
fn find_idle(e: &std::io::Error) -> Option<&BodyIdle> {
    let mut cur = e.get_ref()?;
    for _ in 0..8 {
        if let Some(idle) = cur.downcast_ref::<BodyIdle>() {
            return Some(idle);
        }
        cur = cur.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn parses_content_encoding() {
        let mut h = HeaderMap::new();
        assert_eq!(encoding_of(&h, "u").unwrap(), Encoding::Identity);
        h.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("X-GZIP"),
        );
        assert_eq!(encoding_of(&h, "u").unwrap(), Encoding::Gzip);
        h.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("identity, br"),
        );
        assert_eq!(encoding_of(&h, "u").unwrap(), Encoding::Brotli);
        h.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("compress"),
        );
        let err = encoding_of(&h, "u").unwrap_err();
        assert_eq!(err.kind(), "decode");
        h.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("gzip, br"),
        );
        assert_eq!(encoding_of(&h, "u").unwrap_err().kind(), "decode");
    }
}
