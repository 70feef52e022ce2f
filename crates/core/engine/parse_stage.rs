//! The parse stage: on the CPU pool (see [`super::cpu_pool`]; so no CPU work ever runs on a
//! runtime thread), HTML bodies are parsed and every body to keep is encoded for the store
//! (zstd, CRC, SHA-1). Doing the encoding here, in parallel, leaves the one committer only bytes
//! to write. Failures pass straight through.

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use trawl_parser::Parser;
use trawl_store::Store;

use super::cpu_pool::CpuPool;
use super::messages::{FetchOutcome, FetchedJob, ParsedJob};

/// What the stage needs besides its channels.
#[derive(Clone)]
pub(crate) struct ParseWork {
    pub(crate) parser: Parser,
    /// Encodes bodies when they are kept (`store_bodies`); `None` when they are not.
    pub(crate) encoder: Option<Store>,
    /// Where the work runs.
    pub(crate) pool: CpuPool,
}

pub(crate) async fn run(
    work: ParseWork,
    input: mpsc::Receiver<FetchedJob>,
    output: mpsc::Sender<ParsedJob>,
    workers: usize,
) {
    let mut parsed = ReceiverStream::new(input)
        .map(|item| {
            let work = work.clone();
            async move { parse_one(work, item).await }
        })
        .buffer_unordered(workers.max(1));
    while let Some(item) = parsed.next().await {
        if output.send(item).await.is_err() {
            break;
        }
    }
}

async fn parse_one(work: ParseWork, item: FetchedJob) -> ParsedJob {
    let FetchedJob {
        job,
        outcome,
        fetched_at,
        host,
    } = item;
    let FetchOutcome::Fetched(fetched) = outcome else {
        return ParsedJob {
            job,
            outcome,
            fetched_at,
            host,
            parsed: None,
            encoded_body: None,
        };
    };
    let is_html = fetched.status.is_success()
        && trawl_parser::is_html(fetched.content_type())
        && !fetched.body.is_empty();
    let encoder = work.encoder.filter(|_| !fetched.body.is_empty());
    if !is_html && encoder.is_none() {
        return ParsedJob {
            job,
            outcome: FetchOutcome::Fetched(fetched),
            fetched_at,
            host,
            parsed: None,
            encoded_body: None,
        };
    }
    let parser = work.parser;
    let base = job.url.clone();
    let body = fetched.body.clone();
    let content_type = fetched.content_type().map(str::to_string);
    let robots_tag = fetched.header_str("x-robots-tag").map(str::to_string);
    let done = work
        .pool
        .run(move || {
            let parsed = is_html.then(|| {
                parser.extract(&base, &body, content_type.as_deref(), robots_tag.as_deref())
            });
            // A body that cannot be encoded here goes raw; the committer then reports the error.
            let encoded = encoder.and_then(|store| match store.encode_body(&body) {
            Ok(encoded) => Some(encoded),
            Err(err) => {
                tracing::warn!(url = %base, %err, "could not encode the body ahead of its commit");
                None
            }
        });
            (parsed, encoded)
        })
        .await;
    let (parsed, encoded_body) = match done {
        Ok(done) => done,
        Err(_) => {
            tracing::error!(url = %job.url, "parser task failed");
            (None, None)
        }
    };
    ParsedJob {
        job,
        outcome: FetchOutcome::Fetched(fetched),
        fetched_at,
        host,
        parsed,
        encoded_body,
    }
}
