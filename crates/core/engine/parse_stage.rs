//! The parse stage: on its own threads (see [`super::cpu_pool`]; so no CPU work ever runs on a
//! runtime thread), HTML bodies are parsed and every body to keep is encoded for the store
//! (zstd, CRC, SHA-1). Doing the encoding here, in parallel, leaves the one committer only bytes
//! to write. Failures pass straight through; a parser that panics costs the page its links, not
//! the crawl.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tokio::sync::mpsc;
use trawl_frontier::Scope;
use trawl_parser::{Parsed, Parser};
use trawl_store::{EncodedBody, Store};

use super::cpu_pool::spawn_workers;
use super::links::links_to_follow;
use super::messages::{FetchOutcome, FetchedJob, ParsedJob};

/// What the stage needs besides its channels.
#[derive(Clone)]
pub(crate) struct ParseWork {
    pub(crate) parser: Parser,
    /// The crawl's scope, to check links here rather than on the commit thread.
    pub(crate) scope: Scope,
    /// Encodes bodies when they are kept (`store_bodies`); `None` when they are not.
    pub(crate) encoder: Option<Store>,
    /// Whether the caller's page stream carries bodies. When it does not, a body (and its room
    /// in the fetcher's body budget) is let go as soon as it is parsed and encoded instead of
    /// living until its page is committed.
    pub(crate) page_bodies: bool,
}

/// Starts `workers` parse threads; they end when `input` closes, dropping their `output` (so the
/// persist stage's input closes once every parse thread is done).
pub(crate) fn start(
    work: ParseWork,
    input: mpsc::Receiver<FetchedJob>,
    output: mpsc::Sender<ParsedJob>,
    workers: usize,
) -> std::io::Result<()> {
    // One shared value, so the last thread to end drops it whole, in field order.
    let stage = Arc::new(Stage { work, output });
    spawn_workers("trawl-parse", workers, input, move |item| {
        let stage = &stage;
        // The persist stage gone means the crawl is over; nothing is left to hand the page to.
        let _ = stage.output.blocking_send(parse_one(&stage.work, item));
    })?;
    Ok(())
}

/// What the parse threads share. Fields drop in order: the work (which holds a handle on the
/// store) before the sender, so once the persist stage sees its input closed, no parse thread
/// holds the store any more and the crawl's end releases it.
struct Stage {
    work: ParseWork,
    output: mpsc::Sender<ParsedJob>,
}

fn parse_one(work: &ParseWork, item: FetchedJob) -> ParsedJob {
    let FetchedJob {
        job,
        mut outcome,
        fetched_at,
        host,
    } = item;
    let mut body_size = 0;
    let (mut parsed, encoded_body) = match &mut outcome {
        FetchOutcome::Fetched(fetched) if !fetched.body.is_empty() => {
            body_size = fetched.body.len() as u64;
            let is_html =
                fetched.status.is_success() && trawl_parser::is_html(fetched.content_type());
            let done = catch_unwind(AssertUnwindSafe(|| {
                parse_and_encode(work, &job.url, fetched, is_html)
            }));
            let (parsed, encoded) = done.unwrap_or_else(|_| {
                tracing::error!(url = %job.url, "parsing or encoding the page panicked");
                (None, None)
            });
            // Nothing but the page stream could still want the raw body now.
            if !work.page_bodies && (encoded.is_some() || work.encoder.is_none()) {
                fetched.body = bytes::Bytes::new();
                // Its room in the fetcher's body budget goes with it; otherwise the room is
                // given back when the page is committed.
                fetched.room.release();
            }
            (parsed, encoded)
        }
        _ => (None, None),
    };
    let links = match &mut parsed {
        Some(parsed) => {
            let links = links_to_follow(parsed, &work.scope);
            // The committer needs only the prepared links; the rest are freed here.
            parsed.links = Vec::new();
            links
        }
        None => Default::default(),
    };
    ParsedJob {
        job,
        outcome,
        fetched_at,
        host,
        parsed,
        links,
        encoded_body,
        body_size,
    }
}

fn parse_and_encode(
    work: &ParseWork,
    base: &url::Url,
    fetched: &trawl_fetcher::Fetched,
    is_html: bool,
) -> (Option<Parsed>, Option<EncodedBody>) {
    let parsed = is_html.then(|| {
        work.parser.extract(
            base,
            &fetched.body,
            fetched.content_type(),
            fetched.header_str("x-robots-tag"),
        )
    });
    // A body that cannot be encoded here goes raw; the committer then reports the error.
    let encoded = work
        .encoder
        .as_ref()
        .and_then(|store| match store.encode_body(&fetched.body) {
            Ok(encoded) => Some(encoded),
            Err(err) => {
                tracing::warn!(url = %base, %err, "could not encode the body ahead of its commit");
                None
            }
        });
    (parsed, encoded)
}
