//! What the parser adds to a crawl, end to end: extraction rules make records that
//! `export --records` writes, and `--sitemaps` seeds the crawl from sitemaps.

use std::io::Write;

use crate::support::fixture::{Fixture, Route};
use crate::support::{by_url, crawl_fresh, export, store_path, trawl_ok};

fn product(name: &str, price: &str, images: &[&str]) -> Route {
    let images: String = images
        .iter()
        .map(|src| format!("<img class=\"main\" src=\"{src}\">"))
        .collect();
    Route::html(format!(
        "<html><head><title>{name}</title></head><body><h1 class=\"title\"> {name} </h1>\
         <span class=\"price\">{price}</span>{images}<a href=\"/\">home</a></body></html>"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extraction_rules_make_records_that_export_writes() {
    let shop = Fixture::start(vec![
        ("/", Route::html(r#"<a href="/product/1">one</a> <a href="/product/2">two</a> <a href="/about">about</a>"#)),
        ("/product/1", product("Kettle", "12.50", &["/img/k1.jpg", "/img/k2.jpg"])),
        ("/product/2", product("Teapot", "20.00", &[])),
        ("/about", product("About us", "n/a", &[])),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::write(
        &config,
        r#"
[[extract]]
url = "/product/"
fields.name  = { css = "h1.title", take = "text" }
fields.price = { css = ".price", take = "text" }
fields.image = { css = "img.main", take = "attr:src", all = true }
"#,
    )
    .unwrap();
    let store = store_path(&dir);
    let seed = format!("{}/", shop.base());
    trawl_ok(&[
        "crawl",
        &seed,
        "--store",
        store.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--quiet",
    ])
    .await;
    let output = trawl_ok(&["export", "--store", store.to_str().unwrap(), "--records"]).await;
    let mut records: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    records.sort_by_key(|r| r["url"].as_str().unwrap().to_string());
    let base = shop.base();
    assert_eq!(
        records,
        vec![
            serde_json::json!({"url": format!("{base}/product/1"), "rule": 0, "name": "Kettle", "price": "12.50",
                "image": [format!("{base}/img/k1.jpg"), format!("{base}/img/k2.jpg")]}),
            serde_json::json!({"url": format!("{base}/product/2"), "rule": 0, "name": "Teapot", "price": "20.00", "image": []}),
        ],
        "one record per matching page, none for /about"
    );
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sitemaps_seed_the_crawl_within_scope_and_keep_lastmod() {
    // Nothing links to the orphans: only the sitemaps lead there.
    let site = Fixture::start_with(site_with_sitemaps).await;
    let base = site.base();
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let seed = format!("{base}/");

    // Without --sitemaps the orphans stay unknown.
    trawl_ok(&[
        "crawl",
        &seed,
        "--store",
        store.to_str().unwrap(),
        "--quiet",
    ])
    .await;
    assert_eq!(site.hits("127.0.0.1/orphan/1"), 0);

    let (_dir, store) = crawl_fresh(&[&seed, "--sitemaps", "--quiet"]).await;
    for orphan in 1..=3 {
        assert_eq!(
            site.hits(&format!("127.0.0.1/orphan/{orphan}")),
            1,
            "orphan {orphan}"
        );
    }
    assert_eq!(
        site.hits("localhost/elsewhere"),
        0,
        "sitemap URLs pass scope"
    );
    assert_eq!(site.hits("127.0.0.1/private/x"), 0, "and robots.txt");
    let pages = by_url(&export(&store).await);
    assert_eq!(pages[&format!("{base}/orphan/1")]["lastmod"], "2026-10-01");
    assert_eq!(
        pages[&format!("{base}/orphan/1")]["found_on"],
        format!("{base}/maps/products.xml.gz")
    );
    assert_eq!(pages[&format!("{base}/orphan/2")]["depth"], 0);
}

/// robots.txt names a sitemap index of a gzipped urlset and a text list; /sitemap.xml adds one
/// more; the urlset also names a URL out of scope and one robots.txt forbids.
fn site_with_sitemaps(base: &str) -> Vec<(String, Route)> {
    let port = base.rsplit(':').next().unwrap();
    let urlset = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{base}/orphan/1</loc><lastmod>2026-10-01</lastmod></url>
  <url><loc>http://localhost:{port}/elsewhere</loc></url>
  <url><loc>{base}/private/x</loc></url>
</urlset>"#
    );
    let index = format!(
        r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{base}/maps/products.xml.gz</loc></sitemap>
  <sitemap><loc>{base}/maps/list.txt</loc></sitemap>
</sitemapindex>"#
    );
    vec![
        ("/robots.txt".to_string(), Route::text(format!("User-agent: *\nDisallow: /private/\nSitemap: {base}/maps/index.xml\n"))),
        ("/".to_string(), Route::html("<title>home</title> no links")),
        ("/maps/index.xml".to_string(), Route::bytes("application/xml", index.into_bytes())),
        ("/maps/products.xml.gz".to_string(), Route::bytes("application/gzip", gzip(&urlset))),
        ("/maps/list.txt".to_string(), Route::text(format!("{base}/orphan/2\n"))),
        ("/sitemap.xml".to_string(), Route::bytes("application/xml", format!(
            r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{base}/orphan/3</loc></url></urlset>"#
        ).into_bytes())),
        ("/orphan/1".to_string(), Route::html("one")),
        ("/orphan/2".to_string(), Route::html("two")),
        ("/orphan/3".to_string(), Route::html("three")),
        ("/private/x".to_string(), Route::html("private")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_directives_nofollow_and_canonical_are_obeyed_and_recorded() {
    let site = Fixture::start(vec![
        (
            "/",
            Route::html(
                r#"<html><head><title>home</title><meta name="robots" content="noindex">
                <link rel="canonical" href="/home?utm_source=x"></head><body>
                <a href="/followed">a</a> <a rel="nofollow" href="/not-followed">b</a>
                <a href="/quiet">c</a></body></html>"#,
            ),
        ),
        ("/followed", Route::html("<title>followed</title>")),
        ("/not-followed", Route::html("never fetched")),
        (
            "/quiet",
            Route::html(r#"<a href="/behind-quiet">d</a>"#).with_header("x-robots-tag", "nofollow"),
        ),
        ("/behind-quiet", Route::html("never fetched")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = store_path(&dir);
    let base = site.base();
    trawl_ok(&[
        "crawl",
        &format!("{base}/"),
        "--store",
        store.to_str().unwrap(),
        "--quiet",
    ])
    .await;
    assert_eq!(site.hits("127.0.0.1/followed"), 1);
    assert_eq!(site.hits("127.0.0.1/not-followed"), 0, "rel=nofollow");
    assert_eq!(
        site.hits("127.0.0.1/behind-quiet"),
        0,
        "X-Robots-Tag: nofollow"
    );
    let pages = by_url(&export(&store).await);
    let home = &pages[&format!("{base}/")];
    assert_eq!(home["noindex"], true);
    assert_eq!(
        home["canonical"],
        format!("{base}/home"),
        "canonicalised, tracking parameter stripped"
    );
    assert_eq!(home["nofollow_links"], 1);
    assert_eq!(home["title"], "home");
    assert_eq!(pages[&format!("{base}/followed")]["noindex"], false);
}
