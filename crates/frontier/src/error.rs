//! The frontier's error type: invalid scope settings found at start-up.

/// What can go wrong when the frontier is configured.
#[derive(Debug, thiserror::Error)]
pub enum FrontierError {
    /// An `--include` / `--exclude` pattern is not a valid regular expression.
    #[error("invalid {which} pattern {pattern:?}: {source}")]
    Pattern {
        /// `include` or `exclude`.
        which: &'static str,
        /// The pattern as given.
        pattern: String,
        /// The regex compiler's complaint.
        #[source]
        source: regex::Error,
    },
    /// A seed URL has no host name, so host or domain scope cannot be derived from it.
    #[error("seed {url} has no host name; scope needs one")]
    SeedWithoutHost {
        /// The offending seed.
        url: String,
    },
    /// A numeric setting is out of range.
    #[error("frontier setting {key} = {value} is invalid: {reason}")]
    Setting {
        /// The config key.
        key: &'static str,
        /// The value given.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
}
