//! Request and response header helpers: the configured extra request headers, the CLI's
//! `--header 'K: V'` syntax, and `Retry-After` parsing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::HeaderMap;

use crate::error::FetchError;

/// Parse a CLI header argument `"Name: value"` (split at the first `:`, both sides trimmed).
/// The name and value must be valid HTTP header syntax.
pub fn parse_header_arg(s: &str) -> Result<(String, String), FetchError> {
    let Some((name, value)) = s.split_once(':') else {
        return Err(FetchError::Config {
            message: format!("header {s:?} is not of the form 'Name: value'"),
        });
    };
    let (name, value) = (name.trim(), value.trim());
    validate(name, value)?;
    Ok((name.to_string(), value.to_string()))
}

fn validate(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), FetchError> {
    let name_h = HeaderName::from_bytes(name.as_bytes()).map_err(|e| FetchError::Config {
        message: format!("invalid header name {name:?}: {e}"),
    })?;
    let value_h = HeaderValue::from_str(value).map_err(|e| FetchError::Config {
        message: format!("invalid value for header {name:?}: {e}"),
    })?;
    Ok((name_h, value_h))
}

/// Validate the configured `headers` into a `HeaderMap` (done once, in `Fetcher::new`).
pub(crate) fn extra_headers(headers: &BTreeMap<String, String>) -> Result<HeaderMap, FetchError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let (n, v) = validate(name.trim(), value.trim())?;
        map.append(n, v);
    }
    Ok(map)
}

/// `Retry-After` as a duration from `now`: delta-seconds or an HTTP-date (a date in the past
/// gives zero). Missing or unparsable: `None`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate rather than fail.
        return Some(Duration::from_secs(text.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_retry_after(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn header_args() {
        assert_eq!(
            parse_header_arg("X-Team: search").unwrap(),
            ("X-Team".to_string(), "search".to_string())
        );
        assert_eq!(
            parse_header_arg("  Referer :  http://a/b:c ").unwrap(),
            ("Referer".to_string(), "http://a/b:c".to_string())
        );
        assert_eq!(parse_header_arg("X-Empty:").unwrap().1, "");
        for bad in ["no colon", ": value", "Bad Name: v", "X-A: line\nbreak"] {
            assert_eq!(
                parse_header_arg(bad).unwrap_err().kind(),
                "config",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extra_header_validation() {
        let mut m = BTreeMap::new();
        m.insert("X-Team".to_string(), "search".to_string());
        assert_eq!(extra_headers(&m).unwrap()["x-team"], "search");
        m.insert("bad name".to_string(), "v".to_string());
        assert_eq!(extra_headers(&m).unwrap_err().kind(), "config");
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            retry_after(&with_retry_after("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&with_retry_after(" 0 "), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&with_retry_after("Wed, 21 Oct 2015 07:30:30 GMT"), now),
            Some(Duration::from_secs(150))
        );
        assert_eq!(
            retry_after(&with_retry_after("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        for garbage in ["soon", "-5", "1.5", "", "Wed, 99 Foo 2015"] {
            assert_eq!(
                retry_after(&with_retry_after(garbage), now),
                None,
                "{garbage:?}"
            );
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        assert_eq!(
            retry_after(&with_retry_after("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
    }
}
