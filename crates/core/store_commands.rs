//! The commands that read a store without crawling: `export`, `stats` and `verify`. Each opens
//! the store off the runtime threads and streams what it reads.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use trawl::store::Store;

use crate::cli::{ExportCommand, ExportFormat, StatsCommand, VerifyCommand};

async fn open(path: &Path) -> anyhow::Result<Store> {
    if !path.join("db").exists() {
        return Err(trawl::Error::Usage(format!(
            "{} is not a trawl store (no db inside); give the --store of an earlier crawl",
            path.display()
        ))
        .into());
    }
    Ok(trawl::open_store(path.to_path_buf(), Default::default()).await?)
}

/// `trawl export`.
pub async fn export(command: ExportCommand) -> anyhow::Result<u8> {
    let store = open(&command.store).await?;
    let output_name = command
        .output
        .as_ref()
        .map(|path| path.to_string_lossy().to_string())
        .unwrap_or_default();
    let format = command.format.unwrap_or(
        if output_name.ends_with(".warc") || output_name.ends_with(".warc.gz") {
            ExportFormat::Warc
        } else {
            ExportFormat::Jsonl
        },
    );
    let gzip = command.gzip || output_name.ends_with(".warc.gz");
    if command.with_body && format != ExportFormat::Jsonl {
        return Err(trawl::Error::Usage(
            "--with-body goes with --format jsonl (CSV has no bodies; WARC always has them)".into(),
        )
        .into());
    }
    let output = command.output.clone();
    let with_body = command.with_body;
    let records = command.records;
    let store_dir = command.store.clone();
    let exported = tokio::task::spawn_blocking(move || -> anyhow::Result<trawl::Exported> {
        let mut out: Box<dyn Write> = match &output {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        let written = match format {
            _ if records => trawl::export_records(&store, &mut out)?,
            ExportFormat::Jsonl => trawl::export_jsonl(&store, &mut out, with_body)?,
            ExportFormat::Csv => trawl::export_csv(&store, &mut out)?,
            ExportFormat::Warc => trawl::export_warc(&store, &mut out, gzip)?,
        };
        out.flush().context("cannot write the export")?;
        Ok(written)
    })
    .await??;
    tracing::info!(pages = exported.written, "exported");
    if exported.unreadable > 0 {
        eprintln!(
            "trawl: exported {} pages; left out {} unreadable (each named above); \
             `trawl verify --store {}` lists the damage",
            exported.written,
            exported.unreadable,
            store_dir.display()
        );
        return Ok(1);
    }
    Ok(0)
}

/// `trawl stats`.
pub async fn stats(command: StatsCommand) -> anyhow::Result<u8> {
    let store = open(&command.store).await?;
    let with_hosts = command.hosts;
    let (counters, bytes, hosts) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let hosts = if with_hosts {
            store.host_stats()?
        } else {
            Vec::new()
        };
        Ok((store.counters()?, store.size_on_disk()?, hosts))
    })
    .await??;
    let pages = counters.done + counters.failed;
    let per_page = bytes.checked_div(pages).unwrap_or(0);
    let mut text = String::new();
    let _ = writeln!(text, "queued:  {}", counters.queued);
    let _ = writeln!(text, "done:    {}", counters.done);
    let _ = writeln!(text, "failed:  {}", counters.failed);
    let _ = writeln!(
        text,
        "on disk: {} ({} per page)",
        trawl::human_bytes(bytes),
        trawl::human_bytes(per_page)
    );
    if with_hosts {
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "{:<40} {:>9} {:>7} {:>7} {:>14} {:>8} {:>10}",
            "host", "requests", "errors", "retries", "robots-blocked", "delay", "max req/s"
        );
        for (host, stats) in hosts {
            let _ = writeln!(
                text,
                "{:<40} {:>9} {:>7} {:>7} {:>14} {:>8} {:>10.1}",
                host,
                stats.requests,
                stats.errors,
                stats.retries,
                stats.robots_blocked,
                humantime::format_duration(Duration::from_millis(stats.delay_ms)).to_string(),
                stats.max_rate_milli as f64 / 1000.0
            );
        }
    }
    write_stdout(&text)?;
    Ok(0)
}

/// `trawl verify`: 0 when clean, 1 when any invariant is violated.
pub async fn verify(command: VerifyCommand) -> anyhow::Result<u8> {
    let store = open(&command.store).await?;
    let report = tokio::task::spawn_blocking(move || store.verify()).await??;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{} URLs: {} queued, {} done, {} failed; {} bodies checked",
        report.urls, report.queued, report.done, report.failed, report.bodies_checked
    );
    if report.is_clean() {
        let _ = writeln!(text, "store is consistent");
        write_stdout(&text)?;
        return Ok(0);
    }
    for violation in &report.violations {
        let _ = writeln!(text, "violation: {violation}");
    }
    let _ = writeln!(text, "{} violations", report.violation_count);
    // A reader that stops early (`trawl verify | head`) does not change the verdict.
    match write_stdout(&text) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(1)
}

/// Writes `text` to stdout; an error (a closed pipe included) is returned, not a panic as with
/// `println!`.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}
