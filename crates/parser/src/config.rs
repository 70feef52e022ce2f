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
    /// Query parameters removed from every link during canonicalisation: patterns matched
    /// case-insensitively against parameter NAMES, `*` matching any run of characters
    /// (`"utm_*"`). When a pattern matches `jsessionid`, `;jsessionid=...` path parameters are
    /// removed too. `[]` keeps every parameter.
    pub strip_query_params: Vec<String>,
    /// Sort query parameters by name (stable: repeated names keep their order) during
    /// canonicalisation, so `?b=2&a=1` and `?a=1&b=2` are one URL. Off by default because some
    /// sites give parameter order a meaning.
    pub sort_query: bool,
}

impl ParserConfig {
    /// Default for [`ParserConfig::max_outlinks`].
    pub const DEFAULT_MAX_OUTLINKS: usize = 1000;
    /// Default for [`ParserConfig::max_url_len`].
    pub const DEFAULT_MAX_URL_LEN: usize = 2048;
    /// Default for [`ParserConfig::strip_query_params`]: tracking and session parameters.
    pub const DEFAULT_STRIP_QUERY_PARAMS: [&'static str; 6] =
        ["utm_*", "jsessionid", "phpsessid", "sid", "fbclid", "gclid"];

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
        if let Some(i) = self.strip_query_params.iter().position(|p| p.is_empty()) {
            return Err(ParseError::InvalidConfig {
                field: "strip_query_params",
                reason: format!("entry {i} is empty (use \"*\" to strip every parameter)"),
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
            strip_query_params: Self::DEFAULT_STRIP_QUERY_PARAMS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            sort_query: false,
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
        assert_eq!(
            c.strip_query_params,
            ["utm_*", "jsessionid", "phpsessid", "sid", "fbclid", "gclid"]
        );
        assert!(!c.sort_query);
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
        let c = ParserConfig {
            strip_query_params: vec!["utm_*".into(), String::new()],
            ..ParserConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("strip_query_params"), "{e}");
    }

    #[test]
    fn toml_section_with_canonicalisation_keys() {
        let c: ParserConfig =
            toml::from_str("strip_query_params = [\"ref\", \"utm_*\"]\nsort_query = true\n")
                .unwrap();
        assert_eq!(c.strip_query_params, ["ref", "utm_*"]);
        assert!(c.sort_query);
        assert_eq!(c.max_outlinks, 1000);
        assert!(toml::from_str::<ParserConfig>("sort_queries = true").is_err());
    }
}
