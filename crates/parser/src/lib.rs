//! `trawl-parser`: everything the crawler needs from one fetched page, synchronously and without
//! I/O.
//!
//! - [`Parser::extract`] decodes the body ([`decode_html`]: BOM, Content-Type charset, `<meta>`,
//!   UTF-8, windows-1252), parses it once, and walks it once to collect links (`<a>`, `<area>`,
//!   `<link rel=canonical|next|prev|alternate>`, `<iframe>`, `<frame>`, `<meta http-equiv=refresh>`)
//!   honouring `<base href>` and `rel=nofollow`, the canonical URL, the title, and robots
//!   directives from `<meta name=robots>` and the `X-Robots-Tag` header.
//! - [`canonicalize`] and [`resolve`] define URL identity for de-duplication; [`Canonicalizer`]
//!   adds the configurable steps (strip `utm_*`/session parameters, sort the query) and is what
//!   [`Parser`] applies to links.
//! - [`Extractor`] compiles `[[extract]]` rules (URL regex + CSS-selector fields) once;
//!   [`Parser::with_extractor`] then fills [`Parsed::records`] from the same DOM parse.
//! - [`parse_sitemap`] reads XML, plain-text and gzipped sitemaps within [`SitemapLimits`].
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
//!
//! // Sitemaps.
//! let sitemap = trawl_parser::parse_sitemap(
//!     b"<urlset><url><loc>https://example.com/a?utm_source=x</loc></url></urlset>",
//!     Some("application/xml"),
//!     &page,
//!     &trawl_parser::SitemapLimits::default(),
//! )
//! .unwrap();
//! let canon = parser.canonicalizer();
//! let first = canon.canonicalize(&sitemap.entries()[0].url).unwrap();
//! assert_eq!(first.as_str(), "https://example.com/a");
//! ```

mod canonical;
mod charref;
mod charset;
mod config;
mod error;
mod extract;
mod linkset;
mod records;
mod scan;
mod sitemap;
mod tokens;

pub use canonical::{canonicalize, parse_url, resolve, Canonicalizer};
pub use charset::{charset_from_content_type, decode_html, is_html};
pub use config::ParserConfig;
pub use error::ParseError;
pub use extract::{refresh_url, Link, LinkKind, Parsed, RobotsDirectives};
pub use records::{ExtractRule, Extractor, FieldRule};
pub use sitemap::{parse_sitemap, Sitemap, SitemapLimits, SitemapUrl};

use std::sync::Arc;

use url::Url;

/// Extracts links, canonical URL, title, robots directives and (with an [`Extractor`]) data
/// records from fetched bodies.
///
/// Cheap to clone, `Send + Sync`. Links are found in one pass over the tree matching element
/// names; CSS selectors are only run for extraction rules whose URL pattern matches the page.
#[derive(Debug, Clone)]
pub struct Parser {
    config: ParserConfig,
    canonicalizer: Canonicalizer,
    extractor: Option<Arc<Extractor>>,
}

impl Parser {
    /// A parser with these settings (validate them first with [`ParserConfig::validate`]).
    pub fn new(config: ParserConfig) -> Parser {
        Parser {
            canonicalizer: Canonicalizer::new(&config),
            config,
            extractor: None,
        }
    }

    /// A parser that also fills [`Parsed::records`] using `extractor`'s rules.
    pub fn with_extractor(config: ParserConfig, extractor: Extractor) -> Parser {
        Parser {
            extractor: Some(Arc::new(extractor)),
            ..Parser::new(config)
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// The canonicaliser applied to every link; use it for seeds and redirect targets too, so
    /// they get the same identity as discovered links.
    pub fn canonicalizer(&self) -> &Canonicalizer {
        &self.canonicalizer
    }

    /// The extraction rules, if any.
    pub fn extractor(&self) -> Option<&Extractor> {
        self.extractor.as_deref()
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
        extract::extract(
            &self.config,
            &self.canonicalizer,
            self.extractor.as_deref(),
            base,
            body,
            content_type,
            x_robots_tag,
        )
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
        assert_traits::<Extractor>();
        assert_traits::<Canonicalizer>();
    }
}
