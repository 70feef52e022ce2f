//! Fetch one URL politely: check robots.txt first, then GET it and print status, headers and
//! body size.
//!
//! ```text
//! cargo run -p trawl-fetcher --example fetch -- https://example.com/
//! cargo run -p trawl-fetcher --example fetch -- --proxy http://127.0.0.1:3128 \
//!     --header 'X-Team: search' https://example.com/
//! ```

use trawl_fetcher::{parse_header_arg, Fetcher, FetcherConfig, RobotsVerdict};

const USAGE: &str =
    "usage: fetch [--proxy http://[user:pass@]host:port] [--header 'K: V']... <URL>";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = FetcherConfig::default();
    let mut target = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--proxy" => config.proxy = args.next(),
            "--header" => {
                let (name, value) = parse_header_arg(&args.next().unwrap_or_default())?;
                config.headers.insert(name, value);
            }
            _ if target.is_none() && !arg.starts_with("--") => target = Some(arg),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let Some(arg) = target else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let url = url::Url::parse(&arg)?;
    let fetcher = Fetcher::new(config)?;

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
    if let Some(wait) = page.retry_after {
        println!("retry after: {wait:?}");
    }
    println!("body: {} bytes in {:?}", page.body.len(), page.elapsed);
    Ok(())
}
