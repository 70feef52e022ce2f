//! Fetch one URL politely: check robots.txt first, then GET it and print status, headers and
//! body size.
//!
//! ```text
//! cargo run -p trawl-fetcher --example fetch -- https://example.com/
//! ```

use trawl_fetcher::{Fetcher, FetcherConfig, RobotsVerdict};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("usage: fetch <URL>");
        std::process::exit(2);
    };
    let url = url::Url::parse(&arg)?;
    let fetcher = Fetcher::new(FetcherConfig::default())?;

    match fetcher.robots(&url).await {
        RobotsVerdict::Allowed { crawl_delay } => {
            if let Some(delay) = crawl_delay {
                println!("robots.txt: allowed (crawl-delay {delay:?})");
            } else {
                println!("robots.txt: allowed");
            }
        }
        RobotsVerdict::Disallowed => {
            eprintln!("robots.txt disallows {url}");
            std::process::exit(1);
        }
        RobotsVerdict::Unreachable { reason } => {
            eprintln!("robots.txt unreachable ({reason}); not fetching {url}");
            std::process::exit(1);
        }
    }
    for sitemap in fetcher.sitemaps(&url) {
        println!("sitemap: {sitemap}");
    }

    let page = fetcher.fetch(&url).await?;
    println!("{:?} {}", page.version, page.status);
    for (name, value) in &page.headers {
        println!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
    }
    if let Some(target) = &page.redirect_to {
        println!("redirect to: {target}");
    }
    println!("body: {} bytes in {:?}", page.body.len(), page.elapsed);
    Ok(())
}
