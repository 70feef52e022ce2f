//! Seeding from sitemaps (`--sitemaps`): for each seed host, the sitemaps its robots.txt names and
//! /sitemap.xml are fetched and parsed (XML urlsets, nested indexes up to the depth limit,
//! plain-text lists, gzip); their URLs join the crawl at depth 0 with their `lastmod`, if scope
//! allows them. robots.txt still applies when they are fetched.

use std::collections::{HashSet, VecDeque};

use trawl_fetcher::{Fetcher, RobotsVerdict};
use trawl_frontier::Scope;
use trawl_parser::{parse_sitemap, Canonicalizer, Sitemap, SitemapLimits};
use trawl_store::NewUrl;
use url::Url;

/// Most sitemap files fetched for one crawl (indexes can name thousands).
const MAX_SITEMAP_FILES: usize = 1_000;

/// What sitemap discovery found.
#[derive(Debug, Default)]
pub(crate) struct SitemapHarvest {
    pub(crate) urls: Vec<NewUrl>,
    pub(crate) files: usize,
    pub(crate) failed_files: usize,
    pub(crate) out_of_scope: u64,
}

/// Fetches and parses the sitemaps of the seeds' hosts.
pub(crate) async fn harvest(
    fetcher: &Fetcher,
    seeds: &[Url],
    canonicalizer: &Canonicalizer,
    scope: &Scope,
) -> SitemapHarvest {
    let limits = SitemapLimits::default();
    let mut harvest = SitemapHarvest::default();
    let mut queued_files: HashSet<String> = HashSet::new();
    let mut files: VecDeque<(Url, usize)> = VecDeque::new();
    let mut seen_urls: HashSet<String> = HashSet::new();
    let mut origins = HashSet::new();
    for seed in seeds {
        if !origins.insert(seed.origin().ascii_serialization()) {
            continue;
        }
        // robots.txt is fetched (and cached) here; its Sitemap: lines come with it.
        let _ = fetcher.robots(seed).await;
        let mut candidates = fetcher.sitemaps(seed);
        if let Ok(default) = seed.join("/sitemap.xml") {
            candidates.push(default);
        }
        for candidate in candidates {
            if queued_files.insert(candidate.to_string()) {
                files.push_back((candidate, 0));
            }
        }
    }
    while let Some((file, depth)) = files.pop_front() {
        if harvest.files >= MAX_SITEMAP_FILES {
            tracing::warn!(
                limit = MAX_SITEMAP_FILES,
                "too many sitemap files; the rest are skipped"
            );
            break;
        }
        if !matches!(fetcher.robots(&file).await, RobotsVerdict::Allowed { .. }) {
            continue;
        }
        harvest.files += 1;
        let parsed = match fetcher.fetch(&file).await {
            Ok(fetched) if fetched.status.is_success() => {
                parse_sitemap(&fetched.body, fetched.content_type(), &file, &limits)
                    .map_err(|err| err.to_string())
            }
            Ok(fetched) => Err(format!("status {}", fetched.status)),
            Err(err) => Err(err.to_string()),
        };
        let sitemap = match parsed {
            Ok(sitemap) => sitemap,
            Err(reason) => {
                // /sitemap.xml is only a guess: a 404 there is no news.
                tracing::debug!(sitemap = %file, %reason, "sitemap not used");
                harvest.failed_files += 1;
                continue;
            }
        };
        match sitemap {
            Sitemap::Index { .. } => {
                if depth + 1 >= limits.max_depth {
                    tracing::warn!(sitemap = %file, "sitemap index nested too deep; not followed");
                    continue;
                }
                for child in sitemap.entries() {
                    if queued_files.insert(child.url.to_string()) {
                        files.push_back((child.url.clone(), depth + 1));
                    }
                }
            }
            Sitemap::Urls { .. } => {
                for entry in sitemap.entries() {
                    let Some(url) = canonicalizer.canonicalize(&entry.url) else {
                        continue;
                    };
                    if scope.check(&url, 0).is_err() {
                        harvest.out_of_scope += 1;
                        continue;
                    }
                    if !seen_urls.insert(url.to_string()) {
                        continue;
                    }
                    harvest.urls.push(NewUrl {
                        host_key: trawl_fetcher::host_key(&url),
                        url: url.to_string(),
                        depth: 0,
                        found_on: Some(file.to_string()),
                        redirect_hops: 0,
                        lastmod: entry.lastmod.clone(),
                    });
                }
            }
        }
    }
    harvest
}
