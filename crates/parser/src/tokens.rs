//! The token pass: links, robots directives, `<base>` and the title read by the byte-level
//! lexer in [`crate::scan`], without building a DOM. It switches the lexer into raw-text modes
//! for `<script>`, `<style>`, `<title>`, `<textarea>`, `<noscript>` and the like as the tree
//! builder would, so it sees the same elements a DOM parse does, in a fraction of the time and
//! with memory that does not grow with the page (a multi-megabyte page no longer becomes a tree
//! of millions of nodes). The tests below hold it to html5ever's DOM parse.

use url::Url;

use crate::charset::decode_html;
use crate::extract::{push_title_text, Collector};
use crate::scan::{decode_text, scan, Attribute, Handler, TextMode};
use crate::{Canonicalizer, Parsed, ParserConfig};

/// What the pass has seen so far.
struct Pass<'p, 't> {
    collector: Collector<'p, 't>,
    /// Inside the document's title: its text is being collected.
    in_title: bool,
    title: String,
    pending_space: bool,
    /// Open `<svg>` / `<math>` elements: their children are not HTML elements.
    foreign_depth: u32,
}

impl<'t> Handler<'t> for Pass<'_, 't> {
    fn wants_attributes(&self, name: &str) -> bool {
        matches!(
            name,
            "a" | "area" | "link" | "iframe" | "frame" | "meta" | "base"
        )
    }

    fn start_tag(
        &mut self,
        name: &str,
        attributes: &[Attribute<'t>],
        self_closing: bool,
    ) -> TextMode {
        let foreign_root = name == "svg" || name == "math";
        let html = self.foreign_depth == 0 && !foreign_root;
        if foreign_root && !self_closing {
            self.foreign_depth += 1;
        }
        let is_title = self.collector.element(name, html, |wanted| {
            attributes
                .iter()
                .find(|a| a.name == wanted)
                .map(|a| a.value.clone())
        });
        if !html {
            return TextMode::Data;
        }
        match name {
            "title" => {
                self.in_title = is_title;
                TextMode::Rcdata
            }
            "textarea" => TextMode::Rcdata,
            "script" => TextMode::ScriptData,
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => TextMode::Rawtext,
            "plaintext" => TextMode::Plaintext,
            _ => TextMode::Data,
        }
    }

    fn end_tag(&mut self, name: &str) {
        if name == "title" && self.in_title {
            self.end_title();
        }
        if (name == "svg" || name == "math") && self.foreign_depth > 0 {
            self.foreign_depth -= 1;
        }
    }

    fn rcdata(&mut self, raw: &'t str) {
        if self.in_title {
            push_title_text(&mut self.title, &decode_text(raw), &mut self.pending_space);
        }
    }
}

impl Pass<'_, '_> {
    fn end_title(&mut self) {
        self.in_title = false;
        let title = std::mem::take(&mut self.title);
        self.collector
            .set_title((!title.is_empty()).then_some(title));
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
    let mut pass = Pass {
        collector: Collector::new(page, x_robots_tag),
        in_title: false,
        title: String::new(),
        pending_space: false,
        foreign_depth: 0,
    };
    scan(&text, &mut pass);
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

    /// Pieces of markup, awkward on purpose, that the generated documents are made of.
    const PIECES: &[&str] = &[
        "<a href=\"/p1\">",
        "<A HREF='/p2?x=1&amp;y=2'>",
        "<a href=/p3?a&copy=1&copy;>",
        "</a>",
        "<a rel=\"nofollow noopener\" href=\"/nf\">",
        "<a href=\"/&#x41;&#66;&#0;\">",
        "<link rel=canonical href=/canon>",
        "<link rel=\"next\" href=\"/next\">",
        "<base href=\"/base/\">",
        "<meta name=robots content=\"noindex,nofollow\">",
        "<meta http-equiv=refresh content=\"5;url=/refresh\">",
        "<iframe src=/if>",
        "</iframe>",
        "<frame src=/fr>",
        "<area href=/area>",
        "<title>",
        "</title>",
        "T&amp;itle &lt;x&gt;",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "--!>",
        "<style>",
        "</style>",
        "<textarea>",
        "</textarea>",
        "<noscript>",
        "</noscript>",
        "<svg>",
        "</svg>",
        "<svg/>",
        "<math>",
        "</math>",
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE html>",
        "<?pi <a href=/pi> ?>",
        "<xmp>",
        "</xmp>",
        "<table><tr><td>",
        "</td></tr></table>",
        "<p>",
        "text ",
        "\r\n",
        "\0",
        "<",
        ">",
        "'",
        "\"",
        "=",
        "&",
        "/",
        " ",
        "<a href",
        "<a/href=/slash/>",
        "<a href= /sp >",
        "<a =x href=/eq>",
        "</a title=\">\">",
        "</ a>",
        "<template>",
        "</template>",
        "<select><option>",
        "</select>",
        "é",
        "<head>",
        "<body>",
        "<html>",
        "<!-->",
        "<!--->",
        "<script><!--",
        "<SCRIPT >",
        "</script x=\">\">",
        "--",
        "-",
    ];

    /// The same pass driven by html5ever's tokenizer: the reference for the lexer.
    mod reference {
        use std::borrow::Cow;
        use std::cell::RefCell;

        use html5ever::tendril::StrTendril;
        use html5ever::tokenizer::states::RawKind;
        use html5ever::tokenizer::{
            BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
        };

        use super::super::*;
        use crate::extract::push_title_text;

        struct Sink<'a, 'p, 't>(&'a RefCell<Pass<'p, 't>>);

        impl TokenSink for Sink<'_, '_, '_> {
            type Handle = ();

            fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
                let mut pass = self.0.borrow_mut();
                match token {
                    Token::TagToken(tag) if tag.kind == TagKind::StartTag => {
                        let attributes: Vec<Attribute> = tag
                            .attrs
                            .iter()
                            .map(|a| Attribute {
                                name: Cow::Owned(a.name.local.to_string()),
                                value: Cow::Owned(a.value.to_string()),
                            })
                            .collect();
                        match pass.start_tag(&tag.name, &attributes, tag.self_closing) {
                            TextMode::Data => TokenSinkResult::Continue,
                            TextMode::Rcdata => TokenSinkResult::RawData(RawKind::Rcdata),
                            TextMode::Rawtext => TokenSinkResult::RawData(RawKind::Rawtext),
                            TextMode::ScriptData => TokenSinkResult::RawData(RawKind::ScriptData),
                            TextMode::Plaintext => TokenSinkResult::Plaintext,
                        }
                    }
                    Token::TagToken(tag) => {
                        pass.end_tag(&tag.name);
                        TokenSinkResult::Continue
                    }
                    Token::CharacterTokens(text) if pass.in_title => {
                        let pass = &mut *pass;
                        push_title_text(&mut pass.title, &text, &mut pass.pending_space);
                        TokenSinkResult::Continue
                    }
                    _ => TokenSinkResult::Continue,
                }
            }
        }

        /// [`extract_tokens`] with html5ever's tokenizer in place of [`scan`].
        pub(super) fn extract(html: &str, page: &Url) -> Parsed {
            let config = ParserConfig::default();
            let canon = Canonicalizer::new(&config);
            let pass = RefCell::new(Pass {
                collector: Collector::new(page, None),
                in_title: false,
                title: String::new(),
                pending_space: false,
                foreign_depth: 0,
            });
            {
                let tokenizer = Tokenizer::new(Sink(&pass), TokenizerOpts::default());
                let input = BufferQueue::default();
                input.push_back(StrTendril::from(html));
                let _ = tokenizer.feed(&input);
                tokenizer.end();
            }
            let mut pass = pass.into_inner();
            if pass.in_title {
                pass.end_title();
            }
            pass.collector
                .finish(&config, &canon, encoding_rs::UTF_8, Vec::new())
        }
    }

    /// Generated documents (a fixed seed) read the same by the lexer and by html5ever's
    /// tokenizer driving the same pass.
    #[test]
    fn lexer_matches_html5ever_tokenizer_on_generated_documents() {
        let page = Url::parse("https://example.org/dir/page.html").unwrap();
        let config = ParserConfig::default();
        let canon = Canonicalizer::new(&config);
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..5000 {
            let len = 1 + (next() % 40) as usize;
            let html: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let lexer = extract_tokens(
                &config,
                &canon,
                &page,
                html.as_bytes(),
                Some("text/html"),
                None,
            );
            let tokenizer = reference::extract(&html, &page);
            assert_eq!(lexer, tokenizer, "round {round}: {html:?}");
        }
    }

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
