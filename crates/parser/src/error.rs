//! The crate's single error type, [`ParseError`].
//!
//! Extraction itself never fails (bad bytes give an emptier [`crate::Parsed`]); errors come from
//! invalid configuration (settings, extraction rules), from parsing caller-supplied URLs such as
//! seeds, and from sitemaps that are malformed or too large.

/// Everything that can go wrong in `trawl-parser`.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// A [`crate::ParserConfig`] field has a value the parser cannot work with.
    #[error("invalid parser config: `{field}` {reason}")]
    InvalidConfig {
        /// The offending field, as named in the TOML `[parser]` section.
        field: &'static str,
        /// Why the value was rejected.
        reason: String,
    },
    /// A URL string could not be parsed.
    #[error("invalid URL {url:?}")]
    InvalidUrl {
        /// The input as given.
        url: String,
        /// The underlying parse failure.
        #[source]
        source: url::ParseError,
    },
    /// A URL parsed but cannot be crawled (not http/https).
    #[error("URL {url:?} is not crawlable: only http and https are supported")]
    UnsupportedScheme {
        /// The input as given.
        url: String,
    },
    /// An extraction rule (`[[extract]]` in the config) is invalid: a bad URL regex, CSS
    /// selector or `take`.
    #[error("extract rule #{rule} (url {url:?}){}: {message}", field_suffix(.field))]
    Rule {
        /// The rule's index in the list given to [`crate::Extractor::new`].
        rule: usize,
        /// The rule's `url` pattern, to find it in the config file.
        url: String,
        /// The field at fault; `None` when the rule as a whole is (its `url` regex).
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A sitemap is larger than [`crate::SitemapLimits::max_bytes`] (after decompression).
    #[error("sitemap {url} is larger than the limit of {limit} bytes")]
    SitemapTooLarge {
        /// The sitemap's URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A sitemap could not be read: bad gzip data, malformed XML, or not a sitemap at all.
    #[error("sitemap {url} is invalid: {reason}")]
    SitemapInvalid {
        /// The sitemap's URL.
        url: String,
        /// What is wrong.
        reason: String,
        /// The underlying gzip or XML error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

fn field_suffix(field: &Option<String>) -> String {
    field
        .as_ref()
        .map_or_else(String::new, |f| format!(", field `{f}`"))
}
