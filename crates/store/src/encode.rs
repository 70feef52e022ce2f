//! Bodies made ready for a segment away from the commit: compressed (zstd), with the record
//! header, CRC and the SHA-1 payload digest. This is most of the CPU a stored page costs, so the
//! crawl does it on its parse workers, in parallel, and the one committer only writes bytes.
//! Each thread keeps one zstd context (making one per body cost more than compressing).

use std::cell::RefCell;

use bytes::Bytes;
use sha1::{Digest, Sha1};

use crate::segments::{HEADER_LEN, MAGIC};
use crate::StoreError;

/// A body ready to be appended to a segment: see [`crate::Store::encode_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBody {
    /// The whole segment record: header then compressed payload.
    pub(crate) record: Vec<u8>,
    /// `sha1:` + base32 of the SHA-1 of the uncompressed body.
    pub(crate) digest: String,
}

impl EncodedBody {
    /// Bytes it takes in a segment.
    pub fn stored_len(&self) -> usize {
        self.record.len()
    }
}

/// The body of a [`crate::Completion`]: raw bytes (the store encodes them during the commit) or
/// encoded beforehand with [`crate::Store::encode_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Raw(Bytes),
    Encoded(EncodedBody),
}

impl From<Bytes> for Body {
    fn from(body: Bytes) -> Body {
        Body::Raw(body)
    }
}

impl From<EncodedBody> for Body {
    fn from(body: EncodedBody) -> Body {
        Body::Encoded(body)
    }
}

thread_local! {
    /// This thread's zstd context and the level it was made for.
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
}

/// `sha1:` + base32 of the SHA-1 of `body`: the WARC-Payload-Digest form.
pub fn payload_digest(body: &[u8]) -> String {
    let hash = Sha1::digest(body);
    format!(
        "sha1:{}",
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &hash)
    )
}

/// Compresses `body` at zstd `level` into a segment record.
pub(crate) fn encode(body: &[u8], level: i32) -> Result<EncodedBody, StoreError> {
    let compress_error = |e: std::io::Error| StoreError::Encode {
        message: format!("compressing a body of {} bytes: {e}", body.len()),
    };
    // The payload is compressed straight into the record, after room for its header.
    let mut record = std::io::Cursor::new(Vec::with_capacity(
        HEADER_LEN + zstd::zstd_safe::compress_bound(body.len()),
    ));
    record.get_mut().resize(HEADER_LEN, 0);
    record.set_position(HEADER_LEN as u64);
    let written = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if !matches!(&*slot, Some((made_for, _)) if *made_for == level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        match slot.as_mut() {
            Some((_, compressor)) => compressor.compress_to_buffer(body, &mut record),
            None => Err(std::io::Error::other("no zstd context")),
        }
    });
    written.map_err(compress_error)?;
    let mut record = record.into_inner();
    // Reserved for zstd's worst case, more than the body itself, while the record waits in the
    // crawl's channels until its commit: give the rest back. jemalloc (the binary's allocator)
    // shrinks a record of 16 KiB or more in place and moves a smaller one: one copy of the
    // compressed bytes, a fraction of what compressing them cost.
    record.shrink_to_fit();
    let record_len = record.len();
    let length = u32::try_from(record_len).map_err(|_| StoreError::InvalidConfig {
        message: format!("a body of {} bytes is too large to store", body.len()),
    })?;
    let raw_len = (body.len() as u64).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&raw_len);
    crc.update(&record[HEADER_LEN..]);
    let header = &mut record[..HEADER_LEN];
    header[..4].copy_from_slice(MAGIC);
    header[4..8].copy_from_slice(&length.to_le_bytes());
    header[8..16].copy_from_slice(&raw_len);
    header[16..20].copy_from_slice(&crc.finalize().to_le_bytes());
    Ok(EncodedBody {
        record,
        digest: payload_digest(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_header_then_payload_that_decompresses() {
        let body = b"<html><p>hello</p></html>".repeat(300);
        let encoded = encode(&body, 3).unwrap();
        let record = &encoded.record;
        let length = u32::from_le_bytes(record[4..8].try_into().unwrap()) as usize;
        assert_eq!(length, record.len());
        let raw_len = u64::from_le_bytes(record[8..16].try_into().unwrap());
        assert_eq!(raw_len as usize, body.len());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&record[8..16]);
        crc.update(&record[HEADER_LEN..]);
        assert_eq!(record[16..20], crc.finalize().to_le_bytes());
        let back = zstd::bulk::decompress(&record[HEADER_LEN..], body.len()).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn one_thread_switches_levels_and_digests_the_raw_body() {
        let body = b"<html>".repeat(1000);
        let fast = encode(&body, 1).unwrap();
        let small = encode(&body, 19).unwrap();
        assert_eq!(fast.digest, payload_digest(&body));
        assert_eq!(fast.digest, small.digest);
        assert!(fast.stored_len() < body.len() && small.stored_len() < body.len());
        assert_eq!(&fast.record[..4], MAGIC);
    }
}
