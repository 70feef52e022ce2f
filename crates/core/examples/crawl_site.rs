//! Crawl a site with the `trawl` library and print one line per page as it is committed.
//!
//! ```text
//! cargo run --example crawl_site -- https://docs.example.org/ ./docs.trawl 100
//! ```

use futures::StreamExt;
use trawl::{Config, Crawl};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(seed), Some(store)) = (args.next(), args.next()) else {
        eprintln!("usage: crawl_site SEED_URL STORE_DIR [MAX_PAGES]");
        std::process::exit(2);
    };
    let mut config = Config::default();
    config.crawl.seeds = vec![seed];
    config.crawl.store_dir = store.into();
    config.frontier.max_pages = args.next().map(|n| n.parse()).transpose()?;

    let mut run = Crawl::new(config).await?.start();
    while let Some(page) = run.next().await {
        let status = page
            .status
            .map_or_else(|| "---".to_string(), |s| s.to_string());
        let title = page.title.as_deref().unwrap_or("");
        match &page.error {
            Some((kind, message)) => println!("ERR {} {kind}: {message}", page.url),
            None => println!(
                "{status} {} {title} (+{} new links)",
                page.url, page.newly_queued
            ),
        }
    }
    let summary = run.finish().await?;
    eprint!("{}", summary.render());
    Ok(())
}
