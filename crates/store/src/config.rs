//! [`StoreConfig`]: the tunables of the store (page cache size, segment size, body compression).

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Store settings. TOML section `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Bytes of page cache for the metadata database (sled's own default is 1 GiB). sled takes
    /// about twice this in memory. Default 24 MiB: a 1,000,000-page crawl (`trawl bench
    /// scale-1m`) ran as fast as with 32 MiB and peaked 26 MB lower.
    pub cache_capacity: u64,
    /// A body segment file is closed and a new one started once it would grow past this many bytes.
    /// Default 256 MiB.
    pub segment_max_bytes: u64,
    /// zstd compression level for stored page bodies (1 = fast, 19 = small). Default 2: on the
    /// 48,000 pages of the Rust docs (`examples/body_levels.rs`) it compresses ~17% faster than
    /// 3 for 2% more bytes, and as fast as 1 with a better ratio.
    pub compression_level: i32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_capacity: 24 * 1024 * 1024,
            segment_max_bytes: 256 * 1024 * 1024,
            compression_level: 2,
        }
    }
}

impl StoreConfig {
    /// Checks the values; `Store::open` calls this.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.segment_max_bytes == 0 {
            return Err(StoreError::InvalidConfig {
                message: "segment_max_bytes must be greater than 0".into(),
            });
        }
        let range = zstd::compression_level_range();
        if !range.contains(&self.compression_level) {
            return Err(StoreError::InvalidConfig {
                message: format!(
                    "compression_level {} is outside zstd's range {}..={}",
                    self.compression_level,
                    range.start(),
                    range.end()
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_serde() {
        let c = StoreConfig::default();
        assert_eq!(c.cache_capacity, 24 << 20);
        assert_eq!(c.segment_max_bytes, 256 << 20);
        assert_eq!(c.compression_level, 2);
        c.validate().unwrap();
        let partial: StoreConfig = serde_json::from_str(r#"{"compression_level": 9}"#).unwrap();
        assert_eq!(partial.compression_level, 9);
        assert_eq!(partial.cache_capacity, c.cache_capacity);
        assert!(serde_json::from_str::<StoreConfig>(r#"{"nope": 1}"#).is_err());
    }

    #[test]
    fn invalid_values_rejected() {
        let c = StoreConfig {
            segment_max_bytes: 0,
            ..StoreConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(StoreError::InvalidConfig { .. })
        ));
        let c = StoreConfig {
            compression_level: 1000,
            ..StoreConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(StoreError::InvalidConfig { .. })
        ));
    }
}
