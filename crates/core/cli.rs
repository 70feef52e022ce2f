//! The command line: clap definitions of `trawl`'s commands and flags, and how flags override the
//! config file (defaults < config file < flags).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use trawl::{Config, Error};

/// trawl: an async web crawler with a crash-safe store.
#[derive(Debug, Parser)]
#[command(name = "trawl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Crawl everything in scope reachable from the seed URLs into a store.
    Crawl(CrawlCommand),
    /// Continue the crawl saved in a store (after Ctrl-C, a crash or a page limit).
    Resume(ResumeCommand),
    /// Write the store's pages as JSON Lines, CSV or WARC.
    Export(ExportCommand),
    /// Print the store's counters (and, with --hosts, what each host saw).
    Stats(StatsCommand),
    /// Check every invariant of a store; exit 1 if any is violated.
    Verify(VerifyCommand),
    /// Measure a crawl against a local server: pages/s, MB/s, latency, CPU, peak RSS, store size.
    Bench(BenchCommand),
    /// Serve a synthetic site for `trawl bench` (prints the seed URL; stops when stdin closes).
    #[command(hide = true)]
    ServeSite(ServeSiteCommand),
    /// Serve a directory for `trawl bench dir` (prints the seed URL; stops when stdin closes).
    #[command(hide = true)]
    ServeDir(ServeDirCommand),
    /// Build the store `trawl bench resume` resumes (in a process of its own, so that the
    /// bench's peak RSS is the resumed crawl's alone).
    #[command(hide = true)]
    BenchFill(BenchFillCommand),
}

#[derive(Debug, Args)]
pub struct BenchCommand {
    /// What to measure: flat (20,000 pages, 4 hosts, no latency), latency (10,000 pages, 8 hosts,
    /// 20 ms each), scale-1m (1,000,000 pages), resume (open a store of --known URLs and crawl
    /// on), dir (the files under PATH, e.g. the Rust docs).
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// The directory to serve, for `dir`.
    pub path: Option<PathBuf>,
    /// Pages in the site (flat, latency, scale-1m) or to crawl (dir, resume).
    #[arg(long, value_name = "N")]
    pub pages: Option<usize>,
    /// URLs the store knows before `resume` [default: 1000000].
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub known: usize,
    /// Requests in flight (also the per-host cap, lifted to match).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub concurrency: usize,
    /// Keep the store here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Start from this TOML config (as `crawl --config`); the scenario still sets the seeds, the
    /// store, `--concurrency` and the per-host cap.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `trawl bench` scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// A synthetic site without latency.
    Flat,
    /// A synthetic site answering each request after 20 ms.
    Latency,
    /// A million-page synthetic site.
    #[value(name = "scale-1m")]
    Scale1m,
    /// Resuming a store with many known URLs.
    Resume,
    /// A directory of real pages.
    Dir,
}

#[derive(Debug, Args)]
pub struct ServeSiteCommand {
    #[arg(long, default_value_t = 20_000)]
    pub pages: usize,
    #[arg(long, default_value_t = 1)]
    pub hosts: usize,
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
}

#[derive(Debug, Args)]
pub struct ServeDirCommand {
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchFillCommand {
    /// The site's origin, e.g. http://127.0.0.1:PORT.
    #[arg(long)]
    pub base: String,
    #[arg(long)]
    pub known: usize,
    #[arg(long)]
    pub store: PathBuf,
    #[arg(long)]
    pub concurrency: usize,
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CrawlCommand {
    /// Seed URLs (absolute http or https URLs).
    #[arg(value_name = "URL")]
    pub seeds: Vec<String>,
    /// Store directory (created if missing; must not hold a crawl already).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// TOML config file; flags override it (see config/default.toml for every key).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub options: CrawlOptions,
}

#[derive(Debug, Args)]
pub struct ResumeCommand {
    /// Store directory of the crawl to continue.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub options: CrawlOptions,
}

/// Flags shared by `crawl` and `resume`.
#[derive(Debug, Args, Default)]
pub struct CrawlOptions {
    /// Requests in flight at once [default: 64].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Requests in flight per host (scheme, host and port) [default: 2].
    #[arg(long, value_name = "N")]
    pub per_host: Option<usize>,
    /// Least time between two requests to one host, e.g. 250ms or 1s [default: 0s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Deepest link depth to follow (seeds are depth 0).
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// Stop after this many pages (counting earlier runs of the crawl).
    #[arg(long, value_name = "N")]
    pub max_pages: Option<u64>,
    /// Which hosts to follow links to [default: host].
    #[arg(long, value_enum, value_name = "SCOPE")]
    pub scope: Option<ScopeArg>,
    /// Only follow URLs matching this regex (repeatable; any may match).
    #[arg(long, value_name = "REGEX")]
    pub include: Vec<String>,
    /// Never follow URLs matching this regex (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub exclude: Vec<String>,
    /// User-Agent header to send [default: trawl/VERSION (+URL)].
    #[arg(long, value_name = "S")]
    pub user_agent: Option<String>,
    /// Extra trusted root certificate (PEM file), e.g. for a local HTTPS server (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
    /// Do not fetch or obey robots.txt (be sure you may).
    #[arg(long)]
    pub ignore_robots: bool,
    /// Retries of a URL after a connect error, timeout, 408, 429 or 5xx [default: 2].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Adapt each host's delay to its latency.
    #[arg(long)]
    pub auto_throttle: bool,
    /// Send requests through this HTTP proxy (CONNECT for https), e.g. http://proxy:3128.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Add a header to every request, e.g. 'X-Team: search' (repeatable).
    #[arg(long, value_name = "'NAME: VALUE'")]
    pub header: Vec<String>,
    /// Most redirect hops followed from one URL [default: 10].
    #[arg(long, value_name = "N")]
    pub max_redirects: Option<u32>,
    /// Also seed from the sitemaps of each seed host (robots.txt Sitemap: lines, /sitemap.xml).
    #[arg(long)]
    pub sitemaps: bool,
    /// No progress display and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExportCommand {
    /// Store directory to read.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Include each page's body (`body`, or `body_base64` when it is not UTF-8; JSONL only).
    #[arg(long)]
    pub with_body: bool,
    /// Output format [default: jsonl, or warc when --output ends in .warc or .warc.gz].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ExportFormat>,
    /// Compress each WARC record with gzip (implied by an --output ending in .warc.gz).
    #[arg(long)]
    pub gzip: bool,
    /// Write the records the [[extract]] rules made instead of pages, one JSON object per line.
    #[arg(long, conflicts_with_all = ["format", "with_body"])]
    pub records: bool,
}

/// `export --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per page.
    Jsonl,
    /// One row per page, with a header row.
    Csv,
    /// WARC 1.1: a warcinfo record, then a request and a response record per page.
    Warc,
}

#[derive(Debug, Args)]
pub struct VerifyCommand {
    /// Store directory to check.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatsCommand {
    /// Store directory to read.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    /// Per host: requests, errors, retries, robots-blocked URLs, the delay in force and the
    /// highest request rate the host saw.
    #[arg(long)]
    pub hosts: bool,
}

/// `--scope` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// The seeds' host names, any port.
    Host,
    /// The seeds' domains and their subdomains.
    Domain,
    /// Any host.
    Any,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|err| format!("{err} (write e.g. 500ms, 2s or 1m)"))
}

impl CrawlCommand {
    /// The effective configuration: defaults, then the config file, then the flags.
    pub fn config(&self) -> Result<Config, Error> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if !self.seeds.is_empty() {
            config.crawl.seeds = self.seeds.clone();
        }
        if let Some(store) = &self.store {
            config.crawl.store_dir = store.clone();
        }
        self.options.apply(&mut config)?;
        Ok(config)
    }
}

impl CrawlOptions {
    /// Overrides `config` with the flags that were given.
    pub fn apply(&self, config: &mut Config) -> Result<(), Error> {
        if let Some(n) = self.concurrency {
            config.crawl.concurrency = n;
        }
        if let Some(n) = self.per_host {
            config.frontier.per_host = n;
        }
        if let Some(delay) = self.delay {
            config.frontier.delay = delay;
        }
        if let Some(depth) = self.max_depth {
            config.frontier.max_depth = Some(depth);
        }
        if let Some(pages) = self.max_pages {
            config.frontier.max_pages = Some(pages);
        }
        if let Some(scope) = self.scope {
            config.frontier.scope = match scope {
                ScopeArg::Host => trawl_frontier::ScopeMode::Host,
                ScopeArg::Domain => trawl_frontier::ScopeMode::Domain,
                ScopeArg::Any => trawl_frontier::ScopeMode::Any,
            };
        }
        if !self.include.is_empty() {
            config.frontier.include = self.include.clone();
        }
        if !self.exclude.is_empty() {
            config.frontier.exclude = self.exclude.clone();
        }
        if let Some(agent) = &self.user_agent {
            config.fetcher.user_agent = agent.clone();
        }
        if !self.ca_cert.is_empty() {
            config.fetcher.ca_certs = self.ca_cert.clone();
        }
        if self.ignore_robots {
            config.fetcher.obey_robots = false;
        }
        if let Some(retries) = self.retries {
            config.frontier.retries = retries;
        }
        if self.auto_throttle {
            config.frontier.auto_throttle = true;
        }
        if self.sitemaps {
            config.crawl.sitemaps = true;
        }
        if let Some(hops) = self.max_redirects {
            config.crawl.max_redirects = hops;
        }
        if let Some(proxy) = &self.proxy {
            config.fetcher.proxy = Some(proxy.clone());
        }
        for header in &self.header {
            let (name, value) = trawl_fetcher::parse_header_arg(header)
                .map_err(|err| Error::Usage(format!("--header {header:?}: {err}")))?;
            config.fetcher.headers.insert(name, value);
        }
        Ok(())
    }
}
