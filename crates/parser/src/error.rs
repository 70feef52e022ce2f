//! The crate's single error type, [`ParseError`].
//!
//! Extraction itself never fails (bad bytes give an emptier [`crate::Parsed`]); errors come from
//! invalid configuration and from parsing caller-supplied URLs such as seeds.

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
}
