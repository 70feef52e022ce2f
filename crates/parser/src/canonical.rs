//! URL identity: [`canonicalize`] for de-duplication and [`resolve`] for turning an `href` found in
//! a page into a canonical absolute URL.
//!
//! The `url` crate already does most of the work when it parses (WHATWG URL Standard): it
//! lower-cases the scheme and host, maps IDNs to punycode, drops the scheme's default port,
//! removes dot segments (including `%2e` forms) and gives http(s) URLs a non-empty path. On top
//! of that we drop the fragment, normalise percent-encoding in the path and query, and refuse
//! anything that is not http or https.
//!
//! [`Canonicalizer`] adds the configurable steps of [`crate::ParserConfig`]: removing tracking
//! and session parameters (`utm_*`, `;jsessionid=`) and optionally sorting the query.

use url::Url;

use crate::{ParseError, ParserConfig};

/// Canonicalisation with the configurable steps of [`ParserConfig`]: strip query parameters
/// whose names match [`ParserConfig::strip_query_params`] (and `;jsessionid=` path parameters
/// when a pattern matches `jsessionid`), then sort the query if [`ParserConfig::sort_query`].
///
/// Built once, cheap to clone, `Send + Sync`. Like [`canonicalize`] it is idempotent, and with an
/// empty pattern list and `sort_query = false` it is exactly [`canonicalize`].
///
/// ```
/// use trawl_parser::{Canonicalizer, ParserConfig};
///
/// let c = Canonicalizer::new(&ParserConfig { sort_query: true, ..ParserConfig::default() });
/// let u = url::Url::parse("https://shop.example/p;jsessionid=A1?utm_source=x&b=2&a=1").unwrap();
/// assert_eq!(c.canonicalize(&u).unwrap().as_str(), "https://shop.example/p?a=1&b=2");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Canonicalizer {
    /// Lower-cased patterns.
    patterns: Vec<Vec<u8>>,
    strip_jsessionid: bool,
    sort_query: bool,
}

impl Canonicalizer {
    /// Compiles the canonicalisation settings of `config`.
    pub fn new(config: &ParserConfig) -> Canonicalizer {
        let patterns: Vec<Vec<u8>> = config
            .strip_query_params
            .iter()
            .map(|p| p.as_bytes().to_ascii_lowercase())
            .collect();
        let strip_jsessionid = patterns.iter().any(|p| glob_match(p, b"jsessionid"));
        Canonicalizer {
            patterns,
            strip_jsessionid,
            sort_query: config.sort_query,
        }
    }

    /// Whether a query parameter with this name is stripped (case-insensitive glob match).
    pub fn strips_param(&self, name: &str) -> bool {
        let name = name.as_bytes().to_ascii_lowercase();
        self.patterns.iter().any(|p| glob_match(p, &name))
    }

    /// [`canonicalize`], then the configured stripping and sorting. `None` if not http(s).
    pub fn canonicalize(&self, url: &Url) -> Option<Url> {
        if !is_http(url) {
            return None;
        }
        self.canonicalize_owned(url.clone())
    }

    /// [`Canonicalizer::canonicalize`] on an owned URL.
    pub fn canonicalize_owned(&self, url: Url) -> Option<Url> {
        let mut url = canonicalize_owned(url)?;
        if self.strip_jsessionid && url.path().contains(';') {
            if let Some(path) = strip_jsessionid(url.path()) {
                url.set_path(&path);
            }
        }
        if let Some(query) = url.query() {
            if let Some(new) = self.rewrite_query(query) {
                url.set_query(new.as_deref());
            }
        }
        Some(url)
    }

    /// [`resolve`] with this canonicaliser.
    pub fn resolve(&self, base: &Url, href: &str) -> Option<Url> {
        let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
        if has_foreign_scheme(href) {
            return None;
        }
        self.canonicalize_owned(base.join(href).ok()?)
    }

    /// [`parse_url`] with this canonicaliser (for seeds, so they match discovered links).
    pub fn parse_url(&self, input: &str) -> Result<Url, ParseError> {
        let url = parse_url(input)?;
        self.canonicalize_owned(url)
            .ok_or_else(|| ParseError::UnsupportedScheme {
                url: input.to_owned(),
            })
    }

    /// The new query (`Some(None)`: remove it), or `None` when nothing changes.
    fn rewrite_query(&self, query: &str) -> Option<Option<String>> {
        let mut pairs: Vec<&str> = query.split('&').collect();
        let before = pairs.len();
        if !self.patterns.is_empty() {
            pairs.retain(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
                !self.strips_param(name)
            });
        }
        let stripped = pairs.len() != before;
        if !stripped && !self.sort_query {
            return None;
        }
        if self.sort_query {
            let mut sorted = pairs.clone();
            sorted.sort_by_key(|pair| pair.split_once('=').map_or(*pair, |(n, _)| n));
            if !stripped && sorted == pairs {
                return None;
            }
            pairs = sorted;
        }
        if pairs.is_empty() {
            return Some(None);
        }
        Some(Some(pairs.join("&")))
    }
}

/// Case-insensitive glob match; `pattern` is already lower-case, `*` matches any run.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative matcher with single-star backtracking: O(len(pattern) * len(name)) worst case.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n].to_ascii_lowercase() {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Removes `;jsessionid=...` parameters from every path segment; `None` when there are none.
fn strip_jsessionid(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut changed = false;
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let mut params = segment.split(';');
        out.push_str(params.next().unwrap_or(""));
        for param in params {
            let name = param.split_once('=').map_or(param, |(n, _)| n);
            if name.eq_ignore_ascii_case("jsessionid") {
                changed = true;
            } else {
                out.push(';');
                out.push_str(param);
            }
        }
    }
    changed.then_some(out)
}

/// URL identity for de-duplication, or `None` if the URL is not http(s).
///
/// Lower-case scheme and host, IDN to punycode, default port dropped, dot segments removed, empty
/// path becomes `/`, fragment dropped, percent-encoding normalised in path and query (escapes of
/// unreserved characters `A-Za-z0-9-._~` decoded, other escapes' hex digits upper-cased). User
/// info and the query are otherwise kept as they are. Idempotent.
pub fn canonicalize(url: &Url) -> Option<Url> {
    if !is_http(url) {
        return None;
    }
    canonicalize_owned(url.clone())
}

/// [`canonicalize`] on an owned URL, saving a clone when the caller has one to give away.
pub(crate) fn canonicalize_owned(mut url: Url) -> Option<Url> {
    if !is_http(&url) {
        return None;
    }
    url.set_fragment(None);
    if let Some(path) = normalize_percent(url.path()) {
        url.set_path(&path);
    }
    if let Some(query) = url.query().and_then(normalize_percent) {
        url.set_query(Some(&query));
    }
    Some(url)
}

/// Joins `href` (ASCII whitespace trimmed) against `base` and canonicalises the result.
///
/// `None` for `javascript:`, `mailto:`, `data:`, `tel:`, `ftp:` and any other non-http(s) scheme,
/// and for input that does not parse as a URL.
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
    if has_foreign_scheme(href) {
        return None;
    }
    canonicalize_owned(base.join(href).ok()?)
}

/// Parses an absolute http(s) URL given by a user (a seed, a base URL on the command line) and
/// canonicalises it.
pub fn parse_url(input: &str) -> Result<Url, ParseError> {
    let url = Url::parse(input.trim()).map_err(|source| ParseError::InvalidUrl {
        url: input.to_owned(),
        source,
    })?;
    canonicalize_owned(url).ok_or_else(|| ParseError::UnsupportedScheme {
        url: input.to_owned(),
    })
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Cheap pre-check: does `href` start with an explicit scheme other than http(s)? Saves a full
/// parse for the many `javascript:`/`mailto:`/`tel:` links. Anything doubtful is left to the
/// real parser.
fn has_foreign_scheme(href: &str) -> bool {
    let bytes = href.as_bytes();
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &bytes[..colon];
    let valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid && !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https")
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether appending the decoded character `c` to `out` could form a new `%XX` escape with a
/// literal `%` already there (`%4%41` must not become `%4A`, nor `%%341` become `%41`), which
/// would make canonicalisation non-idempotent. Such escapes are kept (upper-cased) instead.
fn forms_escape(out: &str, c: u8) -> bool {
    if !c.is_ascii_hexdigit() {
        return false;
    }
    let b = out.as_bytes();
    match b {
        [.., b'%'] => true,
        [.., b'%', h] => h.is_ascii_hexdigit(),
        _ => false,
    }
}

/// Normalises `%XX` escapes: decodes unreserved characters, upper-cases the rest. Returns `None`
/// when nothing changes (the common case, with no allocation). Malformed escapes are left alone.
fn normalize_percent(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let needs_work = |i: usize| -> Option<(u8, u8, u8)> {
        let (h, l) = (*bytes.get(i + 1)?, *bytes.get(i + 2)?);
        let v = hex_val(h)? << 4 | hex_val(l)?;
        Some((h, l, v))
    };
    // Find the first escape that needs changing.
    let first = bytes.iter().enumerate().position(|(i, &b)| {
        b == b'%'
            && needs_work(i).is_some_and(|(h, l, v)| {
                is_unreserved(v) || h.is_ascii_lowercase() || l.is_ascii_lowercase()
            })
    })?;
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut i = first;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some((h, l, v)) = needs_work(i) {
                if is_unreserved(v) && !forms_escape(&out, v) {
                    out.push(char::from(v));
                } else {
                    out.push('%');
                    out.push(char::from(h.to_ascii_uppercase()));
                    out.push(char::from(l.to_ascii_uppercase()));
                }
                i += 3;
                continue;
            }
        }
        // Copy the run up to the next '%' (keeps multi-byte UTF-8 intact; '%' is ASCII).
        let next = bytes[i + 1..]
            .iter()
            .position(|&b| b == b'%')
            .map_or(bytes.len(), |p| i + 1 + p);
        out.push_str(&s[i..next]);
        i = next;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Option<String> {
        canonicalize(&Url::parse(s).unwrap()).map(String::from)
    }

    #[test]
    fn canonicalisation_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // case
            ("HTTP://EXAMPLE.COM/", Some("http://example.com/")),
            ("http://Example.Com/Path", Some("http://example.com/Path")),
            (
                "HtTpS://WWW.Example.ORG/A/b",
                Some("https://www.example.org/A/b"),
            ),
            // default ports
            ("http://example.com:80/", Some("http://example.com/")),
            ("https://example.com:443/x", Some("https://example.com/x")),
            ("http://example.com:443/", Some("http://example.com:443/")),
            ("https://example.com:80/", Some("https://example.com:80/")),
            (
                "http://example.com:8080/a",
                Some("http://example.com:8080/a"),
            ),
            ("http://example.com:/a", Some("http://example.com/a")),
            // empty path
            ("http://example.com", Some("http://example.com/")),
            ("https://example.com?q=1", Some("https://example.com/?q=1")),
            // dot segments
            (
                "http://example.com/a/./b/../c",
                Some("http://example.com/a/c"),
            ),
            ("http://example.com/../../a", Some("http://example.com/a")),
            ("http://example.com/a/b/..", Some("http://example.com/a/")),
            (
                "http://example.com/a/%2e%2E/b",
                Some("http://example.com/b"),
            ),
            ("http://example.com/a/%2e/b", Some("http://example.com/a/b")),
            ("http://example.com/a//b", Some("http://example.com/a//b")),
            // percent-encoding
            (
                "http://example.com/%7euser",
                Some("http://example.com/~user"),
            ),
            (
                "http://example.com/%7Euser",
                Some("http://example.com/~user"),
            ),
            ("http://example.com/a%2fb", Some("http://example.com/a%2Fb")),
            ("http://example.com/a%2Fb", Some("http://example.com/a%2Fb")),
            (
                "http://example.com/%e2%82%ac",
                Some("http://example.com/%E2%82%AC"),
            ),
            (
                "http://example.com/%41%42%63-%2D%5f",
                Some("http://example.com/ABc--_"),
            ),
            ("http://example.com/%zz%4", Some("http://example.com/%zz%4")),
            ("http://example.com/100%", Some("http://example.com/100%")),
            // decoding must not create a new escape (found by the canonicalize fuzzer)
            ("http://example.com/%4%41", Some("http://example.com/%4%41")),
            ("http://example.com/%4%4a", Some("http://example.com/%4J")),
            ("http://example.com/%%341", Some("http://example.com/%%341")),
            (
                "http://example.com/?%4%41=1",
                Some("http://example.com/?%4%41=1"),
            ),
            ("http://example.com/%%7e%41", Some("http://example.com/%~A")),
            ("http://example.com/a b", Some("http://example.com/a%20b")),
            (
                "http://example.com/caf\u{e9}",
                Some("http://example.com/caf%C3%A9"),
            ),
            (
                "http://example.com/%2e%2ehidden",
                Some("http://example.com/..hidden"),
            ),
            // query kept except for percent normalisation
            (
                "http://example.com/?b=2&a=1",
                Some("http://example.com/?b=2&a=1"),
            ),
            (
                "http://example.com/?q=%7e%2f%3d",
                Some("http://example.com/?q=~%2F%3D"),
            ),
            ("http://example.com/?", Some("http://example.com/?")),
            (
                "http://example.com/?a=1&a=1",
                Some("http://example.com/?a=1&a=1"),
            ),
            (
                "http://example.com/?x=%zz",
                Some("http://example.com/?x=%zz"),
            ),
            // fragment dropped
            ("http://example.com/a#frag", Some("http://example.com/a")),
            ("http://example.com/a?q#f", Some("http://example.com/a?q")),
            ("http://example.com/#", Some("http://example.com/")),
            // IDN and hosts
            (
                "http://B\u{dc}CHER.example/",
                Some("http://xn--bcher-kva.example/"),
            ),
            (
                "http://b\u{fc}cher.example/",
                Some("http://xn--bcher-kva.example/"),
            ),
            ("http://%65xample.com/", Some("http://example.com/")),
            ("http://192.168.0.1:80/", Some("http://192.168.0.1/")),
            ("http://0x7f.1/", Some("http://127.0.0.1/")),
            ("http://[::1]:443/", Some("http://[::1]:443/")),
            // userinfo kept
            (
                "http://user:pass@example.com/",
                Some("http://user:pass@example.com/"),
            ),
            ("http://User@Example.com/", Some("http://User@example.com/")),
            // non-http schemes
            ("mailto:someone@example.com", None),
            ("javascript:alert(1)", None),
            ("ftp://example.com/file", None),
            ("data:text/plain,hi", None),
            ("file:///etc/passwd", None),
            ("tel:+123", None),
            ("ws://example.com/", None),
        ];
        assert!(cases.len() >= 40);
        for (input, want) in cases {
            let got = canon(input);
            assert_eq!(got.as_deref(), *want, "canonicalize({input:?})");
            if let Some(g) = &got {
                assert_eq!(
                    canon(g).as_deref(),
                    Some(g.as_str()),
                    "idempotence of {input:?}"
                );
            }
        }
    }

    #[test]
    fn resolve_cases() {
        let base = Url::parse("http://example.com/dir/page.html?x=1#top").unwrap();
        let cases: &[(&str, Option<&str>)] = &[
            ("other.html", Some("http://example.com/dir/other.html")),
            (
                "  \t\nother.html \r\n",
                Some("http://example.com/dir/other.html"),
            ),
            ("../up", Some("http://example.com/up")),
            ("/abs#frag", Some("http://example.com/abs")),
            ("//cdn.example.net/x", Some("http://cdn.example.net/x")),
            ("?q=2", Some("http://example.com/dir/page.html?q=2")),
            ("#only-frag", Some("http://example.com/dir/page.html?x=1")),
            ("", Some("http://example.com/dir/page.html?x=1")),
            (
                "HTTPS://Other.Example:443/%7e",
                Some("https://other.example/~"),
            ),
            ("http:rel", Some("http://example.com/dir/rel")),
            ("javascript:void(0)", None),
            ("JavaScript:void(0)", None),
            ("java\tscript:alert(1)", None),
            ("mailto:a@b.c", None),
            ("data:text/html,<p>", None),
            ("tel:123", None),
            ("ftp://example.com/", None),
            ("http://", None),
            ("http://exa mple.com/", None),
            ("http://[::1/", None),
        ];
        for (href, want) in cases {
            let got = resolve(&base, href).map(String::from);
            assert_eq!(got.as_deref(), *want, "resolve({href:?})");
        }
    }

    #[test]
    fn parse_url_reports_errors_with_input() {
        assert_eq!(
            parse_url(" HTTP://Example.com ").unwrap().as_str(),
            "http://example.com/"
        );
        let e = parse_url("not a url").unwrap_err();
        assert!(matches!(e, ParseError::InvalidUrl { .. }));
        assert!(e.to_string().contains("not a url"));
        let e = parse_url("ftp://example.com/").unwrap_err();
        assert!(matches!(e, ParseError::UnsupportedScheme { .. }), "{e}");
    }

    fn with(strip: &[&str], sort_query: bool) -> Canonicalizer {
        Canonicalizer::new(&ParserConfig {
            strip_query_params: strip.iter().map(|s| (*s).to_owned()).collect(),
            sort_query,
            ..ParserConfig::default()
        })
    }

    #[test]
    fn glob_patterns() {
        let cases: &[(&str, &str, bool)] = &[
            ("utm_*", "utm_source", true),
            ("utm_*", "UTM_Medium", true),
            ("utm_*", "utm_", true),
            ("utm_*", "xutm_source", false),
            ("*id", "sessionid", true),
            ("*id", "idx", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*", "", true),
            ("sid", "SID", true),
            ("sid", "sids", false),
            ("**x", "yx", true),
        ];
        for (pattern, name, want) in cases {
            let c = with(&[pattern], false);
            assert_eq!(c.strips_param(name), *want, "{pattern:?} vs {name:?}");
        }
    }

    #[test]
    fn canonicalizer_table_default_options() {
        let c = Canonicalizer::new(&ParserConfig::default());
        let cases: &[(&str, Option<&str>)] = &[
            (
                "http://example.com/?utm_source=x&utm_medium=y",
                Some("http://example.com/"),
            ),
            (
                "http://example.com/a?id=1&UTM_Campaign=z&b=2",
                Some("http://example.com/a?id=1&b=2"),
            ),
            (
                "http://example.com/a?%75tm_source=x&q=1",
                Some("http://example.com/a?q=1"),
            ),
            (
                "http://example.com/?fbclid=abc&gclid=def#frag",
                Some("http://example.com/"),
            ),
            (
                "http://example.com/?PHPSESSID=1&page=2&sid=9",
                Some("http://example.com/?page=2"),
            ),
            (
                "http://example.com/?sids=1&side=2",
                Some("http://example.com/?sids=1&side=2"),
            ),
            (
                "http://example.com/?utm_source",
                Some("http://example.com/"),
            ),
            (
                "http://example.com/shop;jsessionid=ABC123?x=1",
                Some("http://example.com/shop?x=1"),
            ),
            (
                "http://example.com/shop;JSESSIONID=ABC;v=2/item",
                Some("http://example.com/shop;v=2/item"),
            ),
            (
                "http://example.com/a/..;jsessionid=1/b",
                Some("http://example.com/b"),
            ),
            (
                "http://example.com/?jsessionid=1&a=%7e",
                Some("http://example.com/?a=~"),
            ),
            // not sorted by default; empty pairs kept when nothing is stripped
            (
                "http://example.com/?b=2&a=1&&",
                Some("http://example.com/?b=2&a=1&&"),
            ),
            ("http://example.com/?", Some("http://example.com/?")),
            ("mailto:x@example.com?utm_source=1", None),
        ];
        for (input, want) in cases {
            let got = c
                .canonicalize(&Url::parse(input).unwrap())
                .map(String::from);
            assert_eq!(got.as_deref(), *want, "{input:?}");
            if let Some(g) = &got {
                let again = c.canonicalize(&Url::parse(g).unwrap()).unwrap();
                assert_eq!(again.as_str(), g, "idempotence of {input:?}");
            }
        }
    }

    #[test]
    fn canonicalizer_sorting_and_custom_patterns() {
        let cases: &[(&[&str], bool, &str, &str)] = &[
            (
                &[],
                true,
                "http://e.test/?b=2&a=1",
                "http://e.test/?a=1&b=2",
            ),
            (
                &[],
                true,
                "http://e.test/?b=1&a=2&b=0",
                "http://e.test/?a=2&b=1&b=0",
            ),
            (
                &[],
                true,
                "http://e.test/?a=1&b=2",
                "http://e.test/?a=1&b=2",
            ),
            (
                &[],
                false,
                "http://e.test/?b=2&a=1",
                "http://e.test/?b=2&a=1",
            ),
            (
                &["ref", "*_id"],
                true,
                "http://e.test/?z=1&REF=x&session_id=3&a",
                "http://e.test/?a&z=1",
            ),
            (&["*"], false, "http://e.test/p?a=1&b=2", "http://e.test/p"),
            // jsessionid path parameters are left alone when not listed
            (
                &["utm_*"],
                false,
                "http://e.test/p;jsessionid=1?utm_x=2",
                "http://e.test/p;jsessionid=1",
            ),
            (
                &["*session*"],
                false,
                "http://e.test/p;jsessionid=1",
                "http://e.test/p",
            ),
        ];
        for (strip, sort, input, want) in cases {
            let c = with(strip, *sort);
            let got = c.canonicalize(&Url::parse(input).unwrap()).unwrap();
            assert_eq!(got.as_str(), *want, "{strip:?} sort={sort} {input:?}");
            assert_eq!(c.canonicalize(&got).unwrap(), got, "idempotence {input:?}");
        }
    }

    #[test]
    fn canonicalizer_without_options_is_canonicalize() {
        let c = with(&[], false);
        for s in [
            "http://e.test/?utm_source=1&b=2&a=1",
            "http://e.test/p;jsessionid=1",
            "HTTP://E.test:80/%7e?#x",
        ] {
            let u = Url::parse(s).unwrap();
            assert_eq!(c.canonicalize(&u), canonicalize(&u), "{s}");
        }
        let d = Canonicalizer::new(&ParserConfig::default());
        let base = Url::parse("http://e.test/dir/").unwrap();
        assert_eq!(
            d.resolve(&base, " x?utm_term=1&k=v#f ").unwrap().as_str(),
            "http://e.test/dir/x?k=v"
        );
        assert_eq!(d.resolve(&base, "javascript:x"), None);
        assert_eq!(
            d.parse_url("HTTP://E.test/?gclid=1").unwrap().as_str(),
            "http://e.test/"
        );
        assert!(d.parse_url("ftp://e.test/").is_err());
    }

    /// A tiny deterministic generator (xorshift) of messy URLs.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    #[test]
    fn canonicalize_is_idempotent_on_generated_urls() {
        let schemes = ["http", "HTTP", "https", "HttpS"];
        let hosts = [
            "example.com",
            "EXAMPLE.com",
            "b\u{fc}cher.example",
            "xn--bcher-kva.example",
            "127.0.0.1",
            "[::1]",
            "user:pw@host.test",
            "%41bc.test",
            "a.b.c.d.example",
        ];
        let ports = ["", ":80", ":443", ":8080", ":"];
        let segs = [
            "a",
            "B",
            ".",
            "..",
            "%2e",
            "%2E%2e",
            "%7e",
            "%7E",
            "%2f",
            "%2F",
            "%zz",
            "%",
            "%4",
            "~",
            "x y",
            "\u{e9}",
            "%c3%a9",
            "%C3%A9",
            "",
            "%41",
            "a;b",
            "%25",
            "%252e",
            "%5c",
            "\\",
            "%00",
            ";jsessionid=1",
            "..;jsessionid=x",
            "a;JSESSIONID",
            ";",
        ];
        let options = [
            Canonicalizer::new(&ParserConfig::default()),
            with(&["utm_*", "a", "*"], true),
            with(&["jsessionid", "%41"], true),
        ];
        let queries = [
            "",
            "?",
            "?utm_source=1&b=2&a=1",
            "?a&&b=;jsessionid=1",
            "?UTM_x=%7e",
            "?a=1",
            "?a=%7e&b=%2f",
            "?q=x y",
            "?%41=%zz",
            "?\u{e9}=%c3%a9",
            "?'\"<>",
            "?a=1#f",
            "?%25%7E",
        ];
        let frags = ["", "#", "#x", "#%7e"];
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for _ in 0..600 {
            let mut s = format!(
                "{}://{}{}",
                g.pick(&schemes),
                g.pick(&hosts),
                g.pick(&ports)
            );
            for _ in 0..(g.next() % 5) {
                s.push('/');
                s.push_str(g.pick(&segs));
            }
            s.push_str(g.pick(&queries));
            s.push_str(g.pick(&frags));
            let Ok(u) = Url::parse(&s) else { continue };
            let once = canonicalize(&u).expect("http(s) URL canonicalises");
            let twice = canonicalize(&once).expect("canonical URL canonicalises");
            assert_eq!(once, twice, "not idempotent for {s:?}");
            // Re-parsing the canonical string must give the same URL (stable serialisation).
            assert_eq!(Url::parse(once.as_str()).unwrap(), once, "{s:?}");
            assert!(once.fragment().is_none());
            for c in &options {
                let once = c.canonicalize(&u).expect("http(s) URL canonicalises");
                let twice = c.canonicalize(&once).expect("canonical URL canonicalises");
                assert_eq!(once, twice, "not idempotent with {c:?} for {s:?}");
                assert_eq!(Url::parse(once.as_str()).unwrap(), once, "{s:?}");
            }
            checked += 1;
        }
        assert!(checked >= 300, "only {checked} generated URLs parsed");
    }
}
