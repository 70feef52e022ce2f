//! Parser settings: the `[parser]` section of the TOML config.

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// Parser settings (TOML section `[parser]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParserConfig {
    /// Most links kept per page (after de-duplication); further distinct links are dropped and
    /// counted in `Parsed::dropped_links`. Must be at least 1.
    pub max_outlinks: usize,
    /// Longest URL kept, in bytes after canonicalisation; longer ones are dropped and counted in
    /// `Parsed::dropped_links`. Must be at least 1.
    pub max_url_len: usize,
}

impl ParserConfig {
    /// Default for [`ParserConfig::max_outlinks`].
    pub const DEFAULT_MAX_OUTLINKS: usize = 1000;
    /// Default for [`ParserConfig::max_url_len`].
    pub const DEFAULT_MAX_URL_LEN: usize = 2048;

    /// Checks the values once at start-up.
    pub fn validate(&self) -> Result<(), ParseError> {
        if self.max_outlinks == 0 {
            return Err(ParseError::InvalidConfig {
                field: "max_outlinks",
                reason: "must be at least 1 (0 would keep no links at all)".into(),
            });
        }
        if self.max_url_len == 0 {
            return Err(ParseError::InvalidConfig {
                field: "max_url_len",
                reason: "must be at least 1 (0 would drop every URL)".into(),
            });
        }
        Ok(())
    }
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            max_outlinks: Self::DEFAULT_MAX_OUTLINKS,
            max_url_len: Self::DEFAULT_MAX_URL_LEN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values_and_valid() {
        let c = ParserConfig::default();
        assert_eq!(c.max_outlinks, 1000);
        assert_eq!(c.max_url_len, 2048);
        c.validate().unwrap();
    }

    #[test]
    fn zero_values_are_rejected_with_field_name() {
        let c = ParserConfig {
            max_outlinks: 0,
            ..ParserConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("max_outlinks"), "{e}");
        let c = ParserConfig {
            max_url_len: 0,
            ..ParserConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("max_url_len"), "{e}");
    }
}
