//! `trawl` as a library: configure a crawl in code, run it on your tokio runtime, and read its
//! pages from a bounded stream as they are committed to the store.
//!
//! The pipeline (see `../shared/design.md`): a frontier task ([`trawl_frontier`]) hands jobs to a
//! fetch stage ([`trawl_fetcher`]: pooled hyper-util client, robots.txt), a parse stage
//! ([`trawl_parser`], on the blocking pool) and a persist stage, the single batched writer to the
//! store ([`trawl_store`]). Every channel between them is bounded.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use trawl::{Config, Crawl};
//! use trawl_testsite::{SiteSpec, TestSite};
//!
//! // A local 30-page site to crawl (any http(s) site works the same way).
//! let site = TestSite::start(SiteSpec { pages: 30, ..SiteSpec::default() }).await?;
//! let store = tempfile::tempdir()?;
//!
//! let mut config = Config::default();
//! config.crawl.seeds = vec![site.seed_url()];
//! config.crawl.store_dir = store.path().join("crawl.trawl");
//! config.frontier.max_pages = Some(10);
//!
//! let mut run = Crawl::new(config).await?.start();
//! let mut titles = Vec::new();
//! while let Some(page) = run.next_page().await {
//!     titles.push(page.title.unwrap_or_default());
//! }
//! let summary = run.finish().await?;
//! assert_eq!(summary.pages, 10);
//! assert!(titles.iter().any(|title| title.starts_with("Page")));
//! # Ok(())
//! # }
//! ```

mod config;
mod engine;
mod error;
mod export;
mod store_access;

pub use config::{parse_seed, Config, CrawlConfig, CrawlPlan};
pub use engine::{human_bytes, peak_rss_bytes, Crawl, CrawlRun, CrawledPage, LiveStats, Summary};
pub use error::Error;
pub use export::{export_csv, export_jsonl, export_records, export_warc, Exported};
pub use store_access::{bench_support, load_config, open_store, save_config, store_size};

pub use trawl_fetcher as fetcher;
pub use trawl_frontier as frontier;
pub use trawl_parser as parser;
pub use trawl_store as store;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
