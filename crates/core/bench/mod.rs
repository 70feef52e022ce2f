//! `trawl bench`: runs a crawl through the same engine the CLI uses, against a server in a child
//! process, and reports pages/s, MB/s, p50/p99 fetch latency, CPU seconds, peak RSS and store
//! bytes per page. Scenarios: `flat`, `latency`, `scale-1m`, `resume` and `dir PATH`.

mod metrics;
pub mod serve;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::AsyncBufReadExt;
use trawl::{Config, Crawl};

use crate::cli::{BenchCommand, BenchFillCommand, Scenario};
use metrics::{cpu_seconds, Report};

/// A server child process; killed when dropped.
struct Server {
    child: tokio::process::Child,
    seed: String,
}

impl Server {
    async fn start(args: &[String]) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("cannot find the trawl executable")?;
        let mut child = tokio::process::Command::new(exe)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the bench server")?;
        let stdout = child.stdout.take().context("no server stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let seed = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("the bench server did not start")??
            .context("the bench server exited")?;
        Ok(Server { child, seed })
    }

    fn base(&self) -> String {
        url::Url::parse(&self.seed)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// `trawl bench`.
pub async fn run(command: BenchCommand) -> anyhow::Result<u8> {
    let scratch = Scratch::new(command.store.clone())?;
    let report = match command.scenario {
        Scenario::Flat => {
            let pages = command.pages.unwrap_or(20_000);
            let server = site(pages, 4, 0).await?;
            crawl(&command, "flat", &server.seed, None, &scratch.path).await?
        }
        Scenario::Latency => {
            let pages = command.pages.unwrap_or(10_000);
            let server = site(pages, 8, 20).await?;
            let mut report = crawl(&command, "latency", &server.seed, None, &scratch.path).await?;
            report.ideal_pages_per_second = Some(command.concurrency as f64 / 0.020);
            report
        }
        Scenario::Scale1m => {
            let pages = command.pages.unwrap_or(1_000_000);
            let server = site(pages, 8, 0).await?;
            crawl(&command, "scale-1m", &server.seed, None, &scratch.path).await?
        }
        Scenario::Dir => {
            let path = command
                .path
                .clone()
                .context("`trawl bench dir` needs a PATH")?;
            let server = Server::start(&["serve-dir".into(), path.display().to_string()]).await?;
            let max = command.pages.unwrap_or(20_000) as u64;
            crawl(&command, "dir", &server.seed, Some(max), &scratch.path).await?
        }
        Scenario::Resume => resume(&command, &scratch.path).await?,
    };
    let text = if command.json {
        format!("{}\n", serde_json::to_string(&report.to_json())?)
    } else {
        report.render()
    };
    crate::store_commands::write_stdout(&text).context("cannot write the report")?;
    Ok(0)
}

async fn site(pages: usize, hosts: usize, latency_ms: u64) -> anyhow::Result<Server> {
    Server::start(&[
        "serve-site".into(),
        "--pages".into(),
        pages.to_string(),
        "--hosts".into(),
        hosts.to_string(),
        "--latency-ms".into(),
        latency_ms.to_string(),
    ])
    .await
}

fn config(
    config_file: Option<&Path>,
    concurrency: usize,
    seed: &str,
    store: &Path,
) -> anyhow::Result<Config> {
    let mut config = match config_file {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    config.crawl.seeds = vec![seed.to_string()];
    config.crawl.store_dir = store.to_path_buf();
    config.crawl.concurrency = concurrency;
    // The peers compared against are measured at the same concurrency on one host.
    config.frontier.per_host = concurrency;
    Ok(config)
}

/// Crawls `seed` to the end (or `max_pages`) and measures it.
async fn crawl(
    command: &BenchCommand,
    name: &str,
    seed: &str,
    max_pages: Option<u64>,
    store: &Path,
) -> anyhow::Result<Report> {
    let mut config = config(command.config.as_deref(), command.concurrency, seed, store)?;
    config.frontier.max_pages = max_pages;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    // Like the CLI, which never reads the bodies on the page stream.
    let run = Crawl::new(config).await?.without_page_bodies().start();
    let mut report = Report::measure(name, run, started).await?;
    report.cpu_seconds = cpu_seconds() - cpu_before;
    report.store_bytes = trawl::store_size(store).await?;
    Ok(report)
}

/// Builds a store that knows `--known` URLs (all queued), then measures how long `resume` takes
/// to open it and commit its first page, and crawls a few thousand pages from it. The store is
/// built by a child process (`trawl bench-fill`), so that this process's peak RSS, CPU time and
/// the rest are the resumed crawl's alone.
async fn resume(command: &BenchCommand, store: &Path) -> anyhow::Result<Report> {
    let known = command.known;
    let server = site(known, 1, 0).await?;
    eprintln!("building a store of {known} queued URLs (in a child process)...");
    let build_started = Instant::now();
    let exe = std::env::current_exe().context("cannot find the trawl executable")?;
    let mut build = tokio::process::Command::new(exe);
    build
        .arg("bench-fill")
        .arg("--base")
        .arg(server.base())
        .arg("--known")
        .arg(known.to_string())
        .arg("--store")
        .arg(store)
        .arg("--concurrency")
        .arg(command.concurrency.to_string())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(config) = &command.config {
        build.arg("--config").arg(config);
    }
    let status = build
        .status()
        .await
        .context("cannot start the bench store build")?;
    anyhow::ensure!(
        status.success(),
        "building the bench store failed ({status})"
    );
    eprintln!("built in {:.1}s", build_started.elapsed().as_secs_f64());
    let extra = command.pages.unwrap_or(5_000) as u64;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let crawl = Crawl::resume(store, |config| {
        config.frontier.max_pages = Some(extra);
        Ok(())
    })
    .await?;
    let opened = started.elapsed();
    let mut report =
        Report::measure("resume", crawl.without_page_bodies().start(), started).await?;
    report.cpu_seconds = cpu_seconds() - cpu_before;
    report.store_bytes = trawl::store_size(store).await?;
    report.resume_open = Some(opened);
    report.known_urls = Some(known as u64);
    Ok(report)
}

/// `trawl bench-fill`: the resume scenario's store build. Queues `known` URLs of the site at
/// `base` (its root, then `/p/1`, `/p/2`, ...) into a new store with the bench's config.
pub async fn fill(command: BenchFillCommand) -> anyhow::Result<u8> {
    let base = command.base.trim_end_matches('/').to_string();
    let seed = format!("{base}/");
    let config = config(
        command.config.as_deref(),
        command.concurrency,
        &seed,
        &command.store,
    )?;
    trawl::bench_support::fill_store(
        &config,
        (0..command.known).map(|i| match i {
            0 => format!("{base}/"),
            i => format!("{base}/p/{i}"),
        }),
    )
    .await?;
    Ok(0)
}

/// The bench's store directory: the one given, or a fresh temporary one removed afterwards.
struct Scratch {
    path: PathBuf,
    remove: bool,
}

impl Scratch {
    fn new(given: Option<PathBuf>) -> anyhow::Result<Scratch> {
        match given {
            Some(path) => Ok(Scratch {
                path,
                remove: false,
            }),
            None => {
                let path = std::env::temp_dir().join(format!("trawl-bench-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&path);
                Ok(Scratch { path, remove: true })
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
