//! Pure robots.txt parsing and matching ([`RobotsRules`]), following RFC 9309 and the
//! behaviour of Google's reference parser (github.com/google/robotstxt): user-agent groups
//! selected by case-insensitive product token with `*` as fallback, groups for the same agent
//! merged, longest match wins, `Allow` wins ties, `*` and `$` wildcards, lenient line syntax
//! (missing colon, frequent typos, BOM, CR / LF / CRLF). One deliberate difference from
//! Google's library: percent-encoded unreserved characters are decoded before comparison
//! (RFC 9309 §2.2.2), so `/%62%61%7A` and `/baz` are the same path.

use std::time::Duration;

/// Lines longer than this are cut (Google: 8 x 2083 bytes, minus its terminator).
const MAX_LINE_LEN: usize = 2083 * 8 - 1;

/// One `Allow` / `Disallow` rule, its pattern already normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    pattern: String,
    allow: bool,
}

/// The rules of one robots.txt that apply to one agent (product token).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RobotsRules {
    /// Rules of the groups naming our agent.
    specific: Vec<Rule>,
    /// Rules of the `*` groups.
    global: Vec<Rule>,
    /// Some group names our agent: then the `*` groups are ignored entirely.
    has_specific: bool,
    specific_delay: Option<Duration>,
    global_delay: Option<Duration>,
    sitemaps: Vec<String>,
}

/// What a line's key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    UserAgent,
    Allow,
    Disallow,
    CrawlDelay,
    Sitemap,
    Unknown,
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn classify_key(key: &str) -> Key {
    let any = |prefixes: &[&str]| prefixes.iter().any(|p| starts_with_ci(key, p));
    if any(&["user-agent", "useragent", "user agent"]) {
        Key::UserAgent
    } else if any(&["allow"]) {
        Key::Allow
    } else if any(&[
        "disallow",
        "dissallow",
        "dissalow",
        "disalow",
        "diasllow",
        "disallaw",
    ]) {
        Key::Disallow
    } else if any(&["crawl-delay", "crawldelay", "crawl delay"]) {
        Key::CrawlDelay
    } else if any(&["sitemap", "site-map"]) {
        Key::Sitemap
    } else {
        Key::Unknown
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Split one raw line into `(key, value)`: comment stripped, trimmed, `key: value` or (Google)
/// `key value` when there are exactly two whitespace-separated words.
fn key_value(line: &[u8]) -> Option<(String, String)> {
    let line = match line.iter().position(|&b| b == b'#') {
        Some(i) => &line[..i],
        None => line,
    };
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    let (key, value) = match line.iter().position(|&b| b == b':') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => {
            let i = line.iter().position(|&b| b == b' ' || b == b'\t')?;
            let value = line[i..].trim_ascii();
            if value.iter().any(|&b| b == b' ' || b == b'\t') {
                return None;
            }
            (&line[..i], value)
        }
    };
    let key = key.trim_ascii();
    if key.is_empty() {
        return None;
    }
    Some((
        String::from_utf8_lossy(key).into_owned(),
        String::from_utf8_lossy(value.trim_ascii()).into_owned(),
    ))
}

/// Split a body into lines at LF, CR or CRLF, after skipping a (possibly partial) UTF-8 BOM.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
    let skip = body
        .iter()
        .zip(BOM.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let body = &body[skip..];
    // CRLF yields an empty line between CR and LF; empty lines carry no meaning, so that is fine.
    body.split(|&b| b == b'\n' || b == b'\r')
        .map(|l| &l[..l.len().min(MAX_LINE_LEN)])
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Normalise a path or pattern for comparison (RFC 9309 §2.2.2): octets outside US-ASCII are
/// percent-encoded, existing escapes get upper-case hex, and escapes of unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) are decoded.
pub(crate) fn normalize(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                let c = h << 4 | l;
                if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(c));
                } else {
                    out.push('%');
                    out.push(char::from(HEX[usize::from(h)]));
                    out.push(char::from(HEX[usize::from(l)]));
                }
                i += 3;
                continue;
            }
        }
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        i += 1;
    }
    out
}

/// Google's matcher: `*` matches any run of octets, `$` at the very end anchors the end.
fn matches(path: &[u8], pattern: &[u8], positions: &mut Vec<usize>) -> bool {
    // Fast path: a plain prefix pattern.
    if !pattern.contains(&b'*') && pattern.last() != Some(&b'$') {
        return path.starts_with(pattern);
    }
    positions.clear();
    positions.push(0);
    for (k, &p) in pattern.iter().enumerate() {
        if p == b'$' && k + 1 == pattern.len() {
            return positions.last() == Some(&path.len());
        }
        if p == b'*' {
            let first = positions[0];
            positions.clear();
            positions.extend(first..=path.len());
        } else {
            positions.retain_mut(|pos| {
                if *pos < path.len() && path[*pos] == p {
                    *pos += 1;
                    true
                } else {
                    false
                }
            });
            if positions.is_empty() {
                return false;
            }
        }
    }
    true
}

/// The product token of a `User-agent` value: its leading `[a-zA-Z_-]` characters (Google).
fn product_token(value: &str) -> &str {
    let end = value
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '_' || c == '-'))
        .unwrap_or(value.len());
    &value[..end]
}

impl RobotsRules {
    /// Parse a robots.txt body for `agent` (a product token such as `"trawl"`, compared
    /// case-insensitively). Never fails: unparsable lines are skipped.
    pub fn parse(body: &[u8], agent: &str) -> RobotsRules {
        let mut rules = RobotsRules::default();
        // State of the current group (Google's RobotsMatcher): which agents its UA lines named,
        // and whether a rule line has ended the run of UA lines.
        let mut in_specific = false;
        let mut in_global = false;
        let mut seen_separator = false;
        for line in lines(body) {
            let Some((key, value)) = key_value(line) else {
                continue;
            };
            match classify_key(&key) {
                Key::UserAgent => {
                    if seen_separator {
                        in_specific = false;
                        in_global = false;
                        seen_separator = false;
                    }
                    let v = value.as_bytes();
                    if v.first() == Some(&b'*') && (v.len() == 1 || is_space(v[1])) {
                        in_global = true;
                    } else if product_token(&value).eq_ignore_ascii_case(agent) {
                        in_specific = true;
                        rules.has_specific = true;
                    }
                }
                k @ (Key::Allow | Key::Disallow) => {
                    if !(in_specific || in_global) {
                        continue;
                    }
                    seen_separator = true;
                    let allow = k == Key::Allow;
                    let target = if in_specific {
                        &mut rules.specific
                    } else {
                        &mut rules.global
                    };
                    let pattern = normalize(&value);
                    if allow {
                        // Google: ".../index.htm(l)" also allows the directory itself.
                        if let Some(slash) = pattern.rfind('/') {
                            if pattern[slash..].starts_with("/index.htm") {
                                target.push(Rule {
                                    pattern: format!("{}$", &pattern[..=slash]),
                                    allow: true,
                                });
                            }
                        }
                    }
                    target.push(Rule { pattern, allow });
                }
                Key::CrawlDelay => {
                    let delay = value
                        .parse::<f64>()
                        .ok()
                        .filter(|d| d.is_finite() && *d >= 0.0)
                        .and_then(|d| Duration::try_from_secs_f64(d).ok());
                    if in_specific {
                        rules.specific_delay = rules.specific_delay.or(delay);
                    } else if in_global {
                        rules.global_delay = rules.global_delay.or(delay);
                    }
                }
                Key::Sitemap => {
                    if !value.is_empty() {
                        rules.sitemaps.push(value);
                    }
                }
                Key::Unknown => {}
            }
        }
        rules
    }

    /// Rules that allow everything (no robots.txt, or a 4xx one).
    pub fn allow_all() -> RobotsRules {
        RobotsRules::default()
    }

    /// Whether `url` (its path and query) may be fetched. `/robots.txt` itself is always allowed.
    pub fn allows(&self, url: &url::Url) -> bool {
        let raw = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let raw = if raw.is_empty() { "/" } else { raw };
        self.allows_path(raw)
    }

    /// Whether a path (with optional `?query`, e.g. `/a/b?c=d`) may be fetched.
    pub fn allows_path(&self, path_and_query: &str) -> bool {
        let path = normalize(path_and_query);
        if path == "/robots.txt" {
            return true;
        }
        let group = if self.has_specific {
            &self.specific
        } else {
            &self.global
        };
        let mut positions = Vec::new();
        let mut best_allow: i64 = -1;
        let mut best_disallow: i64 = -1;
        for rule in group {
            let len = i64::try_from(rule.pattern.len()).unwrap_or(i64::MAX);
            let best = if rule.allow {
                &mut best_allow
            } else {
                &mut best_disallow
            };
            if len > *best && matches(path.as_bytes(), rule.pattern.as_bytes(), &mut positions) {
                *best = len;
            }
        }
        !(best_disallow > best_allow && best_disallow > 0)
    }

    /// `Crawl-delay` of the group that applies to our agent (the first valid value), if any.
    pub fn crawl_delay(&self) -> Option<Duration> {
        if self.has_specific {
            self.specific_delay
        } else {
            self.global_delay
        }
    }

    /// All `Sitemap:` values in file order, whatever group they appear in.
    pub fn sitemaps(&self) -> Vec<String> {
        self.sitemaps.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalize("/a/b/c"), "/a/b/c");
        assert_eq!(normalize("á"), "%C3%A1");
        assert_eq!(normalize("%aa"), "%AA");
        assert_eq!(normalize("/%62%61%7A"), "/baz");
        assert_eq!(normalize("/a%2fb%2F"), "/a%2Fb%2F");
        assert_eq!(normalize("/100%"), "/100%");
        assert_eq!(normalize("/%zz%4"), "/%zz%4");
    }

    #[test]
    fn wildcard_matching() {
        let mut p = Vec::new();
        let m =
            |path: &str, pat: &str, p: &mut Vec<usize>| matches(path.as_bytes(), pat.as_bytes(), p);
        assert!(m("/fish.php", "/*.php$", &mut p));
        assert!(!m("/fish.php5", "/*.php$", &mut p));
        assert!(m("/a$b", "/a$b", &mut p));
        assert!(m("/anything", "*", &mut p));
        assert!(m("/", "/$", &mut p));
        assert!(!m("/x", "/$", &mut p));
        assert!(m("/foo//qux", "/foo/*/qux", &mut p));
        assert!(!m("/foo/qux", "/foo/*/qux", &mut p));
    }

    #[test]
    fn delay_and_sitemaps() {
        let r = RobotsRules::parse(
            b"Sitemap: /s1.xml\nUser-agent: *\nCrawl-delay: 2.5\nUser-agent: trawl\nCrawl-delay: 7\nDisallow: /x\nsitemap: https://h/s2.xml\n",
            "trawl",
        );
        // Our agent's own Crawl-delay wins over the one seen while only "*" was named.
        assert_eq!(r.crawl_delay(), Some(Duration::from_secs(7)));
        assert_eq!(r.sitemaps(), vec!["/s1.xml", "https://h/s2.xml"]);
        let r = RobotsRules::parse(b"User-agent: *\nCrawl-delay: 3\n", "other");
        assert_eq!(r.crawl_delay(), Some(Duration::from_secs(3)));
        let r = RobotsRules::parse(b"User-agent: *\nCrawl-delay: soon\n", "other");
        assert_eq!(r.crawl_delay(), None);
    }
}
