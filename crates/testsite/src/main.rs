//! `trawl-testsite`: serves a synthetic site until Ctrl-C, printing each host's base URL and then
//! the seed URL on stdout, one per line.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use trawl_testsite::{SiteSpec, TestSite};

/// Serve a deterministic synthetic website on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "trawl-testsite", version, about)]
struct Args {
    /// Number of pages.
    #[arg(long, default_value_t = 100)]
    pages: usize,
    /// Number of hosts (one port each).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    hosts: u16,
    /// Outlinks per page.
    #[arg(long, default_value_t = 8)]
    links: usize,
    /// Approximate page size in bytes.
    #[arg(long, default_value_t = 2048)]
    page_bytes: usize,
    /// Latency added before each response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Port of the first host (host h gets port + h); 0 picks random ports.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the link generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let spec = SiteSpec {
        pages: args.pages,
        hosts: usize::from(args.hosts),
        links_per_page: args.links,
        page_bytes: args.page_bytes,
        latency: Duration::from_millis(args.latency_ms),
        seed: args.seed,
        ..SiteSpec::default()
    };
    let site = match TestSite::start_on(spec, None, args.port).await {
        Ok(site) => site,
        Err(e) => {
            eprintln!("trawl-testsite: {e}");
            return ExitCode::from(if e.kind() == std::io::ErrorKind::InvalidInput {
                2
            } else {
                1
            });
        }
    };
    let mut out = std::io::stdout().lock();
    for h in 0..site.host_count() {
        let _ = writeln!(out, "{}", site.base_url(h));
    }
    let _ = writeln!(out, "{}", site.seed_url());
    let _ = out.flush();
    drop(out);
    let _ = tokio::signal::ctrl_c().await;
    site.shutdown().await;
    ExitCode::SUCCESS
}
