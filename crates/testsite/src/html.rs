//! Bodies the site serves: page HTML (rendered on the fly from the graph's link list and padded
//! with filler text to about `page_bytes`), the private page, the 404 page and robots.txt.

use std::fmt::Write as _;

use crate::graph::SiteGraph;
use crate::spec::SiteSpec;

const FILLER: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod \
tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud \
exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in \
reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. ";

/// HTML of page `page`: its title, exactly the graph's links (as written hrefs), plus a few
/// `#fragment` and one `mailto:` link that a crawler must not treat as pages.
pub(crate) fn page(graph: &SiteGraph, page: usize) -> String {
    let links = graph.links(page);
    let target = graph.spec().page_bytes;
    let mut out = String::with_capacity(target.max(512) + 64 * links.len());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Page {page}</title></head>\n\
         <body><h1 id=\"top\">Page {page}</h1>\n<p><a href=\"#content\">skip</a></p>\n<ul>\n"
    );
    for (n, link) in links.iter().enumerate() {
        let _ = writeln!(out, "<li><a href=\"{}\">link {n}</a></li>", link.href);
        if n == 1 {
            out.push_str("<li><a href=\"mailto:x@example.org\">mail us</a></li>\n");
        }
    }
    if links.len() < 2 {
        out.push_str("<li><a href=\"mailto:x@example.org\">mail us</a></li>\n");
    }
    out.push_str("</ul>\n<div id=\"content\">\n");
    const TAIL: &str = "</div>\n<p><a href=\"#top\">back to top</a></p>\n</body></html>\n";
    let mut left = target.saturating_sub(out.len() + TAIL.len());
    while left > 8 {
        let take = left.saturating_sub(8).min(FILLER.len());
        out.push_str("<p>");
        out.push_str(&FILLER[..take]);
        out.push_str("</p>\n");
        left = left.saturating_sub(take + 8);
    }
    out.push_str(TAIL);
    out
}

/// HTML of `/private/{k}`: a small page linking nowhere.
pub(crate) fn private(k: usize) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>Private {k}</title></head>\
         <body><p>Robots may not read this.</p></body></html>\n"
    )
}

/// Body of a 404.
pub(crate) fn not_found(path: &str) -> String {
    let path = path.replace(['<', '>', '&', '"'], "");
    format!(
        "<!DOCTYPE html>\n<html><head><title>Not found</title></head>\
         <body><p>Nothing at {path}.</p></body></html>\n"
    )
}

/// `/robots.txt`: `User-agent: *` and one `Disallow:` per prefix (an empty `Disallow:` if none).
pub(crate) fn robots(spec: &SiteSpec) -> String {
    let mut out = String::from("User-agent: *\n");
    if spec.robots_disallow.is_empty() {
        out.push_str("Disallow:\n");
    }
    for prefix in &spec.robots_disallow {
        let _ = writeln!(out, "Disallow: {prefix}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: SiteSpec) -> SiteGraph {
        let ports: Vec<u16> = (0..spec.hosts).map(|h| 9000 + h as u16).collect();
        SiteGraph::new(spec, false, &ports)
    }

    #[test]
    fn page_is_about_page_bytes_and_has_title() {
        for bytes in [2048usize, 10_000] {
            let g = graph(SiteSpec {
                page_bytes: bytes,
                ..SiteSpec::default()
            });
            let html = page(&g, 7);
            assert!(html.contains("<title>Page 7</title>"));
            assert!(
                html.len() >= bytes - 16 && html.len() <= bytes + 16,
                "{} vs {bytes}",
                html.len()
            );
            assert!(html.contains("mailto:x@example.org"));
            assert!(html.contains("href=\"#top\""));
        }
    }

    #[test]
    fn page_is_deterministic() {
        let g1 = graph(SiteSpec::default());
        let g2 = graph(SiteSpec::default());
        assert_eq!(page(&g1, 42), page(&g2, 42));
        let g3 = graph(SiteSpec {
            seed: 2,
            ..SiteSpec::default()
        });
        assert_ne!(page(&g1, 42), page(&g3, 42));
    }

    #[test]
    fn robots_lists_prefixes_or_allows_all() {
        let spec = SiteSpec {
            robots_disallow: vec!["/a/".into(), "/b".into()],
            ..SiteSpec::default()
        };
        assert_eq!(
            robots(&spec),
            "User-agent: *\nDisallow: /a/\nDisallow: /b\n"
        );
        let open = SiteSpec {
            robots_disallow: vec![],
            ..SiteSpec::default()
        };
        assert_eq!(robots(&open), "User-agent: *\nDisallow:\n");
    }
}
