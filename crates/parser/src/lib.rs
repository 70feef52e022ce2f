//! `trawl-parser`: everything the crawler needs from one fetched page, synchronously and without
//! I/O.
//!
//! - [`Parser::extract`] decodes the body ([`decode_html`]: BOM, Content-Type charset, `<meta>`,
//!   UTF-8, windows-1252), parses it once, and walks it once to collect links (`<a>`, `<area>`,
//!   `<link rel=canonical|next|prev|alternate>`, `<iframe>`, `<frame>`, `<meta http-equiv=refresh>`)
//!   honouring `<base href>` and `rel=nofollow`, the canonical URL, the title, and robots
//!   directives from `<meta name=robots>` and the `X-Robots-Tag` header.
//! - [`canonicalize`] and [`resolve`] define URL identity for de-duplication.
//!
//! ```
//! use trawl_parser::{LinkKind, Parser, ParserConfig};
//!
//! let page = url::Url::parse("https://Example.com/docs/index.html").unwrap();
//! let html = br#"<html><head><title> Docs &amp; more </title>
//!   <link rel="canonical" href="/docs/">
//!   <link rel="stylesheet" href="/style.css"></head>
//!   <body><a href="intro.html#top">Intro</a> <a href="mailto:me@example.com">mail</a>
//!   <a href="/ads" rel="sponsored nofollow">ad</a> <a href="INTRO.html">again</a></body></html>"#;
//!
//! let parser = Parser::new(ParserConfig::default());
//! let parsed = parser.extract(&page, html, Some("text/html; charset=utf-8"), None);
//!
//! assert_eq!(parsed.title.as_deref(), Some("Docs & more"));
//! assert_eq!(parsed.canonical.as_ref().map(|u| u.as_str()), Some("https://example.com/docs/"));
//! assert_eq!(parsed.links[0].kind, LinkKind::Canonical);
//! let follow: Vec<&str> = parsed.links_to_follow().map(|u| u.as_str()).collect();
//! assert_eq!(
//!     follow,
//!     [
//!         "https://example.com/docs/",
//!         "https://example.com/docs/intro.html",
//!         "https://example.com/docs/INTRO.html",
//!     ]
//! );
//! assert_eq!(parsed.nofollow_links, 1);
//! ```

mod canonical;
mod charset;
mod config;
mod error;
mod extract;

pub use canonical::{canonicalize, parse_url, resolve};
pub use charset::{charset_from_content_type, decode_html, is_html};
pub use config::ParserConfig;
pub use error::ParseError;
pub use extract::{refresh_url, Link, LinkKind, Parsed, RobotsDirectives};

use url::Url;

/// Extracts links, canonical URL, title and robots directives from fetched bodies.
///
/// Cheap to clone, `Send + Sync`; holds only its configuration (no CSS selectors are used: one
/// pass over the tree matches on element names).
#[derive(Debug, Clone)]
pub struct Parser {
    config: ParserConfig,
}

impl Parser {
    /// A parser with these settings (validate them first with [`ParserConfig::validate`]).
    pub fn new(config: ParserConfig) -> Parser {
        Parser { config }
    }

    /// The settings in use.
    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// Extracts everything a crawler needs from one fetched body. Never panics on any bytes.
    ///
    /// `base` is the page's URL; `content_type` and `x_robots_tag` are the header values, if any.
    pub fn extract(
        &self,
        base: &Url,
        body: &[u8],
        content_type: Option<&str>,
        x_robots_tag: Option<&str>,
    ) -> Parsed {
        extract::extract(&self.config, base, body, content_type, x_robots_tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Parser>();
        assert_traits::<Parsed>();
    }
}
