//! Append-only body segment files: `segments/seg-{id:06}.dat`.
//!
//! Each record is a 20-byte header — magic `TRWB`, payload length (u32 LE), uncompressed length
//! (u64 LE), CRC-32 of (uncompressed length bytes ++ payload) (u32 LE) — then the zstd-compressed
//! body. Bodies are appended and fsynced before the database transaction that points at them; the
//! committed length of each segment is kept in the database, and [`recover`] cuts off anything past
//! it on open (a crash between fsync and the database flush leaves such an orphan tail).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::encode::{encode, payload_digest, EncodedBody};
use crate::{BodyPointer, StoreError};

pub(crate) const MAGIC: &[u8; 4] = b"TRWB";
/// Bytes of header before each compressed body.
pub(crate) const HEADER_LEN: usize = 20;

/// The path of segment `id` under `dir`.
pub(crate) fn segment_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("seg-{id:06}.dat"))
}

/// Parses `seg-000012.dat` into 12.
fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".dat")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `seg-N.dat.orphan`, or `.orphan-2`, `-3`, ... if that name is taken.
fn free_orphan_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".orphan");
    let mut candidate = PathBuf::from(&name);
    let mut n = 2;
    while candidate.exists() {
        let mut numbered = name.clone();
        numbered.push(format!("-{n}"));
        candidate = PathBuf::from(numbered);
        n += 1;
    }
    candidate
}

/// The segment files present in `dir`, by id.
pub(crate) fn list_segments(dir: &Path) -> Result<BTreeMap<u32, PathBuf>, StoreError> {
    let mut out = BTreeMap::new();
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.insert(id, entry.path());
        }
    }
    Ok(out)
}

/// Cuts every segment in `dir` back to its committed length. Returns how many uncommitted bytes
/// were cut off or set aside.
///
/// A segment the database has no length for is legitimate only when it is newer than every
/// recorded segment: its first appends were fsynced before a crash stopped the transaction that
/// records them. Such segments are renamed aside (`seg-N.dat.orphan`), never deleted. An unknown
/// segment older than a recorded one means the database lost records (a damaged file): opening
/// fails and nothing is changed, so the bodies survive.
pub(crate) fn recover(dir: &Path, committed: &BTreeMap<u32, u64>) -> Result<u64, StoreError> {
    let segments = list_segments(dir)?;
    let newest_recorded = committed.keys().next_back().copied();
    let unknown: Vec<u32> = segments
        .keys()
        .copied()
        .filter(|id| !committed.contains_key(id))
        .collect();
    let after_a_crash = unknown
        .iter()
        .all(|id| newest_recorded.is_none_or(|newest| *id > newest));
    if !after_a_crash {
        return Err(StoreError::corrupt(format!(
            "segments {unknown:?} in {} hold bodies the database does not know: the database has \
             lost records; nothing was changed (export what is readable, or restore a backup)",
            dir.display()
        )));
    }
    let mut dropped = 0;
    for (id, path) in segments {
        let len = fs::metadata(&path)
            .map_err(|e| StoreError::io(&path, e))?
            .len();
        match committed.get(&id).copied() {
            None => {
                let aside = free_orphan_name(&path);
                tracing::warn!(path = %path.display(), aside = %aside.display(), bytes = len,
                    "setting aside a segment no commit recorded");
                fs::rename(&path, &aside).map_err(|e| StoreError::io(&path, e))?;
                dropped += len;
            }
            Some(c) if len > c => {
                tracing::warn!(path = %path.display(), bytes = len - c, "truncating uncommitted segment tail");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| StoreError::io(&path, e))?;
                f.set_len(c).map_err(|e| StoreError::io(&path, e))?;
                f.sync_all().map_err(|e| StoreError::io(&path, e))?;
                dropped += len - c;
            }
            Some(c) if len < c => {
                tracing::error!(
                    path = %path.display(), committed = c, found = len,
                    "segment is shorter than committed; bodies past its end are lost"
                );
            }
            Some(_) => {}
        }
    }
    for (id, c) in committed {
        let path = segment_path(dir, *id);
        if *c > 0 && !path.exists() {
            tracing::error!(path = %path.display(), "committed segment file is missing");
        }
    }
    if dropped > 0 {
        sync_dir(dir)?;
    }
    Ok(dropped)
}

/// Makes a directory's entries (new or removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

struct Current {
    id: u32,
    file: File,
    len: u64,
}

/// The writer side: appends to the current segment, rolls to a new one past the size limit.
pub(crate) struct SegmentWriter {
    dir: PathBuf,
    max_bytes: u64,
    level: i32,
    next_id: u32,
    current: Option<Current>,
    /// Committed length of every segment.
    committed: BTreeMap<u32, u64>,
    /// Lengths after appends not yet committed.
    dirty: BTreeMap<u32, u64>,
    /// Rolled-away files with appends not yet fsynced.
    unsynced: Vec<File>,
}

impl SegmentWriter {
    /// A writer over `dir` (already recovered) continuing the last segment.
    pub(crate) fn new(
        dir: PathBuf,
        max_bytes: u64,
        level: i32,
        committed: BTreeMap<u32, u64>,
    ) -> Self {
        let next_id = committed.keys().next_back().copied().unwrap_or(1);
        SegmentWriter {
            dir,
            max_bytes,
            level,
            next_id,
            current: None,
            committed,
            dirty: BTreeMap::new(),
            unsynced: Vec::new(),
        }
    }

    /// Opens segment `id` for appending at its committed length. None if the file is shorter
    /// than committed (data was lost): appending there would overlap committed pointers.
    fn open_segment(&self, id: u32) -> Result<Option<Current>, StoreError> {
        let path = segment_path(&self.dir, id);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let committed = self.committed.get(&id).copied().unwrap_or(0);
        let actual = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        if actual < committed {
            tracing::error!(path = %path.display(), committed, actual,
                "segment shorter than committed; starting a new segment");
            return Ok(None);
        }
        if actual > committed {
            file.set_len(committed)
                .map_err(|e| StoreError::io(&path, e))?;
        }
        file.seek(SeekFrom::Start(committed))
            .map_err(|e| StoreError::io(&path, e))?;
        if !existed {
            sync_dir(&self.dir)?;
        }
        Ok(Some(Current {
            id,
            file,
            len: committed,
        }))
    }

    /// Compresses and appends one body; returns where it went. Not durable until
    /// [`SegmentWriter::sync`].
    pub(crate) fn append(&mut self, body: &[u8]) -> Result<BodyPointer, StoreError> {
        let encoded = encode(body, self.level)?;
        self.append_encoded(&encoded)
    }

    /// Appends one body encoded beforehand; returns where it went.
    pub(crate) fn append_encoded(&mut self, body: &EncodedBody) -> Result<BodyPointer, StoreError> {
        let record = &body.record;
        let record_len = record.len();
        let length = u32::try_from(record_len).map_err(|_| StoreError::InvalidConfig {
            message: format!("a body record of {record_len} bytes is too large to store"),
        })?;
        let roll = match &self.current {
            Some(c) => c.len > 0 && c.len + record_len as u64 > self.max_bytes,
            None => false,
        };
        if roll {
            if let Some(old) = self.current.take() {
                self.unsynced.push(old.file);
            }
            self.next_id += 1;
        }
        while self.current.is_none() {
            self.current = self.open_segment(self.next_id)?;
            if self.current.is_none() {
                self.next_id += 1;
            }
        }
        let dir = &self.dir;
        let Some(cur) = self.current.as_mut() else {
            return Err(StoreError::corrupt("segment writer lost its file"));
        };
        let offset = cur.len;
        cur.file
            .write_all(record)
            .map_err(|e| StoreError::io(segment_path(dir, cur.id), e))?;
        cur.len += record_len as u64;
        self.dirty.insert(cur.id, cur.len);
        Ok(BodyPointer {
            segment: cur.id,
            offset,
            length,
            digest: body.digest.clone(),
        })
    }

    /// fsyncs everything appended since the last commit.
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        for f in self.unsynced.drain(..) {
            f.sync_data().map_err(|e| StoreError::io(&self.dir, e))?;
        }
        if let Some(cur) = &self.current {
            if self.dirty.contains_key(&cur.id) {
                cur.file
                    .sync_data()
                    .map_err(|e| StoreError::io(segment_path(&self.dir, cur.id), e))?;
            }
        }
        Ok(())
    }

    /// Segment lengths to record in the commit transaction.
    pub(crate) fn pending(&self) -> Vec<(u32, u64)> {
        self.dirty.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// The transaction recording [`SegmentWriter::pending`] succeeded.
    pub(crate) fn mark_committed(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        self.committed.extend(dirty);
    }

    /// The transaction failed: cut the appended bytes off again.
    pub(crate) fn rollback(&mut self) -> Result<(), StoreError> {
        self.unsynced.clear();
        let dirty = std::mem::take(&mut self.dirty);
        for id in dirty.keys() {
            let len = self.committed.get(id).copied().unwrap_or(0);
            match self.current.as_mut() {
                Some(cur) if cur.id == *id => {
                    let path = segment_path(&self.dir, *id);
                    cur.file
                        .set_len(len)
                        .map_err(|e| StoreError::io(&path, e))?;
                    cur.file
                        .seek(SeekFrom::Start(len))
                        .map_err(|e| StoreError::io(&path, e))?;
                    cur.len = len;
                }
                _ => {
                    let path = segment_path(&self.dir, *id);
                    OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_len(len))
                        .map_err(|e| StoreError::io(&path, e))?;
                }
            }
        }
        Ok(())
    }
}

/// Reads and verifies the body `pointer` points at.
pub(crate) fn read_body(dir: &Path, pointer: &BodyPointer) -> Result<Bytes, StoreError> {
    let path = segment_path(dir, pointer.segment);
    let corrupt = |msg: &str| {
        StoreError::corrupt(format!(
            "body at {}:{}: {msg}",
            path.display(),
            pointer.offset
        ))
    };
    let length = pointer.length as usize;
    if length < HEADER_LEN {
        return Err(corrupt("pointer length shorter than a record header"));
    }
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(corrupt("segment file is missing"))
        }
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    file.seek(SeekFrom::Start(pointer.offset))
        .map_err(|e| StoreError::io(&path, e))?;
    let mut record = vec![0u8; length];
    if let Err(e) = file.read_exact(&mut record) {
        return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
            corrupt("segment ends before the record")
        } else {
            StoreError::io(&path, e)
        });
    }
    let (header, payload) = record.split_at(HEADER_LEN);
    if &header[0..4] != MAGIC {
        return Err(corrupt("bad record magic"));
    }
    let field = |r: std::ops::Range<usize>| header[r].to_vec();
    let rec_len = u32::from_le_bytes(field(4..8).try_into().map_err(|_| corrupt("header"))?);
    if rec_len != pointer.length {
        return Err(corrupt("record length does not match the pointer"));
    }
    let raw_len_bytes = &header[8..16];
    let crc = u32::from_le_bytes(field(16..20).try_into().map_err(|_| corrupt("header"))?);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(raw_len_bytes);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let raw_len = u64::from_le_bytes(raw_len_bytes.try_into().map_err(|_| corrupt("header"))?);
    let raw_len = usize::try_from(raw_len).map_err(|_| corrupt("body too large"))?;
    let body = zstd::bulk::decompress(payload, raw_len)
        .map_err(|e| corrupt(&format!("decompression failed: {e}")))?;
    if body.len() != raw_len {
        return Err(corrupt("decompressed size mismatch"));
    }
    if payload_digest(&body) != pointer.digest {
        return Err(corrupt("digest mismatch"));
    }
    Ok(Bytes::from(body))
}

/// Total bytes of all segment files.
pub(crate) fn total_size(dir: &Path) -> Result<u64, StoreError> {
    let mut total = 0;
    for (_, path) in list_segments(dir)? {
        total += fs::metadata(&path)
            .map_err(|e| StoreError::io(&path, e))?
            .len();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_digest() {
        assert_eq!(parse_segment_name("seg-000012.dat"), Some(12));
        assert_eq!(parse_segment_name("seg-.dat"), None);
        assert_eq!(parse_segment_name("seg-00001a.dat"), None);
        assert_eq!(parse_segment_name("other"), None);
        // SHA-1 of "" is da39a3ee...; its base32 is the well-known WARC empty digest.
        assert_eq!(payload_digest(b""), "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
    }

    #[test]
    fn append_read_roll_and_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::new(dir.path().to_path_buf(), 200, 3, BTreeMap::new());
        let a = w.append(b"hello world").unwrap();
        let noisy: Vec<u8> = (0..120u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect();
        let b = w.append(&noisy).unwrap();
        assert_eq!(a.segment, 1);
        assert_eq!(a.offset, 0);
        assert_eq!(b.segment, 1, "{b:?}");
        let c = w.append(&noisy[..60]).unwrap();
        assert_eq!(c.segment, 2, "rolled past 200 bytes");
        w.sync().unwrap();
        assert_eq!(w.pending().len(), 2);
        w.mark_committed();
        assert_eq!(read_body(dir.path(), &a).unwrap(), &b"hello world"[..]);
        assert_eq!(read_body(dir.path(), &b).unwrap(), noisy);
        assert_eq!(read_body(dir.path(), &c).unwrap(), &noisy[..60]);

        let before = fs::metadata(segment_path(dir.path(), 2)).unwrap().len();
        let _d = w.append(b"to be rolled back").unwrap();
        w.rollback().unwrap();
        assert_eq!(
            fs::metadata(segment_path(dir.path(), 2)).unwrap().len(),
            before
        );
        let e = w.append(b"after").unwrap();
        assert_eq!(e.offset, before);
        assert_eq!(read_body(dir.path(), &e).unwrap(), &b"after"[..]);
    }

    #[test]
    fn recover_cuts_tails_and_removes_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::new(dir.path().to_path_buf(), 1 << 20, 3, BTreeMap::new());
        let a = w.append(b"kept").unwrap();
        w.sync().unwrap();
        let committed: BTreeMap<u32, u64> = w.pending().into_iter().collect();
        w.append(b"orphan").unwrap();
        w.sync().unwrap();
        fs::write(segment_path(dir.path(), 5), b"junk").unwrap();
        let dropped = recover(dir.path(), &committed).unwrap();
        assert!(dropped > 4);
        assert!(!segment_path(dir.path(), 5).exists());
        assert_eq!(
            fs::metadata(segment_path(dir.path(), 1)).unwrap().len(),
            committed[&1]
        );
        assert_eq!(read_body(dir.path(), &a).unwrap(), &b"kept"[..]);
    }

    #[test]
    fn lost_committed_bytes_start_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let committed = BTreeMap::from([(3u32, 1000u64)]);
        fs::write(segment_path(dir.path(), 3), b"short").unwrap();
        let mut w = SegmentWriter::new(dir.path().to_path_buf(), 1 << 20, 3, committed);
        let p = w.append(b"new").unwrap();
        assert_eq!((p.segment, p.offset), (4, 0));
        assert_eq!(fs::read(segment_path(dir.path(), 3)).unwrap(), b"short");
        let missing = BodyPointer { segment: 99, ..p };
        assert!(read_body(dir.path(), &missing).unwrap_err().is_corrupt());
    }
}
