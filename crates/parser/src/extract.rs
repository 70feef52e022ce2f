//! One pass over a parsed page: links of every kind, `<base href>`, `rel=canonical`, the title,
//! and robots directives from `<meta name=robots>` and the `X-Robots-Tag` header.
//!
//! The document is parsed once with `scraper` and walked once in document order, matching on the
//! element name (no CSS selectors). Raw `href`s are collected borrowed from the tree and resolved
//! afterwards, because the first `<base href>` applies to the whole document wherever it is.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use scraper::node::Element;
use scraper::{ElementRef, Html, Node};
use url::Url;

use crate::charset::decode_html;
use crate::linkset::{url_hash, IdentityHasher, LinkSet};
use crate::records::Extractor;
use crate::{Canonicalizer, ParserConfig};

const HTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// What kind of element or relation a link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// `<a href>`.
    Anchor,
    /// `<area href>`.
    Area,
    /// `<frame src>`.
    Frame,
    /// `<iframe src>`.
    Iframe,
    /// `<meta http-equiv=refresh content="N; url=...">`.
    Refresh,
    /// `<link rel=canonical href>`.
    Canonical,
    /// `<link rel=next href>`.
    Next,
    /// `<link rel=prev href>` (or `rel=previous`).
    Prev,
    /// `<link rel=alternate href>` (translations, feeds, print versions).
    Alternate,
    /// Reserved for other relations; never produced today and never followed. Resource links
    /// (stylesheet, icon, preload, ...) are not recorded at all.
    Other,
}

impl LinkKind {
    /// Whether a crawler should follow links of this kind (all but [`LinkKind::Other`]).
    pub fn is_followable(self) -> bool {
        !matches!(self, LinkKind::Other)
    }
}

/// One outgoing link, already resolved and canonicalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The canonical absolute URL.
    pub url: Url,
    /// Where the link came from (the first occurrence, if the URL appeared several times).
    pub kind: LinkKind,
    /// `rel=nofollow` on every `<a>`/`<area>` that pointed to this URL.
    pub nofollow: bool,
}

/// Robots directives for the page as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RobotsDirectives {
    /// Do not index (store as a result) this page.
    pub noindex: bool,
    /// Do not follow any link on this page.
    pub nofollow: bool,
}

impl RobotsDirectives {
    /// Applies one directive token (`noindex`, `nofollow`, `none`; others are ignored).
    fn apply(&mut self, token: &str) {
        if token.eq_ignore_ascii_case("noindex") {
            self.noindex = true;
        } else if token.eq_ignore_ascii_case("nofollow") {
            self.nofollow = true;
        } else if token.eq_ignore_ascii_case("none") {
            self.noindex = true;
            self.nofollow = true;
        }
    }

    /// Parses the `content` of a `<meta name=robots>`: comma- or space-separated tokens.
    pub fn from_meta_content(content: &str) -> RobotsDirectives {
        let mut d = RobotsDirectives::default();
        d.merge_meta_content(content);
        d
    }

    fn merge_meta_content(&mut self, content: &str) {
        for token in content.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
            self.apply(token);
        }
    }

    /// Parses an `X-Robots-Tag` header value (several headers may be joined with commas).
    ///
    /// A part may start with `botname:`; that agent then applies to the following parts until
    /// another agent is named. Directives for no agent or for `trawl` are applied.
    pub fn from_x_robots_tag(value: &str) -> RobotsDirectives {
        let mut d = RobotsDirectives::default();
        let mut applies = true;
        for part in value.split(',') {
            let mut part = part.trim();
            if let Some((agent, rest)) = part.split_once(':') {
                let agent = agent.trim();
                if is_agent_name(agent) {
                    applies = agent.eq_ignore_ascii_case("trawl");
                    part = rest;
                }
            }
            if applies {
                for token in part.split_ascii_whitespace() {
                    d.apply(token);
                }
            }
        }
        d
    }
}

/// Directives that take a `name: value` form and so must not be mistaken for a bot name.
fn is_agent_name(s: &str) -> bool {
    const VALUED: [&str; 4] = [
        "unavailable_after",
        "max-snippet",
        "max-image-preview",
        "max-video-preview",
    ];
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && !VALUED.iter().any(|v| s.eq_ignore_ascii_case(v))
}

/// Everything extracted from one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Canonical, de-duplicated (first occurrence wins), in document order, capped at
    /// `max_outlinks`.
    pub links: Vec<Link>,
    /// The first `<link rel=canonical>`, canonicalised.
    pub canonical: Option<Url>,
    /// The first `<title>`, trimmed and whitespace-collapsed; `None` if missing or empty.
    pub title: Option<String>,
    /// `<meta name=robots>` and `X-Robots-Tag` combined.
    pub robots: RobotsDirectives,
    /// The encoding used to decode the body (an `encoding_rs` name such as `"UTF-8"`).
    pub encoding: &'static str,
    /// Distinct links dropped for exceeding `max_outlinks` or `max_url_len`.
    pub dropped_links: usize,
    /// Links in `links` marked `rel=nofollow`.
    pub nofollow_links: usize,
    /// One JSON object per extraction rule whose `url` pattern matched the page (see
    /// [`crate::Extractor`]): `{"rule": <index>, "<field>": "value" | ["a", "b"] | null}`.
    /// Empty when the parser has no extractor or no rule matched.
    pub records: Vec<serde_json::Value>,
}

impl Parsed {
    /// The URLs a crawler should queue: none if the page says `nofollow`; otherwise every link
    /// not marked `rel=nofollow` whose kind is followable.
    pub fn links_to_follow(&self) -> impl Iterator<Item = &Url> {
        let page_nofollow = self.robots.nofollow;
        self.links
            .iter()
            .filter(move |l| !page_nofollow && !l.nofollow && l.kind.is_followable())
            .map(|l| &l.url)
    }
}

/// A link as found in the document, before resolution (borrowed from it where possible).
struct RawLink<'t> {
    href: Cow<'t, str>,
    kind: LinkKind,
    nofollow: bool,
}

/// Looks up an attribute in the null namespace by local name (a short linear scan).
fn attr<'a>(el: &'a Element, name: &str) -> Option<&'a str> {
    el.attrs
        .iter()
        .find(|(q, _)| q.ns.is_empty() && &*q.local == name)
        .map(|(_, v)| &**v)
}

fn has_token(list: &str, token: &str) -> bool {
    list.split_ascii_whitespace()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// Classifies a `<link rel>`; `None` for relations we do not record.
fn link_rel_kind(rel: &str) -> Option<LinkKind> {
    const RESOURCE: [&str; 9] = [
        "stylesheet",
        "icon",
        "preload",
        "prefetch",
        "modulepreload",
        "preconnect",
        "dns-prefetch",
        "manifest",
        "apple-touch-icon",
    ];
    let mut kind = None;
    for token in rel.split_ascii_whitespace() {
        if RESOURCE.iter().any(|r| token.eq_ignore_ascii_case(r)) {
            return None;
        }
        let this = if token.eq_ignore_ascii_case("canonical") {
            LinkKind::Canonical
        } else if token.eq_ignore_ascii_case("next") {
            LinkKind::Next
        } else if token.eq_ignore_ascii_case("prev") || token.eq_ignore_ascii_case("previous") {
            LinkKind::Prev
        } else if token.eq_ignore_ascii_case("alternate") {
            LinkKind::Alternate
        } else {
            continue;
        };
        // Priority when several apply: canonical > next > prev > alternate.
        kind = Some(match kind {
            Some(k) if rank(k) <= rank(this) => k,
            _ => this,
        });
    }
    kind
}

fn rank(k: LinkKind) -> u8 {
    match k {
        LinkKind::Canonical => 0,
        LinkKind::Next => 1,
        LinkKind::Prev => 2,
        _ => 3,
    }
}

/// The URL part of a `<meta http-equiv=refresh>` content (WHATWG "shared declarative refresh
/// steps"): `5; url=/next`, `0;URL='x'`, `3, /x`. `None` when it names no URL.
pub fn refresh_url(content: &str) -> Option<&str> {
    let s = content.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let time_end = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    if time_end == 0 {
        return None;
    }
    let s = &s[time_end..];
    let trimmed = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let s = match trimmed.as_bytes().first() {
        None => return None,
        Some(b';' | b',') => &trimmed[1..],
        Some(_) if trimmed.len() != s.len() => trimmed,
        Some(_) => return None,
    };
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if s.is_empty() {
        return None;
    }
    let mut url = s;
    if s.len() >= 3 && s.as_bytes()[..3].eq_ignore_ascii_case(b"url") {
        let after = s[3..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        if let Some(value) = after.strip_prefix('=') {
            url = value.trim_start_matches(|c: char| c.is_ascii_whitespace());
        }
    }
    let url = match url.as_bytes().first() {
        Some(&q @ (b'"' | b'\'')) => {
            let inner = &url[1..];
            inner.find(char::from(q)).map_or(inner, |end| &inner[..end])
        }
        _ => url.trim_end_matches(|c: char| c.is_ascii_whitespace()),
    };
    (!url.is_empty()).then_some(url)
}

/// Appends `text` to `out` with runs of ASCII whitespace collapsed to one space and no leading
/// space; `pending_space` carries a trailing run over to the next text node.
fn push_collapsed(out: &mut String, text: &str, pending_space: &mut bool) {
    for (i, word) in text.split(|c: char| c.is_ascii_whitespace()).enumerate() {
        if i > 0 {
            *pending_space = true;
        }
        if word.is_empty() {
            continue;
        }
        if *pending_space && !out.is_empty() {
            out.push(' ');
        }
        *pending_space = false;
        out.push_str(word);
    }
}

pub(crate) fn collapsed_text(el: ElementRef<'_>) -> Option<String> {
    let mut out = String::new();
    let mut pending = false;
    for text in el.text() {
        push_collapsed(&mut out, text, &mut pending);
    }
    (!out.is_empty()).then_some(out)
}

/// What one pass over a document's elements collects, whichever way the document is read (a
/// DOM walk or a token stream): raw links, robots directives, the first `<base href>` and the
/// first title. [`Collector::finish`] resolves and de-duplicates the links.
pub(crate) struct Collector<'p, 't> {
    page: &'p Url,
    robots: RobotsDirectives,
    title: Option<String>,
    seen_title: bool,
    doc_base: Option<Url>,
    seen_base: bool,
    raw: Vec<RawLink<'t>>,
}

impl<'p, 't> Collector<'p, 't> {
    pub(crate) fn new(page: &'p Url, x_robots_tag: Option<&str>) -> Collector<'p, 't> {
        Collector {
            page,
            robots: x_robots_tag
                .map(RobotsDirectives::from_x_robots_tag)
                .unwrap_or_default(),
            title: None,
            seen_title: false,
            doc_base: None,
            seen_base: false,
            raw: Vec::new(),
        }
    }

    /// Takes in one element (`name` lower-case; `html` whether it is in the HTML namespace;
    /// `attr` looks up an attribute by name). Returns true when it is the document's title,
    /// whose text the caller then passes to [`Collector::set_title`].
    pub(crate) fn element(
        &mut self,
        name: &str,
        html: bool,
        attr: impl Fn(&str) -> Option<Cow<'t, str>>,
    ) -> bool {
        let mut push = |href: Cow<'t, str>, kind: LinkKind, nofollow: bool| {
            self.raw.push(RawLink {
                href,
                kind,
                nofollow,
            })
        };
        match name {
            "a" | "area" => {
                if let Some(href) = attr("href") {
                    let nofollow = attr("rel").is_some_and(|r| has_token(&r, "nofollow"));
                    let kind = if name == "a" {
                        LinkKind::Anchor
                    } else {
                        LinkKind::Area
                    };
                    push(href, kind, nofollow);
                }
            }
            "link" => {
                if let (Some(href), Some(kind)) = (
                    attr("href"),
                    attr("rel").and_then(|rel| link_rel_kind(&rel)),
                ) {
                    push(href, kind, false);
                }
            }
            "iframe" | "frame" => {
                if let Some(src) = attr("src") {
                    let kind = if name == "iframe" {
                        LinkKind::Iframe
                    } else {
                        LinkKind::Frame
                    };
                    push(src, kind, false);
                }
            }
            "meta" => {
                if let Some(content) = attr("content") {
                    if let Some(meta_name) = attr("name") {
                        let meta_name = meta_name.trim();
                        if meta_name.eq_ignore_ascii_case("robots")
                            || meta_name.eq_ignore_ascii_case("trawl")
                        {
                            self.robots.merge_meta_content(&content);
                        }
                    } else if attr("http-equiv")
                        .is_some_and(|h| h.trim().eq_ignore_ascii_case("refresh"))
                    {
                        if let Some(href) = refresh_url(&content) {
                            push(Cow::Owned(href.to_string()), LinkKind::Refresh, false);
                        }
                    }
                }
            }
            "base" if !self.seen_base && html => {
                if let Some(href) = attr("href") {
                    self.seen_base = true;
                    // Ignored (page URL kept) if it does not resolve to http(s).
                    self.doc_base = self
                        .page
                        .join(href.trim_matches(|c: char| c.is_ascii_whitespace()))
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https"));
                }
            }
            "title" if !self.seen_title && html => {
                self.seen_title = true;
                return true;
            }
            _ => {}
        }
        false
    }

    /// Sets the text of the document's title (whitespace-collapsed; `None` when empty).
    pub(crate) fn set_title(&mut self, title: Option<String>) {
        self.title = title;
    }

    /// The URL links resolve against: the first valid `<base href>`, else the page.
    pub(crate) fn base(&self) -> &Url {
        self.doc_base.as_ref().unwrap_or(self.page)
    }

    /// Resolves, canonicalises, de-duplicates and caps the links.
    pub(crate) fn finish(
        self,
        config: &ParserConfig,
        canon: &Canonicalizer,
        encoding: &'static encoding_rs::Encoding,
        records: Vec<serde_json::Value>,
    ) -> Parsed {
        let base = self.base().clone();
        let mut set = LinkSet::new(config, self.raw.len());
        let mut canonical = None;
        let mut seen_canonical = false;
        // An href seen before (with the same kind and nofollow) resolves to the same URL and
        // changes nothing in the set, and every fragment-only href resolves to the base itself:
        // both are skipped before resolving. In the Rust docs 18% of hrefs are fragment-only and
        // 30% repeat one earlier on their page. Keyed by a cheap hash, checked against the first
        // href with that hash (a collision only costs a resolve).
        let mut seen_hrefs: HashMap<u64, usize, BuildHasherDefault<IdentityHasher>> =
            HashMap::with_capacity_and_hasher(self.raw.len(), BuildHasherDefault::default());
        for (i, r) in self.raw.iter().enumerate() {
            let href = href_key(&r.href);
            let hash = url_hash(href) ^ ((r.kind as u64) << 56) ^ (u64::from(r.nofollow) << 63);
            match seen_hrefs.entry(hash) {
                Entry::Occupied(first) => {
                    let first = &self.raw[*first.get()];
                    if href_key(&first.href) == href
                        && first.kind == r.kind
                        && first.nofollow == r.nofollow
                    {
                        continue;
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
            let Some(url) = canon.resolve(&base, href) else {
                continue;
            };
            let first_canonical = r.kind == LinkKind::Canonical && !seen_canonical;
            if first_canonical {
                seen_canonical = true;
                if url.as_str().len() <= config.max_url_len {
                    canonical = Some(url.clone());
                }
            }
            set.push(url, r.kind, r.nofollow);
        }
        let nofollow_links = set.links.iter().filter(|l| l.nofollow).count();
        Parsed {
            links: set.links,
            canonical,
            title: self.title,
            robots: self.robots,
            encoding: encoding.name(),
            dropped_links: set.dropped,
            nofollow_links,
            records,
        }
    }
}

/// What an href is compared by when a page repeats links: trimmed, and `#` for every
/// fragment-only href (they all resolve to the base).
fn href_key(href: &str) -> &str {
    let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
    if href.starts_with('#') {
        "#"
    } else {
        href
    }
}

/// Appends title text (whitespace collapsed) for a token stream that delivers it in pieces.
pub(crate) fn push_title_text(out: &mut String, text: &str, pending_space: &mut bool) {
    push_collapsed(out, text, pending_space);
}

/// The body of [`crate::Parser::extract`]: a token pass for links and directives, or a DOM parse
/// when an extraction rule matches the page (it needs the tree for its selectors).
pub(crate) fn extract(
    config: &ParserConfig,
    canon: &Canonicalizer,
    extractor: Option<&Extractor>,
    page: &Url,
    body: &[u8],
    content_type: Option<&str>,
    x_robots_tag: Option<&str>,
) -> Parsed {
    match extractor {
        Some(x) if x.matches(page) => extract_dom(
            config,
            canon,
            Some(x),
            page,
            body,
            content_type,
            x_robots_tag,
        ),
        _ => crate::tokens::extract_tokens(config, canon, page, body, content_type, x_robots_tag),
    }
}

/// Links, directives and records from a full DOM parse (scraper).
pub(crate) fn extract_dom(
    config: &ParserConfig,
    canon: &Canonicalizer,
    extractor: Option<&Extractor>,
    page: &Url,
    body: &[u8],
    content_type: Option<&str>,
    x_robots_tag: Option<&str>,
) -> Parsed {
    let (text, encoding) = decode_html(body, content_type);
    let html = Html::parse_document(&text);
    let mut collector = Collector::new(page, x_robots_tag);
    for node in html.tree.root().descendants() {
        let Node::Element(el) = node.value() else {
            continue;
        };
        let in_html = &*el.name.ns == HTML_NS;
        if collector.element(el.name(), in_html, |name| attr(el, name).map(Cow::Borrowed)) {
            collector.set_title(ElementRef::wrap(node).and_then(collapsed_text));
        }
    }
    let records = match extractor {
        Some(x) if x.matches(page) => x.records(page, collector.base(), &html),
        _ => Vec::new(),
    };
    collector.finish(config, canon, encoding, records)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_content_forms() {
        let cases: &[(&str, Option<&str>)] = &[
            ("5; url=/next", Some("/next")),
            ("0;URL='/q'", Some("/q")),
            ("0; Url = \"/dq\" trailing", Some("/dq")),
            ("3, /comma", Some("/comma")),
            ("3 /space", Some("/space")),
            ("1.5;url=/frac", Some("/frac")),
            ("  0 ; url=/ws  ", Some("/ws")),
            ("0; url='/unterminated", Some("/unterminated")),
            ("0; urlx", Some("urlx")),
            ("5", None),
            ("5;", None),
            ("5; url=", None),
            ("", None),
            ("url=/x", None),
            ("5x; url=/x", None),
        ];
        for (content, want) in cases {
            assert_eq!(refresh_url(content), *want, "{content:?}");
        }
    }

    #[test]
    fn rel_classification() {
        assert_eq!(link_rel_kind("canonical"), Some(LinkKind::Canonical));
        assert_eq!(link_rel_kind("  NEXT "), Some(LinkKind::Next));
        assert_eq!(link_rel_kind("previous"), Some(LinkKind::Prev));
        assert_eq!(
            link_rel_kind("alternate canonical"),
            Some(LinkKind::Canonical)
        );
        assert_eq!(link_rel_kind("alternate stylesheet"), None);
        assert_eq!(link_rel_kind("icon"), None);
        assert_eq!(link_rel_kind("author"), None);
        assert_eq!(link_rel_kind(""), None);
    }

    #[test]
    fn x_robots_tag_agents() {
        let p = RobotsDirectives::from_x_robots_tag;
        let both = RobotsDirectives {
            noindex: true,
            nofollow: true,
        };
        assert_eq!(p("noindex, nofollow"), both);
        assert_eq!(p("NONE"), both);
        assert_eq!(p("googlebot: noindex"), RobotsDirectives::default());
        assert_eq!(
            p("trawl: noindex"),
            RobotsDirectives {
                noindex: true,
                nofollow: false
            }
        );
        assert!(p("Trawl: nofollow, otherbot: noindex").nofollow);
        assert!(!p("Trawl: nofollow, otherbot: noindex").noindex);
        assert!(!p("googlebot: noindex, nofollow").nofollow);
        assert!(p("nofollow, googlebot: noindex").nofollow);
        assert_eq!(
            p("unavailable_after: 25 Jun 2010 15:00:00 PST, noindex"),
            RobotsDirectives {
                noindex: true,
                nofollow: false
            }
        );
        assert!(p("max-snippet: 20, nofollow").nofollow);
        assert_eq!(p("all"), RobotsDirectives::default());
        assert_eq!(p(""), RobotsDirectives::default());
    }
}
