//! URL identity: [`canonicalize`] for de-duplication and [`resolve`] for turning an `href` found in
//! a page into a canonical absolute URL.
//!
//! The `url` crate already does most of the work when it parses (WHATWG URL Standard): it
//! lower-cases the scheme and host, maps IDNs to punycode, drops the scheme's default port,
//! removes dot segments (including `%2e` forms) and gives http(s) URLs a non-empty path. On top
//! of that we drop the fragment, normalise percent-encoding in the path and query, and refuse
//! anything that is not http or https.

use url::Url;

use crate::ParseError;

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
                if is_unreserved(v) {
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
            "a", "B", ".", "..", "%2e", "%2E%2e", "%7e", "%7E", "%2f", "%2F", "%zz", "%", "%4",
            "~", "x y", "\u{e9}", "%c3%a9", "%C3%A9", "", "%41", "a;b", "%25", "%252e", "%5c",
            "\\", "%00",
        ];
        let queries = [
            "",
            "?",
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
            checked += 1;
        }
        assert!(checked >= 300, "only {checked} generated URLs parsed");
    }
}
