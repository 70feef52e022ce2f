//! Sitemaps through the public API: urlset, index, text, gzip, limits, malformed input, bombs.

use std::io::Write;
use std::time::{Duration, Instant};

use trawl_parser::{parse_sitemap, ParseError, Sitemap, SitemapLimits};
use url::Url;

fn base() -> Url {
    Url::parse("https://example.com/sitemap.xml").unwrap()
}

fn parse(body: &[u8]) -> Result<Sitemap, ParseError> {
    parse_sitemap(body, None, &base(), &SitemapLimits::default())
}

fn urls(s: &Sitemap) -> Vec<&str> {
    s.entries().iter().map(|e| e.url.as_str()).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

const URLSET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>https://Example.com/a?x=1&amp;y=2#frag</loc>
    <lastmod> 2024-05-01T10:00:00+00:00 </lastmod>
    <changefreq>daily</changefreq>
    <image:image><image:loc>https://example.com/img.png</image:loc></image:image>
  </url>
  <url><loc><![CDATA[https://example.com/b]]></loc></url>
  <url><loc>/relative</loc><lastmod></lastmod></url>
  <url><loc>ftp://example.com/file</loc></url>
  <url><lastmod>2024-01-01</lastmod></url>
  <url><loc>https://example.com/&custom;</loc></url>
</urlset>"#;

#[test]
fn urlset_with_lastmod_cdata_entities_and_extensions() {
    let s = parse(URLSET.as_bytes()).unwrap();
    assert!(!s.is_index());
    assert_eq!(
        urls(&s),
        [
            "https://example.com/a?x=1&y=2",
            "https://example.com/b",
            "https://example.com/relative"
        ]
    );
    assert_eq!(
        s.entries()[0].lastmod.as_deref(),
        Some("2024-05-01T10:00:00+00:00")
    );
    assert_eq!(s.entries()[1].lastmod, None);
    assert_eq!(s.entries()[2].lastmod, None);
    // ftp, missing <loc>, unknown entity.
    assert_eq!(s.invalid(), 3);
    assert_eq!(s.dropped(), 0);
}

#[test]
fn sitemap_index_namespaced_prefix_and_plain() {
    let prefixed = r#"<?xml version="1.0"?>
<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sm:sitemap><sm:loc>https://example.com/s1.xml.gz</sm:loc><sm:lastmod>2024-02-02</sm:lastmod></sm:sitemap>
  <sm:sitemap><sm:loc>https://example.com/s2.xml</sm:loc></sm:sitemap>
</sm:sitemapindex>"#;
    let plain = "<sitemapindex><sitemap><loc>https://example.com/s1.xml.gz</loc>\
                 <lastmod>2024-02-02</lastmod></sitemap><sitemap><loc>https://example.com/s2.xml</loc>\
                 </sitemap></sitemapindex>";
    for doc in [prefixed, plain] {
        let s = parse(doc.as_bytes()).unwrap();
        assert!(s.is_index(), "{doc}");
        let Sitemap::Index { sitemaps, .. } = &s else {
            unreachable!()
        };
        assert_eq!(
            urls(&s),
            [
                "https://example.com/s1.xml.gz",
                "https://example.com/s2.xml"
            ]
        );
        assert_eq!(sitemaps[0].lastmod.as_deref(), Some("2024-02-02"));
    }
    // <url> entries inside an index are not child sitemaps.
    let s =
        parse(b"<sitemapindex><url><loc>https://example.com/x</loc></url></sitemapindex>").unwrap();
    assert!(s.is_index() && s.entries().is_empty());
}

#[test]
fn plain_text_sitemap() {
    let body = b"\xEF\xBB\xBFhttps://example.com/one\r\n\n  https://EXAMPLE.com:443/two#x  \n\
                 relative/path\nmailto:x@example.com\nhttps://example.com/three";
    for ct in [None, Some("text/plain; charset=utf-8")] {
        let s = parse_sitemap(body, ct, &base(), &SitemapLimits::default()).unwrap();
        assert!(!s.is_index());
        assert_eq!(
            urls(&s),
            [
                "https://example.com/one",
                "https://example.com/two",
                "https://example.com/three"
            ]
        );
        assert_eq!(s.invalid(), 2);
    }
}

#[test]
fn gzip_is_detected_by_magic_bytes() {
    let s = parse_sitemap(
        &gzip(URLSET.as_bytes()),
        Some("application/octet-stream"),
        &base(),
        &SitemapLimits::default(),
    )
    .unwrap();
    assert_eq!(s.entries().len(), 3);
    let s = parse(&gzip(b"https://example.com/gz-text\n")).unwrap();
    assert_eq!(urls(&s), ["https://example.com/gz-text"]);
    // Truncated gzip: an error, not a panic.
    let gz = gzip(URLSET.as_bytes());
    let e = parse(&gz[..gz.len() / 2]).unwrap_err();
    assert!(matches!(e, ParseError::SitemapInvalid { .. }), "{e}");
    assert!(
        e.to_string().contains("https://example.com/sitemap.xml"),
        "{e}"
    );
}

#[test]
fn urls_over_the_limit_are_dropped_and_counted() {
    let mut doc = String::from("<urlset>");
    for i in 0..25 {
        doc.push_str(&format!("<url><loc>https://example.com/p{i}</loc></url>"));
    }
    doc.push_str("</urlset>");
    let limits = SitemapLimits {
        max_urls: 10,
        ..SitemapLimits::default()
    };
    let s = parse_sitemap(doc.as_bytes(), None, &base(), &limits).unwrap();
    assert_eq!(s.entries().len(), 10);
    assert_eq!(s.entries()[9].url.path(), "/p9");
    assert_eq!(s.dropped(), 15);

    let text: String = (0..12)
        .map(|i| format!("https://example.com/t{i}\n"))
        .collect();
    let s = parse_sitemap(text.as_bytes(), None, &base(), &limits).unwrap();
    assert_eq!((s.entries().len(), s.dropped()), (10, 2));
}

#[test]
fn default_limits_are_the_protocol_limits() {
    let l = SitemapLimits::default();
    assert_eq!(l.max_urls, 50_000);
    assert_eq!(l.max_bytes, 50 * 1024 * 1024);
    assert_eq!(l.max_depth, 3);
    // 50,001 URLs with the default limits: one dropped.
    let text: String = (0..50_001)
        .map(|i| format!("https://example.com/{i}\n"))
        .collect();
    let s = parse(text.as_bytes()).unwrap();
    assert_eq!((s.entries().len(), s.dropped()), (50_000, 1));
}

#[test]
fn oversized_files_fail_plain_and_gzipped() {
    let limits = SitemapLimits {
        max_bytes: 1000,
        ..SitemapLimits::default()
    };
    let big = format!("<urlset>{}</urlset>", " ".repeat(2000));
    let e = parse_sitemap(big.as_bytes(), None, &base(), &limits).unwrap_err();
    assert!(
        matches!(e, ParseError::SitemapTooLarge { limit: 1000, .. }),
        "{e}"
    );
    // A gzip bomb: 20 MiB of zeros compresses to ~20 KiB; stops at the (default) limit.
    let bomb = gzip(&vec![b' '; 20 * 1024 * 1024]);
    assert!(bomb.len() < 100 * 1024);
    let e = parse_sitemap(&bomb, None, &base(), &limits).unwrap_err();
    assert!(matches!(e, ParseError::SitemapTooLarge { .. }), "{e}");
    // Exactly at the limit is fine.
    let exact = format!("<urlset>{}</urlset>", " ".repeat(1000 - 17));
    assert_eq!(exact.len(), 1000);
    parse_sitemap(&gzip(exact.as_bytes()), None, &base(), &limits).unwrap();
}

#[test]
fn malformed_xml_is_an_error_not_a_panic() {
    let cases: &[&[u8]] = &[
        b"<urlset><url><loc>https://example.com/</loc></urlset>",
        b"<urlset><url><loc>https://example.com/</loc></url>",
        b"<urlset><url><loc>https://example.com/</lo",
        b"<urlset></url></urlset>",
        b"<html><body>Not found</body></html>",
        b"<rss><channel></channel></rss>",
        b"<",
        b"<!-- only a comment -->",
    ];
    for body in cases {
        let e = parse(body).unwrap_err();
        assert!(
            matches!(e, ParseError::SitemapInvalid { .. }),
            "{}: {e}",
            String::from_utf8_lossy(body)
        );
    }
    let e = parse(b"<html></html>").unwrap_err();
    assert!(e.to_string().contains("<html>"), "{e}");
    // Empty documents are empty sitemaps.
    assert!(parse(b"<urlset/>").unwrap().entries().is_empty());
    assert!(parse(b"").unwrap().entries().is_empty());
}

#[test]
fn entity_bomb_stays_bounded() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    doc.push_str("<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..=9 {
        let prev = format!("&lol{};", i - 1);
        doc.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", prev.repeat(10)));
    }
    doc.push_str("]>\n<urlset><url><loc>https://example.com/&lol9;</loc></url>");
    doc.push_str("<url><loc>https://example.com/ok</loc></url></urlset>");
    let start = Instant::now();
    let s = parse(doc.as_bytes()).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    // The entity is not expanded: that entry is skipped, the other one kept.
    assert_eq!(urls(&s), ["https://example.com/ok"]);
    assert_eq!(s.invalid(), 1);
}

#[test]
fn limits_from_toml_with_defaults() {
    let l: SitemapLimits = toml::from_str("max_urls = 10").unwrap();
    assert_eq!(
        l,
        SitemapLimits {
            max_urls: 10,
            ..SitemapLimits::default()
        }
    );
    assert!(toml::from_str::<SitemapLimits>("max_url = 10").is_err());
}
