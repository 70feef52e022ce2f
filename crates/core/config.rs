//! The crawl's configuration: one struct made of each stage crate's own section, loaded from TOML,
//! overridden by CLI flags, and validated once at start-up into the typed [`CrawlPlan`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use trawl_fetcher::FetcherConfig;
use trawl_frontier::{FrontierConfig, Scope};
use trawl_parser::{Canonicalizer, ExtractRule, Extractor, ParserConfig};
use trawl_store::StoreConfig;
use url::Url;

use crate::Error;

/// Everything a crawl is configured by. `config/default.toml` lists every key with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seeds, the store and the pipeline's sizes.
    pub crawl: CrawlConfig,
    /// Scheduling, politeness and scope.
    pub frontier: FrontierConfig,
    /// HTTP fetching.
    pub fetcher: FetcherConfig,
    /// Link and title extraction.
    pub parser: ParserConfig,
    /// The durable store.
    pub store: StoreConfig,
    /// Data extraction rules (`[[extract]]` tables): on pages whose URL matches, a record is made
    /// from CSS selectors and stored with the page (`trawl export --records`).
    pub extract: Vec<ExtractRule>,
}

/// The `[crawl]` section: what to crawl, where to keep it and how wide the pipeline is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlConfig {
    /// Start URLs (absolute http or https URLs).
    pub seeds: Vec<String>,
    /// Directory of the store (created if missing).
    pub store_dir: PathBuf,
    /// Requests in flight at once across all hosts (pages being parsed and stored may add a quarter
    /// as many).
    pub concurrency: usize,
    /// Threads parsing HTML at once; 0 = one per CPU core.
    pub parse_workers: usize,
    /// Most pages committed to the store in one transaction.
    pub commit_batch: usize,
    /// Shortest time between the starts of two group commits: pages that land meanwhile wait and
    /// are committed together. Fewer, larger groups cost less CPU per page (one segment sync, one
    /// database flush and one round of wake-ups each); 0 commits each page as soon as it is ready.
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    /// How long in-flight pages may take to finish after Ctrl-C before they are abandoned (they stay
    /// queued and are fetched again on resume).
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
    /// Most redirect hops followed from one URL.
    pub max_redirects: u32,
    /// Keep response bodies in the store.
    pub store_bodies: bool,
    /// Also seed the crawl from each seed host's sitemaps (robots.txt `Sitemap:` lines and
    /// /sitemap.xml); their URLs still pass scope and robots.txt.
    pub sitemaps: bool,
}

/// The group commit's default interval. Measured against 0 (commit whatever is waiting at once)
/// on the Rust docs served by nginx (README, "Benchmarks"), 8 interleaved rounds each, medians:
/// 2 ms took the 20,000-page crawl from 5,412 to 5,510 pages/s and 5.59 to 5.45 CPU seconds, and
/// the default-config crawl from 4,626 to 4,696 pages/s and 4.90 to 4.49 CPU seconds. 3 ms saved
/// more CPU (9%) but cost the default-config crawl 5% of its rate: pages waiting for their group
/// count against the pages in flight.
const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(2);

/// The longest group-commit interval accepted: every page waits up to this long to be stored, and
/// while it waits it counts against the pages in flight.
const MAX_COMMIT_INTERVAL: Duration = Duration::from_secs(1);

impl Default for CrawlConfig {
    fn default() -> Self {
        CrawlConfig {
            seeds: Vec::new(),
            store_dir: PathBuf::from("trawl.store"),
            concurrency: 64,
            parse_workers: 0,
            commit_batch: 512,
            commit_interval: DEFAULT_COMMIT_INTERVAL,
            grace_period: Duration::from_secs(10),
            max_redirects: 10,
            store_bodies: true,
            sitemaps: false,
        }
    }
}

impl Config {
    /// Reads a TOML config file; unknown keys and wrong types are errors that name the key.
    pub fn from_file(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            Error::Usage(format!(
                "cannot read config file {}: {source}",
                path.display()
            ))
        })?;
        Config::from_toml(&text)
            .map_err(|message| Error::Usage(format!("config file {}: {message}", path.display())))
    }

    /// Parses TOML text; the error is one line naming the offending key.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|err| {
            let message = err.message().trim().replace('\n', " ");
            match err.span().map(|span| line_of(text, span.start)) {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })
    }

    /// Validates the configuration into a plan: seeds parsed and canonicalised, patterns compiled,
    /// numbers in range. Every problem is a usage error with a one-line message.
    pub fn plan(&self) -> Result<CrawlPlan, Error> {
        if self.crawl.seeds.is_empty() {
            return Err(Error::Usage(
                "no seed URL given; name at least one, e.g. `trawl crawl https://example.org/`"
                    .into(),
            ));
        }
        self.parser
            .validate()
            .map_err(|err| Error::Usage(err.to_string()))?;
        let canonicalizer = Canonicalizer::new(&self.parser);
        let mut seeds = Vec::new();
        for seed in &self.crawl.seeds {
            seeds.push(parse_seed(seed, &canonicalizer)?);
        }
        if self.crawl.concurrency == 0 {
            return Err(Error::Usage("--concurrency must be at least 1".into()));
        }
        if self.crawl.commit_batch == 0 {
            return Err(Error::Usage("crawl.commit_batch must be at least 1".into()));
        }
        if self.crawl.commit_interval > MAX_COMMIT_INTERVAL {
            return Err(Error::Usage(format!(
                "crawl.commit_interval must be at most {} (pages wait this long for their group \
                 commit); use a few milliseconds, e.g. \"2ms\"",
                humantime::format_duration(MAX_COMMIT_INTERVAL)
            )));
        }
        if self.fetcher.body_bytes_in_flight == 0 {
            return Err(Error::Usage(
                "fetcher.body_bytes_in_flight must be at least 1 (bytes of bodies read at once)"
                    .into(),
            ));
        }
        self.frontier
            .validate()
            .map_err(|err| Error::Usage(err.to_string()))?;
        let per_host = self.frontier.per_host.min(self.crawl.concurrency);
        if per_host > self.fetcher.pool_max_idle_per_host {
            tracing::warn!(
                "fetcher.pool_max_idle_per_host ({}) is below the {per_host} requests one host may \
                 get at once: the connections beyond it are closed when idle and opened again; \
                 set pool_max_idle_per_host = {per_host} to reuse them",
                self.fetcher.pool_max_idle_per_host
            );
        }
        let extractor = if self.extract.is_empty() {
            None
        } else {
            let extractor = Extractor::new(&self.extract)
                .map_err(|err| Error::Usage(format!("[[extract]] rule: {err}")))?;
            Some(extractor)
        };
        let scope =
            Scope::new(&self.frontier, &seeds).map_err(|err| Error::Usage(err.to_string()))?;
        let parse_workers = match self.crawl.parse_workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Ok(CrawlPlan {
            seeds,
            scope,
            parse_workers,
            canonicalizer,
            extractor,
        })
    }
}

/// The validated, typed form of a [`Config`].
#[derive(Debug, Clone)]
pub struct CrawlPlan {
    /// Canonical seed URLs.
    pub seeds: Vec<Url>,
    /// Compiled scope rules.
    pub scope: Scope,
    /// Parse threads to use.
    pub parse_workers: usize,
    /// URL identity (with the configured query-parameter stripping and sorting).
    pub canonicalizer: Canonicalizer,
    /// Compiled extraction rules, if any.
    pub extractor: Option<Extractor>,
}

impl CrawlPlan {
    /// The parser for this crawl: with the extraction rules, if any.
    pub fn parser(&self, config: &ParserConfig) -> trawl_parser::Parser {
        match &self.extractor {
            Some(extractor) => {
                trawl_parser::Parser::with_extractor(config.clone(), extractor.clone())
            }
            None => trawl_parser::Parser::new(config.clone()),
        }
    }
}

/// Parses one seed: an absolute http(s) URL, canonicalised.
pub fn parse_seed(text: &str, canonicalizer: &Canonicalizer) -> Result<Url, Error> {
    let url = Url::parse(text.trim()).map_err(|err| {
        Error::Usage(format!(
            "seed {text:?} is not a URL ({err}); give an absolute URL such as https://example.org/"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Usage(format!(
            "seed {text:?} is a {} URL; trawl crawls only http and https URLs",
            url.scheme()
        )));
    }
    canonicalizer.canonicalize(&url).ok_or_else(|| {
        Error::Usage(format!(
            "seed {text:?} has no host; give an absolute URL such as https://example.org/"
        ))
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toml_equals_the_default_impls() {
        let text = include_str!("../../config/default.toml");
        let parsed = Config::from_toml(text).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn default_toml_documents_every_key() {
        // Serialising the defaults gives every key that has a value; each must appear in
        // default.toml (commented out where the default is "none").
        let text = include_str!("../../config/default.toml");
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        let mut missing = Vec::new();
        for (section, table) in defaults.as_table().unwrap() {
            let Some(table) = table.as_table() else {
                // A list of tables ([[extract]]): documented as a commented example.
                assert!(
                    text.contains(&format!("# [[{section}]]")),
                    "[[{section}]] example missing"
                );
                continue;
            };
            assert!(
                text.contains(&format!("[{section}]")),
                "section [{section}] missing"
            );
            for key in table.keys() {
                let documented = text.lines().any(|line| {
                    line.trim_start_matches(['#', ' '])
                        .starts_with(&format!("{key} ="))
                });
                if !documented {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from config/default.toml: {missing:?}"
        );
    }

    #[test]
    fn a_zero_body_budget_is_a_usage_error_that_names_the_key() {
        let mut config = Config::default();
        config.crawl.seeds = vec!["http://example.com/".into()];
        config.fetcher.body_bytes_in_flight = 0;
        match config.plan() {
            Err(Error::Usage(message)) => {
                assert!(
                    message.contains("fetcher.body_bytes_in_flight"),
                    "{message}"
                )
            }
            other => panic!("expected a usage error, got {:?}", other.err()),
        }
    }

    #[test]
    fn a_commit_interval_over_a_second_is_a_usage_error_that_names_the_key() {
        let config = Config::from_toml(
            "[crawl]\nseeds = [\"http://example.com/\"]\ncommit_interval = \"2s\"\n",
        )
        .expect("parses");
        assert_eq!(config.crawl.commit_interval, Duration::from_secs(2));
        match config.plan() {
            Err(Error::Usage(message)) => {
                assert!(message.contains("crawl.commit_interval"), "{message}");
                assert!(message.contains("at most 1s"), "{message}");
            }
            other => panic!("expected a usage error, got {:?}", other.err()),
        }
        let mut config = config;
        config.crawl.commit_interval = Duration::ZERO;
        assert!(config.plan().is_ok(), "0ms commits every page at once");
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = Config::from_toml("[crawl]\nconcurrency = 4\nconcurency = 5\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("concurency"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn bad_seeds_are_usage_errors() {
        for seed in ["not a url", "ftp://example.org/", "mailto:x@example.org"] {
            let err = parse_seed(seed, &Canonicalizer::default()).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{seed}: {err}");
            assert!(err.to_string().contains(seed), "{err}");
        }
        assert_eq!(
            parse_seed("HTTP://Example.ORG:80/a/../b#x", &Canonicalizer::default())
                .unwrap()
                .as_str(),
            "http://example.org/b"
        );
    }

    #[test]
    fn a_bad_extraction_selector_names_the_rule_and_field() {
        let config = Config::from_toml(
            "[crawl]\nseeds = [\"https://shop.example/\"]\n[[extract]]\nurl = \"^https://shop\\\\.example/p/\"\nfields.name = { css = \"h1[\", take = \"text\" }\n",
        )
        .unwrap();
        let err = config.plan().unwrap_err().to_string();
        assert!(err.contains("name") && err.contains("shop"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn example_configs_parse_and_plan() {
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config")).unwrap() {
            let path = entry.unwrap().path();
            let config =
                Config::from_file(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            if !config.crawl.seeds.is_empty() {
                config
                    .plan()
                    .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            }
        }
    }
}
