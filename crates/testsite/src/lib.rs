//! trawl-testsite: a deterministic synthetic website of N pages over H hosts (each host a
//! separate listener on 127.0.0.1), for trawl's integration tests, benches and demos.
//!
//! Everything the site serves follows from a [`SiteSpec`]: page `i` lives on host `i % H` at `/`
//! (home pages, `i < H`) or `/p/{i}`, and links to page `i + 1` plus pseudo-random pages, some on
//! other hosts; some pages also link to a 404 (`/missing/{i}`), a 301 (`/moved/{i}`) and a page
//! robots.txt forbids (`/private/{i}`). The [`SiteGraph`] answers, without fetching, what a URL
//! serves and which URLs a polite crawler must request; the [`TestSite`] counts what really was
//! requested and how many requests each host had in flight at once.
//!
//! ```
//! use trawl_testsite::{Resource, SiteSpec, TestSite};
//!
//! # fn main() -> std::io::Result<()> {
//! let rt = tokio::runtime::Runtime::new()?;
//! rt.block_on(async {
//!     let site = TestSite::start(SiteSpec { pages: 30, hosts: 3, ..SiteSpec::default() }).await?;
//!     let graph = site.graph();
//!     assert_eq!(site.host_count(), 3);
//!     assert_eq!(site.seed_url(), format!("{}/", site.base_url(0)));
//!     assert_eq!(graph.resolve(&site.page_url(12)), Some(Resource::Page(12)));
//!     assert_eq!(graph.outlinks(0)[0], site.page_url(1)); // the i+1 chain
//!     // Every page is reachable from the seed for a crawler that obeys robots.txt.
//!     let expected = graph.reachable(&site.seed_url(), None, true, &|_| true);
//!     assert!((0..30).all(|i| expected.contains_key(&site.page_url(i))));
//!     assert_eq!(site.total_requests(), 0);
//!     site.shutdown().await;
//!     Ok(())
//! })
//! # }
//! ```

mod counters;
mod delay;
mod error;
mod graph;
mod html;
mod server;
mod spec;

pub use error::SiteError;
pub use graph::{Resource, SiteGraph};
pub use server::{TestSite, LAST_MODIFIED};
pub use spec::SiteSpec;

#[cfg(test)]
mod tests;
