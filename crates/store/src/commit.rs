//! The group commit: bodies to segments, fsync, sled transactions over (url_index, url_details,
//! queue, meta, hosts), then a database flush. The batch is one transaction unless it discovers more than
//! [`DISCOVERIES_PER_TRANSACTION`] URLs: the extra discoveries are queued first, in transactions
//! of their own (see [`split_discoveries`]).

use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};

use crate::entries::{
    decode_details, decode_index, details_key, encode_details, encode_index, UrlDetails, UrlIndex,
};
use crate::hosts::{decode_host_stats, encode_host_stats};
use crate::records::{decode_counters, decode_u64, encode_counters, encode_u64, queue_key};
use crate::store::{meta_keys, Store};
use crate::{
    Body, BodyPointer, CommitBatch, CommitOutcome, Completion, Counters, HostStatsDelta, NewUrl,
    Outcome, QueuedUrl, StoreError, UrlState,
};

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

impl Store {
    /// Applies a batch (see the crate docs for the steps). Returns the discovered URLs that were
    /// new and the retried URLs, with their queue seq, in batch order.
    ///
    /// The completions are applied atomically with the rest of the batch, after all of the
    /// batch's discoveries: a crash leaves each page either done with all its links queued, or
    /// still queued. An invalid batch (a host key with a 0 byte) changes nothing.
    pub fn commit(&self, batch: CommitBatch) -> Result<CommitOutcome, StoreError> {
        let outcome = self.commit_unflushed(batch)?;
        self.inner.db.flush()?;
        Ok(outcome)
    }

    /// [`Store::commit`] without its last step: the batch is applied (its bodies are on disk
    /// and synced, later reads see it) but not durable until the next [`Store::flush`]. A crash
    /// before then loses the batch as a whole, never part of it. Lets a caller apply the next
    /// batch while another thread flushes this one, and make several batches durable with one
    /// flush.
    pub fn commit_unflushed(&self, batch: CommitBatch) -> Result<CommitOutcome, StoreError> {
        let (ahead, last) = split_discoveries(&batch.discovered);
        // A batch in one transaction fails as a whole; one split in several must not fail after
        // its first transactions committed, so it is checked up front.
        if !ahead.is_empty() {
            if let Some(e) = invalid_host_key_in(&batch) {
                return Err(e);
            }
        }
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

        // (3): the discoveries ahead of the last DISCOVERIES_PER_TRANSACTION in transactions of
        // their own, then one transaction for the rest of the batch. sled recovers a prefix of
        // its transactions, so no completion can survive a crash without its links.
        let mut outcome = CommitOutcome::default();
        let result = ahead
            .chunks(DISCOVERIES_PER_TRANSACTION)
            .try_for_each(|chunk| {
                let part = Part {
                    discovered: chunk,
                    completed: &[],
                    host_stats: &[],
                };
                let out = transact(self, &part, &[], &[])?;
                outcome.newly_queued.extend(out.newly_queued);
                Ok(())
            })
            .and_then(|()| {
                let part = Part {
                    discovered: last,
                    completed: &batch.completed,
                    host_stats: &batch.host_stats,
                };
                transact(self, &part, &pointers, &seg_lens)
            });
        match result {
            Ok(out) => {
                outcome.newly_queued.extend(out.newly_queued);
                outcome.requeued = out.requeued;
            }
            Err(e) => {
                // Only the last transaction records segment lengths and body pointers.
                if let Err(re) = writer.rollback() {
                    tracing::error!(error = %re, "could not roll back segment appends");
                }
                return Err(e);
            }
        }
        writer.mark_committed();
        // (4), durability, comes only from flush.
        Ok(outcome)
    }
}

/// Most discovered URLs applied by one sled transaction. sled keeps every node version a
/// transaction replaces until the transaction ends: in the Rust docs crawl one batch with 2,666
/// new links held about 30 MB of node copies, the memory peak of the whole crawl.
const DISCOVERIES_PER_TRANSACTION: usize = 256;

/// Splits the discoveries into those queued ahead, in transactions of their own, and the last
/// [`DISCOVERIES_PER_TRANSACTION`] (or fewer), applied with the completions.
fn split_discoveries(discovered: &[NewUrl]) -> (&[NewUrl], &[NewUrl]) {
    discovered.split_at(discovered.len().saturating_sub(DISCOVERIES_PER_TRANSACTION))
}

/// The first error [`check_host_key`] would report for `batch`.
fn invalid_host_key_in(batch: &CommitBatch) -> Option<StoreError> {
    let discovered = batch
        .discovered
        .iter()
        .map(|d| (&d.host_key, d.url.as_str()));
    let completed = batch
        .completed
        .iter()
        .map(|c| (&c.host_key, c.url.as_str()));
    let stats = batch
        .host_stats
        .iter()
        .map(|s| (&s.host_key, "host statistics"));
    discovered
        .chain(completed)
        .chain(stats)
        .find_map(|(host_key, url)| invalid_host_key(host_key, url))
}

/// The part of a batch that one transaction applies.
struct Part<'a> {
    discovered: &'a [NewUrl],
    completed: &'a [Completion],
    host_stats: &'a [HostStatsDelta],
}

/// Applies `part` in one sled transaction over the five trees.
fn transact(
    store: &Store,
    part: &Part<'_>,
    pointers: &[Option<BodyPointer>],
    seg_lens: &[(u32, u64)],
) -> Result<CommitOutcome, StoreError> {
    let inner = &store.inner;
    (
        &inner.index,
        &inner.details,
        &inner.queue,
        &inner.meta,
        &inner.hosts,
    )
        .transaction(|(i, d, q, m, h)| {
            let trees = Trees { i, d, q, m, h };
            apply(&trees, part, pointers, seg_lens)
        })
        .map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        })
}

/// The five trees inside the transaction.
struct Trees<'a> {
    /// URL -> [`UrlIndex`].
    i: &'a TransactionalTree,
    /// id -> [`UrlDetails`].
    d: &'a TransactionalTree,
    q: &'a TransactionalTree,
    m: &'a TransactionalTree,
    h: &'a TransactionalTree,
}

impl Trees<'_> {
    fn index(&self, url: &str) -> TxResult<Option<UrlIndex>> {
        match self.i.get(url.as_bytes())? {
            None => Ok(None),
            Some(v) => decode_index(&v, url).map(Some).map_err(abort),
        }
    }

    fn details(&self, index: &UrlIndex, url: &str) -> TxResult<UrlDetails> {
        let id = index.id;
        let bytes = self.d.get(details_key(id))?.ok_or_else(|| {
            abort(StoreError::corrupt(format!(
                "record of {url}: its details #{id} are missing"
            )))
        })?;
        decode_details(&bytes, id).map_err(abort)
    }

    fn put(&self, url: &str, index: &UrlIndex, details: &UrlDetails) -> TxResult<()> {
        self.i.insert(url.as_bytes(), encode_index(index))?;
        self.d
            .insert(&details_key(index.id), encode_details(details))?;
        Ok(())
    }
}

/// The counters a transaction reads and updates.
struct Sequences {
    next_seq: u64,
    next_id: u64,
}

impl Sequences {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }
}

fn invalid_host_key(host_key: &str, url: &str) -> Option<StoreError> {
    host_key
        .as_bytes()
        .contains(&0)
        .then(|| StoreError::InvalidBatch {
            message: format!("host key {host_key:?} of {url} contains a 0 byte"),
        })
}

fn check_host_key(host_key: &str, url: &str) -> TxResult<()> {
    invalid_host_key(host_key, url).map_or(Ok(()), |e| Err(abort(e)))
}

fn read_u64(m: &TransactionalTree, key: &str, what: &str) -> TxResult<u64> {
    match m.get(key)? {
        None => Ok(0),
        Some(v) => decode_u64(&v, what).map_err(abort),
    }
}

fn apply(
    t: &Trees<'_>,
    batch: &Part<'_>,
    pointers: &[Option<BodyPointer>],
    seg_lens: &[(u32, u64)],
) -> TxResult<CommitOutcome> {
    let Trees { q, m, h, .. } = *t;
    let mut counters = match m.get(meta_keys::COUNTERS)? {
        None => Counters::default(),
        Some(v) => decode_counters(&v).map_err(abort)?,
    };
    let mut seqs = Sequences {
        next_seq: read_u64(m, meta_keys::NEXT_SEQ, "queue seq counter")?,
        next_id: read_u64(m, meta_keys::NEXT_ID, "URL id counter")?,
    };
    let mut out = CommitOutcome::default();

    for d in batch.discovered {
        check_host_key(&d.host_key, &d.url)?;
        // `get` sees this transaction's own writes, so duplicates inside the batch are skipped too.
        // A URL still queued that is found again by a shorter path takes the shorter depth.
        if let Some(old) = t.index(&d.url)? {
            if old.state == UrlState::Queued && d.depth < old.depth {
                let details = t.details(&old, &d.url)?;
                let shallower = UrlIndex {
                    depth: d.depth,
                    redirect_hops: d.redirect_hops,
                    ..old
                };
                let details = UrlDetails {
                    found_on: d.found_on.clone(),
                    host_key: details.host_key.or_else(|| Some(d.host_key.clone())),
                    ..details
                };
                t.put(&d.url, &shallower, &details)?;
            }
            continue;
        }
        let seq = seqs.seq();
        let index = UrlIndex {
            state: UrlState::Queued,
            depth: d.depth,
            redirect_hops: d.redirect_hops,
            attempts: 0,
            queue_seq: Some(seq),
            id: seqs.id(),
        };
        let details = UrlDetails {
            url: d.url.clone(),
            host_key: Some(d.host_key.clone()),
            found_on: d.found_on.clone(),
            lastmod: d.lastmod.clone(),
            page: None,
        };
        t.put(&d.url, &index, &details)?;
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
        let old = match t.index(&c.url)? {
            None => None,
            Some(index) => Some((index, t.details(&index, &c.url)?)),
        };
        let new_state = match c.outcome {
            Outcome::Done => UrlState::Done,
            Outcome::Failed => UrlState::Failed,
            Outcome::Retry => {
                if let Some(q) = retry(t, c, old, page, &mut seqs, &mut counters)? {
                    out.requeued.push(q);
                }
                continue;
            }
        };
        let (index, details) = match old {
            Some((old, details)) => {
                match old.state {
                    UrlState::Queued => {
                        remove_queue_entry(q, &old, &details, c)?;
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
                let index = UrlIndex {
                    state: new_state,
                    attempts: old.attempts.saturating_add(1),
                    queue_seq: None,
                    ..old
                };
                let details = UrlDetails {
                    page: Some(page),
                    host_key: details.host_key.or_else(|| Some(c.host_key.clone())),
                    ..details
                };
                (index, details)
            }
            None => {
                bump(&mut counters, new_state);
                let index = UrlIndex {
                    state: new_state,
                    depth: 0,
                    redirect_hops: 0,
                    attempts: 1,
                    queue_seq: None,
                    id: seqs.id(),
                };
                let details = UrlDetails {
                    url: c.url.clone(),
                    host_key: Some(c.host_key.clone()),
                    page: Some(page),
                    ..UrlDetails::default()
                };
                (index, details)
            }
        };
        t.put(&c.url, &index, &details)?;
    }

    for delta in batch.host_stats {
        check_host_key(&delta.host_key, "host statistics")?;
        let mut stats = match h.get(delta.host_key.as_bytes())? {
            None => Default::default(),
            Some(v) => decode_host_stats(&v, &delta.host_key).map_err(abort)?,
        };
        stats.merge(delta);
        h.insert(delta.host_key.as_bytes(), encode_host_stats(&stats))?;
    }

    m.insert(meta_keys::COUNTERS, encode_counters(&counters))?;
    m.insert(meta_keys::NEXT_SEQ, encode_u64(seqs.next_seq))?;
    m.insert(meta_keys::NEXT_ID, encode_u64(seqs.next_id))?;
    for (id, len) in seg_lens {
        m.insert(meta_keys::segment(*id).as_bytes(), encode_u64(*len))?;
    }
    Ok(out)
}

/// Removes the queue entry of a Queued URL (under its stored host key, else the completion's).
fn remove_queue_entry(
    q: &TransactionalTree,
    old: &UrlIndex,
    details: &UrlDetails,
    c: &Completion,
) -> TxResult<()> {
    if let Some(seq) = old.queue_seq {
        let host = details.host_key.as_deref().unwrap_or(&c.host_key);
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
    old: Option<(UrlIndex, UrlDetails)>,
    page: crate::PageMeta,
    seqs: &mut Sequences,
    counters: &mut Counters,
) -> TxResult<Option<QueuedUrl>> {
    let (index, details) = match old {
        Some((old, _)) if old.state != UrlState::Queued => {
            tracing::warn!(url = %c.url, state = ?old.state, "retry of a finished URL ignored");
            return Ok(None);
        }
        Some((old, details)) => {
            remove_queue_entry(t.q, &old, &details, c)?;
            let index = UrlIndex {
                attempts: old.attempts.saturating_add(1),
                queue_seq: Some(seqs.seq()),
                ..old
            };
            let details = UrlDetails {
                page: Some(page),
                host_key: Some(c.host_key.clone()),
                lastmod: None,
                ..details
            };
            (index, details)
        }
        None => {
            counters.queued += 1;
            let index = UrlIndex {
                state: UrlState::Queued,
                depth: 0,
                redirect_hops: 0,
                attempts: 1,
                queue_seq: Some(seqs.seq()),
                id: seqs.id(),
            };
            let details = UrlDetails {
                url: c.url.clone(),
                host_key: Some(c.host_key.clone()),
                page: Some(page),
                ..UrlDetails::default()
            };
            (index, details)
        }
    };
    let seq = index.queue_seq.unwrap_or_default();
    t.put(&c.url, &index, &details)?;
    t.q.insert(queue_key(&c.host_key, seq), c.url.as_bytes())?;
    Ok(Some(QueuedUrl {
        seq,
        url: c.url.clone(),
        host_key: c.host_key.clone(),
        depth: index.depth,
        redirect_hops: index.redirect_hops,
        attempts: index.attempts,
    }))
}

fn bump(c: &mut Counters, state: UrlState) {
    match state {
        UrlState::Queued => c.queued += 1,
        UrlState::Done => c.done += 1,
        UrlState::Failed => c.failed += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_discoveries_past_the_last_transactions_share_go_ahead() {
        let urls = |n: usize| vec![NewUrl::default(); n];
        for (n, ahead) in [(0, 0), (1, 0), (256, 0), (257, 1), (1000, 744)] {
            let discovered = urls(n);
            let (a, last) = split_discoveries(&discovered);
            assert_eq!((a.len(), last.len()), (ahead, n - ahead), "{n} discoveries");
        }
    }
}
