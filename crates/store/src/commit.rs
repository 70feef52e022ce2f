//! The group commit: bodies to segments, fsync, ONE sled transaction over (urls, queue, meta,
//! hosts) for the whole batch, then a database flush.

use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};

use crate::hosts::{decode_host_stats, encode_host_stats};
use crate::records::{
    decode_counters, decode_record, decode_u64, encode_counters, encode_record, encode_u64,
    queue_key,
};
use crate::store::{meta_keys, Store};
use crate::{
    Body, BodyPointer, CommitBatch, CommitOutcome, Completion, Counters, Outcome, QueuedUrl,
    StoreError, UrlRecord, UrlState,
};

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

impl Store {
    /// Applies a batch atomically (see the crate docs for the steps). Returns the discovered URLs
    /// that were new and the retried URLs, with their queue seq, in batch order.
    pub fn commit(&self, batch: CommitBatch) -> Result<CommitOutcome, StoreError> {
        let inner = &self.inner;
        // One committer at a time: segment lengths must be recorded in commit order.
        let mut writer = inner
            .writer
            .lock()
            .map_err(|_| StoreError::corrupt("a previous commit panicked; reopen the store"))?;

        // (1) + (2): bodies to the segment, then fsync.
        let appended = (|| {
            let mut pointers = Vec::with_capacity(batch.completed.len());
            for c in &batch.completed {
                pointers.push(match &c.body {
                    Some(Body::Raw(body)) => Some(writer.append(body)?),
                    Some(Body::Encoded(body)) => Some(writer.append_encoded(body)?),
                    None => None,
                });
            }
            writer.sync()?;
            Ok::<_, StoreError>(pointers)
        })();
        let pointers = match appended {
            Ok(p) => p,
            Err(e) => {
                if let Err(re) = writer.rollback() {
                    tracing::error!(error = %re, "could not roll back segment appends");
                }
                return Err(e);
            }
        };
        let seg_lens = writer.pending();

        // (3): one transaction for the whole batch.
        let result =
            (&inner.urls, &inner.queue, &inner.meta, &inner.hosts).transaction(|(u, q, m, h)| {
                let trees = Trees { u, q, m, h };
                apply(&trees, &batch, &pointers, &seg_lens)
            });
        let outcome = match result {
            Ok(n) => n,
            Err(e) => {
                if let Err(re) = writer.rollback() {
                    tracing::error!(error = %re, "could not roll back segment appends");
                }
                return Err(match e {
                    TransactionError::Abort(e) => e,
                    TransactionError::Storage(e) => e.into(),
                });
            }
        };
        writer.mark_committed();

        // (4): durability comes only from flush.
        inner.db.flush()?;
        drop(writer);
        Ok(outcome)
    }
}

/// The four trees inside the transaction.
struct Trees<'a> {
    u: &'a TransactionalTree,
    q: &'a TransactionalTree,
    m: &'a TransactionalTree,
    h: &'a TransactionalTree,
}

fn get_record(u: &TransactionalTree, url: &str) -> TxResult<Option<UrlRecord>> {
    match u.get(url.as_bytes())? {
        None => Ok(None),
        Some(v) => decode_record(&v, url).map(Some).map_err(abort),
    }
}

fn check_host_key(host_key: &str, url: &str) -> TxResult<()> {
    if host_key.as_bytes().contains(&0) {
        return Err(abort(StoreError::InvalidBatch {
            message: format!("host key {host_key:?} of {url} contains a 0 byte"),
        }));
    }
    Ok(())
}

fn apply(
    t: &Trees<'_>,
    batch: &CommitBatch,
    pointers: &[Option<BodyPointer>],
    seg_lens: &[(u32, u64)],
) -> TxResult<CommitOutcome> {
    let Trees { u, q, m, h } = *t;
    let mut counters = match m.get(meta_keys::COUNTERS)? {
        None => Counters::default(),
        Some(v) => decode_counters(&v).map_err(abort)?,
    };
    let mut next_seq = match m.get(meta_keys::NEXT_SEQ)? {
        None => 0,
        Some(v) => decode_u64(&v, "queue seq counter").map_err(abort)?,
    };
    let mut out = CommitOutcome::default();

    for d in &batch.discovered {
        check_host_key(&d.host_key, &d.url)?;
        // `get` sees this transaction's own writes, so duplicates inside the batch are skipped too.
        // A URL still queued that is found again by a shorter path takes the shorter depth.
        if let Some(old) = get_record(u, &d.url)? {
            if old.state == UrlState::Queued && d.depth < old.depth {
                let shallower = UrlRecord {
                    depth: d.depth,
                    found_on: d.found_on.clone(),
                    redirect_hops: d.redirect_hops,
                    host_key: old.host_key.or_else(|| Some(d.host_key.clone())),
                    ..old
                };
                u.insert(d.url.as_bytes(), encode_record(&shallower))?;
            }
            continue;
        }
        let seq = next_seq;
        next_seq += 1;
        let record = UrlRecord {
            state: UrlState::Queued,
            depth: d.depth,
            found_on: d.found_on.clone(),
            redirect_hops: d.redirect_hops,
            attempts: 0,
            queue_seq: Some(seq),
            page: None,
            host_key: Some(d.host_key.clone()),
            lastmod: d.lastmod.clone(),
        };
        u.insert(d.url.as_bytes(), encode_record(&record))?;
        q.insert(queue_key(&d.host_key, seq), d.url.as_bytes())?;
        counters.queued += 1;
        out.newly_queued.push(QueuedUrl {
            seq,
            url: d.url.clone(),
            host_key: d.host_key.clone(),
            depth: d.depth,
            redirect_hops: d.redirect_hops,
            attempts: 0,
        });
    }

    for (c, pointer) in batch.completed.iter().zip(pointers) {
        check_host_key(&c.host_key, &c.url)?;
        let mut page = c.page.clone();
        if pointer.is_some() {
            page.body = pointer.clone();
        }
        let old = get_record(u, &c.url)?;
        let new_state = match c.outcome {
            Outcome::Done => UrlState::Done,
            Outcome::Failed => UrlState::Failed,
            Outcome::Retry => {
                if let Some(q) = retry(t, c, old, page, &mut next_seq, &mut counters)? {
                    out.requeued.push(q);
                }
                continue;
            }
        };
        let record = match old {
            Some(old) => {
                match old.state {
                    UrlState::Queued => {
                        remove_queue_entry(q, &old, c)?;
                        counters.queued = counters.queued.saturating_sub(1);
                    }
                    UrlState::Done if new_state != UrlState::Done => {
                        counters.done = counters.done.saturating_sub(1)
                    }
                    UrlState::Failed if new_state != UrlState::Failed => {
                        counters.failed = counters.failed.saturating_sub(1)
                    }
                    _ => {}
                }
                if old.state != new_state {
                    bump(&mut counters, new_state);
                }
                UrlRecord {
                    state: new_state,
                    attempts: old.attempts.saturating_add(1),
                    queue_seq: None,
                    page: Some(page),
                    host_key: old.host_key.or_else(|| Some(c.host_key.clone())),
                    ..old
                }
            }
            None => {
                bump(&mut counters, new_state);
                UrlRecord {
                    state: new_state,
                    depth: 0,
                    found_on: None,
                    redirect_hops: 0,
                    attempts: 1,
                    queue_seq: None,
                    page: Some(page),
                    host_key: Some(c.host_key.clone()),
                    lastmod: None,
                }
            }
        };
        u.insert(c.url.as_bytes(), encode_record(&record))?;
    }

    for delta in &batch.host_stats {
        check_host_key(&delta.host_key, "host statistics")?;
        let mut stats = match h.get(delta.host_key.as_bytes())? {
            None => Default::default(),
            Some(v) => decode_host_stats(&v, &delta.host_key).map_err(abort)?,
        };
        stats.merge(delta);
        h.insert(delta.host_key.as_bytes(), encode_host_stats(&stats))?;
    }

    m.insert(meta_keys::COUNTERS, encode_counters(&counters))?;
    m.insert(meta_keys::NEXT_SEQ, encode_u64(next_seq))?;
    for (id, len) in seg_lens {
        m.insert(meta_keys::segment(*id).as_bytes(), encode_u64(*len))?;
    }
    Ok(out)
}

/// Removes the queue entry of a Queued record (under its stored host key, else the completion's).
fn remove_queue_entry(q: &TransactionalTree, old: &UrlRecord, c: &Completion) -> TxResult<()> {
    if let Some(seq) = old.queue_seq {
        let host = old.host_key.as_deref().unwrap_or(&c.host_key);
        if q.remove(queue_key(host, seq))?.is_none() {
            tracing::warn!(url = %c.url, host, seq, "queued URL had no queue entry under its host key");
        }
    }
    Ok(())
}

/// Applies an [`Outcome::Retry`]: the URL goes to the end of its host's queue with one more
/// attempt. Returns None (and changes nothing) if the URL is already finished.
fn retry(
    t: &Trees<'_>,
    c: &Completion,
    old: Option<UrlRecord>,
    page: crate::PageMeta,
    next_seq: &mut u64,
    counters: &mut Counters,
) -> TxResult<Option<QueuedUrl>> {
    let seq = *next_seq;
    let record = match old {
        Some(old) if old.state != UrlState::Queued => {
            tracing::warn!(url = %c.url, state = ?old.state, "retry of a finished URL ignored");
            return Ok(None);
        }
        Some(old) => {
            remove_queue_entry(t.q, &old, c)?;
            UrlRecord {
                attempts: old.attempts.saturating_add(1),
                queue_seq: Some(seq),
                page: Some(page),
                host_key: Some(c.host_key.clone()),
                lastmod: None,
                ..old
            }
        }
        None => {
            counters.queued += 1;
            UrlRecord {
                state: UrlState::Queued,
                depth: 0,
                found_on: None,
                redirect_hops: 0,
                attempts: 1,
                queue_seq: Some(seq),
                page: Some(page),
                host_key: Some(c.host_key.clone()),
                lastmod: None,
            }
        }
    };
    *next_seq += 1;
    t.u.insert(c.url.as_bytes(), encode_record(&record))?;
    t.q.insert(queue_key(&c.host_key, seq), c.url.as_bytes())?;
    Ok(Some(QueuedUrl {
        seq,
        url: c.url.clone(),
        host_key: c.host_key.clone(),
        depth: record.depth,
        redirect_hops: record.redirect_hops,
        attempts: record.attempts,
    }))
}

fn bump(c: &mut Counters, state: UrlState) {
    match state {
        UrlState::Queued => c.queued += 1,
        UrlState::Done => c.done += 1,
        UrlState::Failed => c.failed += 1,
    }
}
