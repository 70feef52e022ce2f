//! Extraction through the public API: link kinds, base, nofollow, robots, titles, caps, charsets.

use encoding_rs::{Encoding, SHIFT_JIS, UTF_16LE, WINDOWS_1251};
use trawl_parser::{Link, LinkKind, Parsed, Parser, ParserConfig, RobotsDirectives};
use url::Url;

fn page() -> Url {
    Url::parse("https://example.com/dir/page.html").unwrap()
}

fn extract(html: &str) -> Parsed {
    Parser::new(ParserConfig::default()).extract(&page(), html.as_bytes(), Some("text/html"), None)
}

fn urls(p: &Parsed) -> Vec<&str> {
    p.links.iter().map(|l| l.url.as_str()).collect()
}

fn follow(p: &Parsed) -> Vec<&str> {
    p.links_to_follow().map(Url::as_str).collect()
}

#[test]
fn every_link_kind_in_document_order() {
    let p = extract(
        r#"<html><head>
        <link rel="canonical" href="/canon">
        <link rel="next" href="p2"><link rel="Prev" href="p0">
        <link rel="alternate" hreflang="de" href="/de/">
        <link rel="stylesheet" href="/s.css"><link rel="icon" href="/f.ico">
        <link rel="preload" href="/font.woff2"><link rel="alternate stylesheet" href="/alt.css">
        <link rel="author" href="/humans.txt">
        <meta http-equiv="Refresh" content="5; URL='/refreshed'">
        </head><body>
        <a href="a.html">a</a>
        <map><area href="/area" alt=""></map>
        <iframe src="//frames.example.com/if"></iframe>
        <a>no href</a> <a href="javascript:void(0)">js</a> <a href="mailto:x@y.z">m</a>
        <a href="tel:1">t</a> <a href="data:,x">d</a> <a href="ftp://f/">f</a>
        </body></html>"#,
    );
    let got: Vec<(&str, LinkKind)> = p.links.iter().map(|l| (l.url.as_str(), l.kind)).collect();
    assert_eq!(
        got,
        [
            ("https://example.com/canon", LinkKind::Canonical),
            ("https://example.com/dir/p2", LinkKind::Next),
            ("https://example.com/dir/p0", LinkKind::Prev),
            ("https://example.com/de/", LinkKind::Alternate),
            ("https://example.com/refreshed", LinkKind::Refresh),
            ("https://example.com/dir/a.html", LinkKind::Anchor),
            ("https://example.com/area", LinkKind::Area),
            ("https://frames.example.com/if", LinkKind::Iframe),
        ]
    );
    assert_eq!(follow(&p), urls(&p), "every kind found is followable");
    assert_eq!(
        p.canonical.as_ref().unwrap().as_str(),
        "https://example.com/canon"
    );
    assert_eq!(p.dropped_links, 0);
}

#[test]
fn frames_in_a_frameset() {
    let p = extract(
        r#"<html><head><title>F</title></head><frameset cols="50%,50%">
        <frame src="left.html"><frame src="/right.html"><frame></frameset></html>"#,
    );
    let got: Vec<(&str, LinkKind)> = p.links.iter().map(|l| (l.url.as_str(), l.kind)).collect();
    assert_eq!(
        got,
        [
            ("https://example.com/dir/left.html", LinkKind::Frame),
            ("https://example.com/right.html", LinkKind::Frame),
        ]
    );
}

#[test]
fn base_href_applies_to_all_links_and_only_the_first_counts() {
    let p = extract(
        r#"<head><base href="/other/sub/"><base href="http://ignored.example/"></head>
        <a href="x">x</a><a href="../y">y</a><a href="/z">z</a>"#,
    );
    assert_eq!(
        urls(&p),
        [
            "https://example.com/other/sub/x",
            "https://example.com/other/y",
            "https://example.com/z"
        ]
    );
    // A <base> after the links still applies (the document has one base URL).
    let p = extract(r#"<a href="x">x</a><base href="https://cdn.example.net/root/">"#);
    assert_eq!(urls(&p), ["https://cdn.example.net/root/x"]);
    // A base without href is skipped; a javascript: base is ignored.
    let p = extract(r#"<base target="_blank"><base href="javascript:alert(1)"><a href="x">x</a>"#);
    assert_eq!(urls(&p), ["https://example.com/dir/x"]);
}

#[test]
fn rel_nofollow_marks_links_and_is_not_followed() {
    let p = extract(
        r#"<a href="/paid" rel="Sponsored NOFOLLOW">p</a>
        <map><area href="/area" rel="nofollow"></map>
        <a href="/free" rel="noopener">f</a>
        <a href="/both" rel="nofollow">1</a><a href="/both">2</a>"#,
    );
    let marked: Vec<(&str, bool)> = p.links.iter().map(|l| (l.url.path(), l.nofollow)).collect();
    assert_eq!(
        marked,
        [
            ("/paid", true),
            ("/area", true),
            ("/free", false),
            ("/both", false)
        ],
        "a URL also linked without nofollow is followable"
    );
    assert_eq!(p.nofollow_links, 2);
    assert_eq!(
        follow(&p),
        ["https://example.com/free", "https://example.com/both"]
    );
}

#[test]
fn meta_robots_directives() {
    let p = extract(r#"<meta name="ROBOTS" content="NoIndex, NoFollow"><a href="/x">x</a>"#);
    assert_eq!(
        p.robots,
        RobotsDirectives {
            noindex: true,
            nofollow: true
        }
    );
    assert_eq!(p.links.len(), 1, "links are still reported");
    assert_eq!(follow(&p), Vec::<&str>::new(), "but none is followed");

    let p = extract(r#"<meta name="robots" content="none">"#);
    assert_eq!(
        p.robots,
        RobotsDirectives {
            noindex: true,
            nofollow: true
        }
    );
    let p =
        extract(r#"<meta name="robots" content="noindex"><meta name="trawl" content="nofollow">"#);
    assert_eq!(
        p.robots,
        RobotsDirectives {
            noindex: true,
            nofollow: true
        }
    );
    let p = extract(r#"<meta name="googlebot" content="noindex, nofollow"><a href="/x">x</a>"#);
    assert_eq!(p.robots, RobotsDirectives::default());
    assert_eq!(follow(&p), ["https://example.com/x"]);
    let p = extract(r#"<meta name="robots" content="index, follow">"#);
    assert_eq!(p.robots, RobotsDirectives::default());
}

#[test]
fn x_robots_tag_header_combines_with_meta() {
    let parser = Parser::new(ParserConfig::default());
    let body = br#"<meta name="robots" content="noindex"><a href="/x">x</a>"#;
    let p = parser.extract(&page(), body, None, Some("nofollow"));
    assert_eq!(
        p.robots,
        RobotsDirectives {
            noindex: true,
            nofollow: true
        }
    );
    assert_eq!(p.links_to_follow().count(), 0);

    let p = parser.extract(
        &page(),
        b"<a href=/x>x</a>",
        None,
        Some("otherbot: nofollow"),
    );
    assert_eq!(p.robots, RobotsDirectives::default());
    assert_eq!(p.links_to_follow().count(), 1);

    let p = parser.extract(
        &page(),
        b"<a href=/x>x</a>",
        None,
        Some("trawl: noindex, nofollow"),
    );
    assert_eq!(
        p.robots,
        RobotsDirectives {
            noindex: true,
            nofollow: true
        }
    );
}

#[test]
fn title_entities_whitespace_and_first_wins() {
    let p = extract("<title>\n  Caf&eacute; &amp;\t&lt;Bar&gt;\n\n  &#x1F600; &nbsp;x </title><title>second</title>");
    assert_eq!(p.title.as_deref(), Some("Café & <Bar> 😀 \u{a0}x"));
    assert_eq!(extract("<title>   </title>").title, None);
    assert_eq!(extract("<p>no title</p>").title, None);
    // An SVG <title> is not the document title.
    let p = extract("<body><svg><title>icon</title></svg><title>Real</title>");
    assert_eq!(p.title.as_deref(), Some("Real"));
}

#[test]
fn repeated_and_fragment_only_hrefs_count_as_their_first_occurrence() {
    let p = extract(
        r##"<base href="https://example.com/other/">
        <a href="#top">t</a><a href=" #a ">a</a><a href="#">e</a>
        <a href="x.html" rel="nofollow">1</a><a href="x.html">2</a><a href="x.html" rel="nofollow">3</a>
        <a href="y.html">y</a><link rel="canonical" href="y.html">"##,
    );
    let links: Vec<(&str, LinkKind, bool)> = p
        .links
        .iter()
        .map(|l| (l.url.as_str(), l.kind, l.nofollow))
        .collect();
    assert_eq!(
        links,
        [
            ("https://example.com/other/", LinkKind::Anchor, false),
            ("https://example.com/other/x.html", LinkKind::Anchor, false),
            ("https://example.com/other/y.html", LinkKind::Anchor, false),
        ],
        "a repeat without nofollow still makes the link followable"
    );
    assert_eq!(
        p.canonical.as_ref().map(Url::as_str),
        Some("https://example.com/other/y.html"),
        "a canonical link repeating an anchor's href is still the canonical"
    );
    assert_eq!(p.dropped_links, 0);
}

#[test]
fn duplicates_keep_the_first_occurrence() {
    let p = extract(
        r##"<link rel="canonical" href="https://EXAMPLE.com:443/dir/a.html">
        <a href="a.html">1</a><a href="./a.html#frag">2</a><a href="%61.html">3</a>
        <a href="b.html">b</a><a href="https://example.com/dir/page.html">self</a>"##,
    );
    assert_eq!(
        p.links
            .iter()
            .map(|l| (l.url.as_str(), l.kind))
            .collect::<Vec<_>>(),
        [
            ("https://example.com/dir/a.html", LinkKind::Canonical),
            ("https://example.com/dir/b.html", LinkKind::Anchor),
            ("https://example.com/dir/page.html", LinkKind::Anchor),
        ]
    );
    assert_eq!(p.dropped_links, 0, "duplicates are not drops");
}

#[test]
fn caps_count_dropped_links() {
    let mut html = String::new();
    for i in 0..50 {
        html.push_str(&format!(
            "<a href=\"/p{i}\">{i}</a><a href=\"/p{i}#again\">dup</a>"
        ));
    }
    let long = format!("/{}", "x".repeat(100));
    html.push_str(&format!(
        "<a href=\"{long}\">long</a><a href=\"{long}\">long again</a>"
    ));
    let parser = Parser::new(ParserConfig {
        max_outlinks: 10,
        max_url_len: 60,
        ..ParserConfig::default()
    });
    let p = parser.extract(&page(), html.as_bytes(), None, None);
    assert_eq!(p.links.len(), 10);
    assert_eq!(p.links[9].url.path(), "/p9");
    assert_eq!(
        p.dropped_links, 41,
        "40 over the cap + 1 distinct too-long URL"
    );

    // Length alone.
    let parser = Parser::new(ParserConfig {
        max_outlinks: 1000,
        max_url_len: 60,
        ..ParserConfig::default()
    });
    let p = parser.extract(
        &page(),
        format!("<link rel=canonical href=\"{long}\"><a href=\"/ok\">ok</a>").as_bytes(),
        None,
        None,
    );
    assert_eq!(urls(&p), ["https://example.com/ok"]);
    assert_eq!(p.canonical, None, "too-long canonical is dropped too");
    assert_eq!(p.dropped_links, 1);
}

#[test]
fn links_to_follow_skips_other_kinds() {
    let mut p = extract(r#"<a href="/a">a</a><a href="/b">b</a>"#);
    p.links[1].kind = LinkKind::Other;
    assert_eq!(follow(&p), ["https://example.com/a"]);
    p.links.push(Link {
        url: Url::parse("https://example.com/c").unwrap(),
        kind: LinkKind::Alternate,
        nofollow: false,
    });
    assert_eq!(
        follow(&p),
        ["https://example.com/a", "https://example.com/c"]
    );
}

fn encode(enc: &'static Encoding, s: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = enc.encode(s);
    assert!(!unmappable, "test text must be encodable in {}", enc.name());
    bytes.into_owned()
}

#[test]
fn shift_jis_via_meta_charset() {
    let html = "<html><head><meta charset=\"Shift_JIS\"><title>日本語のページ</title></head>\
                <body><a href=\"/ページ\">リンク</a></body></html>";
    let body = encode(SHIFT_JIS, html);
    assert!(
        std::str::from_utf8(&body).is_err(),
        "input really is not UTF-8"
    );
    let p = Parser::new(ParserConfig::default()).extract(&page(), &body, Some("text/html"), None);
    assert_eq!(p.encoding, "Shift_JIS");
    assert_eq!(p.title.as_deref(), Some("日本語のページ"));
    assert_eq!(
        urls(&p),
        ["https://example.com/%E3%83%9A%E3%83%BC%E3%82%B8"],
        "hrefs are decoded then UTF-8 percent-encoded"
    );
}

#[test]
fn windows_1251_via_content_type_header() {
    let body = encode(WINDOWS_1251, "<title>Привет, мир</title>");
    let p = Parser::new(ParserConfig::default()).extract(
        &page(),
        &body,
        Some("text/html; charset=windows-1251"),
        None,
    );
    assert_eq!(p.encoding, "windows-1251");
    assert_eq!(p.title.as_deref(), Some("Привет, мир"));
}

#[test]
fn utf16le_with_bom() {
    let mut body = vec![0xFF, 0xFE];
    for unit in "<title>Ünïcödé ✓</title><a href=\"/u\">u</a>".encode_utf16() {
        body.extend_from_slice(&unit.to_le_bytes());
    }
    let p = Parser::new(ParserConfig::default()).extract(&page(), &body, Some("text/html"), None);
    assert_eq!(p.encoding, UTF_16LE.name());
    assert_eq!(p.title.as_deref(), Some("Ünïcödé ✓"));
    assert_eq!(urls(&p), ["https://example.com/u"]);
}

#[test]
fn invalid_utf8_falls_back_to_windows_1252() {
    let body = b"<title>Caf\xe9 \x93quoted\x94</title><a href='/x'>x</a>";
    let p = Parser::new(ParserConfig::default()).extract(&page(), body, None, None);
    assert_eq!(p.encoding, "windows-1252");
    assert_eq!(p.title.as_deref(), Some("Café \u{201c}quoted\u{201d}"));
    assert_eq!(urls(&p), ["https://example.com/x"]);
}

#[test]
fn hostile_input_never_panics() {
    let parser = Parser::new(ParserConfig::default());
    let huge = format!("<a href=\"/{}\">", "a".repeat(1 << 20));
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0; 4096],
        b"<a href=".to_vec(),
        b"<a href=\"/unterminated".to_vec(),
        b"<title>open".to_vec(),
        b"<meta http-equiv=refresh content=\"0;url=\"><meta charset=\"".to_vec(),
        b"<base href=\"http://[::1\"><a href=\"http://[\">x</a><a href=\"http://a b/\">".to_vec(),
        huge.into_bytes(),
        b"\xfe\xff\xd8\x00".to_vec(),
        b"\xef\xbb".to_vec(),
    ];
    for body in &cases {
        let p = parser.extract(&page(), body, None, Some("\u{0}:,::"));
        assert!(p.links.len() <= 1);
    }
    // Deterministic binary garbage mixed with markup characters.
    let mut g = 0x853C_49E6_748F_EA9Bu64;
    for len in [1, 7, 100, 1000, 10_000] {
        let body: Vec<u8> = (0..len)
            .map(|_| {
                g ^= g << 13;
                g ^= g >> 7;
                g ^= g << 17;
                match g % 8 {
                    0 => b'<',
                    1 => b'>',
                    2 => b'"',
                    3 => b'=',
                    _ => (g >> 16) as u8,
                }
            })
            .collect();
        let p = parser.extract(&page(), &body, Some("text/html; charset=garbage"), None);
        assert!(p.links.len() <= 1000);
    }
}

#[test]
fn config_from_toml_with_defaults_and_unknown_keys_rejected() {
    let c: ParserConfig = toml::from_str("max_outlinks = 5").unwrap();
    assert_eq!(
        c,
        ParserConfig {
            max_outlinks: 5,
            max_url_len: 2048,
            ..ParserConfig::default()
        }
    );
    assert!(toml::from_str::<ParserConfig>("max_links = 5").is_err());
    let round = toml::to_string(&ParserConfig::default()).unwrap();
    assert_eq!(
        toml::from_str::<ParserConfig>(&round).unwrap(),
        ParserConfig::default()
    );
}

#[test]
fn links_and_canonical_go_through_the_configured_canonicalizer() {
    let html = r#"<link rel=canonical href="/p;jsessionid=S1?utm_source=x&id=3">
        <a href="/list?b=2&utm_medium=m&a=1&fbclid=z">l</a>
        <a href="/list?a=1&b=2">same list once sorted</a>
        <a href="/q?SID=1">q</a>"#;
    // Defaults: tracking parameters stripped, order kept.
    let p = extract(html);
    assert_eq!(
        urls(&p),
        [
            "https://example.com/p?id=3",
            "https://example.com/list?b=2&a=1",
            "https://example.com/list?a=1&b=2",
            "https://example.com/q"
        ]
    );
    assert_eq!(
        p.canonical.as_ref().map(Url::as_str),
        Some("https://example.com/p?id=3")
    );
    // sort_query merges the two list URLs; an empty strip list keeps everything.
    let sorted = Parser::new(ParserConfig {
        sort_query: true,
        strip_query_params: vec![],
        ..ParserConfig::default()
    });
    let p = sorted.extract(&page(), html.as_bytes(), None, None);
    assert_eq!(
        urls(&p),
        [
            "https://example.com/p;jsessionid=S1?id=3&utm_source=x",
            "https://example.com/list?a=1&b=2&fbclid=z&utm_medium=m",
            "https://example.com/list?a=1&b=2",
            "https://example.com/q?SID=1"
        ]
    );
}
