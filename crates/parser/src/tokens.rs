//! The token pass: links, robots directives, `<base>` and the title read straight from
//! html5ever's tokenizer, without building a DOM. It switches the tokenizer into raw-text states
//! for `<script>`, `<style>`, `<title>`, `<textarea>`, `<noscript>` and the like as the tree
//! builder would, so it sees the same elements a DOM parse does, in a fraction of the time and
//! with memory that does not grow with the page (a multi-megabyte page no longer becomes a tree
//! of millions of nodes).

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

use crate::charset::decode_html;
use crate::extract::{push_title_text, Collector};
use crate::{Canonicalizer, Parsed, ParserConfig};

/// What the pass has seen so far.
struct Pass<'p> {
    collector: Collector<'p>,
    /// Inside the document's title: its text is being collected.
    in_title: bool,
    title: String,
    pending_space: bool,
    /// Open `<svg>` / `<math>` elements: their children are not HTML elements.
    foreign_depth: u32,
}

impl Pass<'_> {
    fn tag(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        let foreign_root = name == "svg" || name == "math";
        match tag.kind {
            TagKind::StartTag => {
                let html = self.foreign_depth == 0 && !foreign_root;
                if foreign_root && !tag.self_closing {
                    self.foreign_depth += 1;
                }
                let attrs = &tag.attrs;
                let is_title = self.collector.element(name, html, |wanted| {
                    attrs
                        .iter()
                        .find(|a| a.name.ns.is_empty() && &*a.name.local == wanted)
                        .map(|a| &*a.value)
                });
                if !html {
                    return TokenSinkResult::Continue;
                }
                match name {
                    "title" => {
                        self.in_title = is_title;
                        TokenSinkResult::RawData(RawKind::Rcdata)
                    }
                    "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
                    "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                        TokenSinkResult::RawData(RawKind::Rawtext)
                    }
                    "plaintext" => TokenSinkResult::Plaintext,
                    _ => TokenSinkResult::Continue,
                }
            }
            TagKind::EndTag => {
                if name == "title" && self.in_title {
                    self.end_title();
                }
                if foreign_root && self.foreign_depth > 0 {
                    self.foreign_depth -= 1;
                }
                TokenSinkResult::Continue
            }
        }
    }

    fn end_title(&mut self) {
        self.in_title = false;
        let title = std::mem::take(&mut self.title);
        self.collector
            .set_title((!title.is_empty()).then_some(title));
    }
}

/// The tokenizer's sink: the pass behind a `RefCell` (the tokenizer hands tokens to `&self`).
struct Sink<'a, 'p>(&'a RefCell<Pass<'p>>);

impl TokenSink for Sink<'_, '_> {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Ok(mut pass) = self.0.try_borrow_mut() else {
            return TokenSinkResult::Continue;
        };
        match token {
            Token::TagToken(tag) => pass.tag(&tag),
            Token::CharacterTokens(text) if pass.in_title => {
                let pass = &mut *pass;
                push_title_text(&mut pass.title, &text, &mut pass.pending_space);
                TokenSinkResult::Continue
            }
            _ => TokenSinkResult::Continue,
        }
    }
}

/// Links, directives and the title of a page from one token pass.
pub(crate) fn extract_tokens(
    config: &ParserConfig,
    canon: &Canonicalizer,
    page: &Url,
    body: &[u8],
    content_type: Option<&str>,
    x_robots_tag: Option<&str>,
) -> Parsed {
    let (text, encoding) = decode_html(body, content_type);
    let pass = RefCell::new(Pass {
        collector: Collector::new(page, x_robots_tag),
        in_title: false,
        title: String::new(),
        pending_space: false,
        foreign_depth: 0,
    });
    {
        let tokenizer = Tokenizer::new(Sink(&pass), TokenizerOpts::default());
        let input = BufferQueue::default();
        input.push_back(StrTendril::from(&*text));
        // The sink never asks to run a script, so feeding runs to the end of the input.
        let _ = tokenizer.feed(&input);
        tokenizer.end();
    }
    let mut pass = pass.into_inner();
    if pass.in_title {
        // An unclosed <title> runs to the end of the document.
        pass.end_title();
    }
    pass.collector.finish(config, canon, encoding, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract_dom;

    fn both(html: &str, content_type: Option<&str>, robots: Option<&str>) -> (Parsed, Parsed) {
        let config = ParserConfig::default();
        let canon = Canonicalizer::new(&config);
        let page = Url::parse("https://example.org/dir/page.html").unwrap();
        let tokens = extract_tokens(
            &config,
            &canon,
            &page,
            html.as_bytes(),
            content_type,
            robots,
        );
        let dom = extract_dom(
            &config,
            &canon,
            None,
            &page,
            html.as_bytes(),
            content_type,
            robots,
        );
        (tokens, dom)
    }

    /// Documents where a tokenizer that ignored raw-text states or foreign content would see
    /// different links or titles than a DOM parse.
    const AWKWARD: &[&str] = &[
        r#"<a href="/a">a</a><script>document.write('<a href="/in-script">x</a>')</script><a href="/b">b</a>"#,
        r#"<style>a[href="/in-style"] { color: red }</style><a href=/c>c</a>"#,
        r#"<title>One &amp; <b>two</b></title><title>second</title><a href="x?a=1&amp;b=2">q</a>"#,
        r#"<svg><title>not the page title</title><a href="/svg-link">s</a></svg><title>real</title>"#,
        r#"<textarea><a href="/in-textarea">t</a></textarea><noscript><a href="/in-noscript">n</a></noscript>"#,
        r#"<base href="/other/"><a href="rel">r</a><base href="/ignored/"><link rel="canonical next" href="/canon">"#,
        r#"<meta name="ROBOTS" content="NoFollow"><meta http-equiv="refresh" content="0; url='/next'"><a rel="nofollow" href="/nf">nf</a>"#,
        r#"<!-- <a href="/commented">c</a> --><a href='/single' rel=NOFOLLOW>s</a><area href="/area"><iframe src="/frame"></iframe>"#,
        r#"<table><a href="/foster">f</a><tr><td><a href="/cell">c</a></td></tr></table><a href="/unclosed"#,
        r#"<title>unclosed title <a href="/swallowed">x</a>"#,
        r#"<xmp><a href="/in-xmp">x</a></xmp><plaintext><a href="/in-plaintext">p</a>"#,
        "<a href=\"/\u{00e9}t\u{00e9}\">accents</a><a href=\"javascript:void(0)\">js</a><a href=\"mailto:x@y\">m</a>",
        r#"<math><mi><a href="/math">m</a></mi></math><a href="/after-math">a</a>"#,
    ];

    #[test]
    fn token_pass_sees_what_a_dom_parse_sees() {
        for html in AWKWARD {
            let (tokens, dom) = both(html, Some("text/html"), Some("noindex"));
            assert_eq!(tokens, dom, "{html}");
        }
        let (tokens, _) = both(AWKWARD[0], None, None);
        let urls: Vec<&str> = tokens.links.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            ["https://example.org/a", "https://example.org/b"],
            "no links from inside scripts"
        );
        let (tokens, _) = both(AWKWARD[2], None, None);
        assert_eq!(
            tokens.title.as_deref(),
            Some("One & <b>two</b>"),
            "RCDATA title, entities decoded"
        );
    }

    /// Compares both passes over every .html file under $TRAWL_PARITY_DIR (e.g. the Rust docs),
    /// when it is set; reports the first differences.
    #[test]
    fn token_pass_matches_dom_on_a_directory_when_given() {
        let Some(dir) = std::env::var_os("TRAWL_PARITY_DIR") else {
            return;
        };
        let limit: usize = std::env::var("TRAWL_PARITY_LIMIT")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2000);
        let mut stack = vec![std::path::PathBuf::from(dir)];
        let (mut checked, mut differing) = (0, Vec::new());
        while let Some(path) = stack.pop() {
            if checked >= limit {
                break;
            }
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_some_and(|e| e == "html") {
                let html = std::fs::read_to_string(&path).unwrap_or_default();
                let (tokens, dom) = both(&html, Some("text/html"), None);
                checked += 1;
                if tokens != dom {
                    differing.push(path.display().to_string());
                }
            }
        }
        assert!(
            differing.is_empty(),
            "{} of {checked} differ, e.g. {:?}",
            differing.len(),
            &differing[..differing.len().min(5)]
        );
    }
}
