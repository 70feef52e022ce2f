//! The parse stage: HTML bodies are parsed on the blocking pool, at most `workers` at once, so no
//! parse ever runs on a runtime thread. Non-HTML answers and failures pass straight through.

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use trawl_parser::Parser;

use super::messages::{FetchOutcome, FetchedJob, ParsedJob};

pub(crate) async fn run(
    parser: Parser,
    input: mpsc::Receiver<FetchedJob>,
    output: mpsc::Sender<ParsedJob>,
    workers: usize,
) {
    let mut parsed = ReceiverStream::new(input)
        .map(|item| {
            let parser = parser.clone();
            async move { parse_one(parser, item).await }
        })
        .buffer_unordered(workers.max(1));
    while let Some(item) = parsed.next().await {
        if output.send(item).await.is_err() {
            break;
        }
    }
}

async fn parse_one(parser: Parser, item: FetchedJob) -> ParsedJob {
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
        };
    };
    let is_html = fetched.status.is_success()
        && trawl_parser::is_html(fetched.content_type())
        && !fetched.body.is_empty();
    if !is_html {
        return ParsedJob {
            job,
            outcome: FetchOutcome::Fetched(fetched),
            fetched_at,
            host,
            parsed: None,
        };
    }
    let base = job.url.clone();
    let body = fetched.body.clone();
    let content_type = fetched.content_type().map(str::to_string);
    let robots_tag = fetched.header_str("x-robots-tag").map(str::to_string);
    let parsed = tokio::task::spawn_blocking(move || {
        parser.extract(&base, &body, content_type.as_deref(), robots_tag.as_deref())
    })
    .await;
    let parsed = match parsed {
        Ok(parsed) => Some(parsed),
        Err(err) => {
            tracing::error!(url = %job.url, %err, "parser task failed");
            None
        }
    };
    ParsedJob {
        job,
        outcome: FetchOutcome::Fetched(fetched),
        fetched_at,
        host,
        parsed,
    }
}
