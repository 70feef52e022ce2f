//! The properties checked by the cargo-fuzz targets, shared with the regression test
//! (`tests/fuzz_regressions.rs`) so that saved crash inputs are replayed with the same checks.
//! Each function takes one raw fuzz input and panics if a property fails.

#![allow(dead_code)] // each fuzz target uses one function

use std::collections::BTreeMap;
use std::sync::OnceLock;

use trawl_parser::{
    canonicalize as canonicalize_url, parse_sitemap, Canonicalizer, ExtractRule, Extractor,
    FieldRule, Parsed, Parser, ParserConfig, SitemapLimits,
};
use url::Url;

/// Splits `data` into a Content-Type (length from the first byte, modulo `max`) and a body.
fn split_content_type(data: &[u8], max: u8) -> Option<(Option<&str>, &[u8])> {
    let (&n, rest) = data.split_first()?;
    let n = usize::from(n % max).min(rest.len());
    let (ct, body) = rest.split_at(n);
    let ct = std::str::from_utf8(ct).ok().filter(|s| !s.is_empty());
    Some((ct, body))
}

fn parser() -> &'static (Parser, Url) {
    static P: OnceLock<(Parser, Url)> = OnceLock::new();
    P.get_or_init(|| {
        let field = |css: &str, take: &str, all: bool| FieldRule {
            css: css.into(),
            take: take.into(),
            all,
        };
        let rule = ExtractRule {
            url: "^https://fuzz\\.example/".into(),
            fields: BTreeMap::from([
                ("t".to_owned(), field("h1, .x", "text", false)),
                ("h".to_owned(), field("a[href]", "attr:href", true)),
                ("i".to_owned(), field("div > p", "inner_html", true)),
            ]),
        };
        let config = ParserConfig {
            max_outlinks: 50,
            max_url_len: 200,
            sort_query: true,
            ..ParserConfig::default()
        };
        let extractor = Extractor::new(&[rule]).expect("valid rule");
        let base = Url::parse("https://fuzz.example/dir/page.html?q=1").expect("valid base");
        (Parser::with_extractor(config, extractor), base)
    })
}

/// `Parser::extract` on arbitrary bytes with a fixed base URL and a Content-Type (also used as
/// the `X-Robots-Tag`) from the first bytes: never panics, and every link is canonical, http(s),
/// fragment-free and within the limits; the one matching rule gives one record.
pub fn extract_links(data: &[u8]) {
    let (parser, base) = parser();
    let Some((ct, body)) = split_content_type(data, 48) else {
        return;
    };
    let parsed = extract_checked(parser, base, ct, body);
    assert_eq!(parsed.records.len(), 1);
}

/// Extracts `body` (Content-Type `ct`, also the X-Robots-Tag) and checks every link: at most 50,
/// http(s), at most 200 bytes, no fragment, already canonical.
fn extract_checked(parser: &Parser, base: &Url, ct: Option<&str>, body: &[u8]) -> Parsed {
    let parsed = parser.extract(base, body, ct, ct);
    assert!(parsed.links.len() <= 50);
    let canon = parser.canonicalizer();
    for link in &parsed.links {
        assert!(matches!(link.url.scheme(), "http" | "https"));
        assert!(link.url.as_str().len() <= 200);
        assert!(link.url.fragment().is_none());
        assert_eq!(canon.canonicalize(&link.url).as_ref(), Some(&link.url));
    }
    parsed
}

fn plain_parser() -> &'static Parser {
    static P: OnceLock<Parser> = OnceLock::new();
    P.get_or_init(|| {
        Parser::new(ParserConfig {
            max_outlinks: 50,
            max_url_len: 200,
            ..ParserConfig::default()
        })
    })
}

/// The link pass (the byte-level lexer; no extraction rule, so no DOM) on arbitrary bytes:
/// never panics, every link is canonical, http(s), fragment-free and within the limits.
pub fn link_pass(data: &[u8]) {
    let (_, base) = parser();
    let parser = plain_parser();
    let Some((ct, body)) = split_content_type(data, 48) else {
        return;
    };
    let parsed = extract_checked(parser, base, ct, body);
    assert!(parsed.records.is_empty());
}

fn canonicalizers() -> &'static [Canonicalizer; 3] {
    static C: OnceLock<[Canonicalizer; 3]> = OnceLock::new();
    C.get_or_init(|| {
        let with = |strip: &[&str], sort_query| {
            Canonicalizer::new(&ParserConfig {
                strip_query_params: strip.iter().map(|s| (*s).to_owned()).collect(),
                sort_query,
                ..ParserConfig::default()
            })
        };
        [
            Canonicalizer::new(&ParserConfig::default()),
            with(&["utm_*", "a*b", "*x*"], true),
            with(&["*"], false),
        ]
    })
}

fn check_canonical(url: &Url, f: impl Fn(&Url) -> Option<Url>) {
    let Some(once) = f(url) else {
        assert!(!matches!(url.scheme(), "http" | "https"), "{url} refused");
        return;
    };
    assert!(matches!(once.scheme(), "http" | "https"), "{once}");
    assert!(once.fragment().is_none(), "{once}");
    let twice = f(&once).expect("a canonical URL canonicalises");
    assert_eq!(once.as_str(), twice.as_str(), "not idempotent for {url}");
    let reparsed = Url::parse(once.as_str()).expect("a canonical URL re-parses");
    assert_eq!(
        reparsed.as_str(),
        once.as_str(),
        "unstable serialisation for {url}"
    );
}

/// Canonicalisation of an arbitrary string parsed as a URL (alone and joined to a base): http(s)
/// only, no fragment, idempotent, stable when re-parsed; with and without the configurable steps.
pub fn canonicalize(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let base = Url::parse("http://fuzz.example/a/b?c=d").expect("valid base");
    let inputs = [Url::parse(s).ok(), base.join(s).ok()];
    for url in inputs.iter().flatten() {
        check_canonical(url, canonicalize_url);
        for c in canonicalizers() {
            check_canonical(url, |u| c.canonicalize(u));
        }
    }
    let c = &canonicalizers()[0];
    if let Some(r) = c.resolve(&base, s) {
        assert_eq!(c.canonicalize(&r).as_ref(), Some(&r));
    }
}

/// `decode_html` on arbitrary bytes with an arbitrary Content-Type: never panics, and valid
/// UTF-8 without a BOM decoded as UTF-8 comes back unchanged.
pub fn charset(data: &[u8]) {
    let Some((ct, body)) = split_content_type(data, 64) else {
        return;
    };
    let (text, encoding) = trawl_parser::decode_html(body, ct);
    let _ = trawl_parser::charset_from_content_type(ct.unwrap_or(""));
    let _ = trawl_parser::is_html(ct);
    if encoding.name() == "UTF-8" && !body.starts_with(b"\xEF\xBB\xBF") {
        if let Ok(s) = std::str::from_utf8(body) {
            assert_eq!(&*text, s);
        }
    }
}

/// `parse_sitemap` on arbitrary bytes (XML, text, gzip): never panics, respects the URL limit,
/// returns only canonical http(s) URLs.
pub fn sitemap(data: &[u8]) {
    let base = Url::parse("https://fuzz.example/sitemap.xml").expect("valid base");
    let limits = SitemapLimits {
        max_urls: 20,
        max_bytes: 1 << 20,
        ..SitemapLimits::default()
    };
    let ct = data
        .first()
        .is_some_and(|b| b & 1 == 1)
        .then_some("text/plain");
    if let Ok(s) = parse_sitemap(data, ct, &base, &limits) {
        assert!(s.entries().len() <= 20);
        for e in s.entries() {
            assert!(matches!(e.url.scheme(), "http" | "https"));
            assert_eq!(canonicalize_url(&e.url).as_ref(), Some(&e.url));
        }
    }
}
