//! Tests of the running server with a tiny raw HTTP/1.1 client (and hyper's HTTP/2 client).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Resource, SiteSpec, TestSite};

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 GET on an open stream (keep-alive; the body is read by Content-Length).
async fn get_on<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, authority: &str, path: &str) -> Resp {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: test\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let mut chunk = vec![0u8; len - body.len()];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    Resp {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

/// GET an absolute `http://127.0.0.1:PORT/path` URL on a fresh connection.
async fn get(url: &str) -> Resp {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = TcpStream::connect(authority).await.unwrap();
    get_on(&mut s, authority, path).await
}

/// The hrefs of a page that denote other resources, made absolute and fragment-free.
fn page_links(base: &str, html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .filter(|h| !h.starts_with('#') && !h.starts_with("mailto:"))
        .map(|h| {
            let h = h.split('#').next().unwrap();
            if h.starts_with('/') {
                format!("{base}{h}")
            } else {
                h.to_string()
            }
        })
        .collect()
}

fn spec(pages: usize, hosts: usize) -> SiteSpec {
    SiteSpec {
        pages,
        hosts,
        ..SiteSpec::default()
    }
}

#[tokio::test]
async fn served_html_has_exactly_the_graph_outlinks() {
    let site = TestSite::start(SiteSpec {
        not_found_percent: 30,
        redirect_percent: 30,
        private_percent: 30,
        ..spec(60, 3)
    })
    .await
    .unwrap();
    let graph = site.graph();
    for i in 0..60 {
        let r = get(&site.page_url(i)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.header("etag"), Some(format!("\"p{i}\"").as_str()));
        assert_eq!(r.header("last-modified"), Some(crate::LAST_MODIFIED));
        assert!(r.body.contains(&format!("<title>Page {i}</title>")));
        assert!(r.body.contains("href=\"mailto:x@example.org\""));
        assert!(r.body.contains("href=\"#top\""));
        assert_eq!(
            page_links(&site.base_url(i % 3), &r.body),
            graph.outlinks(i),
            "page {i}"
        );
    }
    assert!((0..60)
        .flat_map(|i| graph.outlinks(i))
        .any(|u| u.contains("/moved/")));
}

#[tokio::test]
async fn moved_missing_private_and_robots_answer_as_specified() {
    let site = TestSite::start(SiteSpec {
        redirect_percent: 100,
        private_percent: 100,
        robots_disallow: vec!["/private/".into(), "/secret".into()],
        ..spec(20, 2)
    })
    .await
    .unwrap();
    let graph = site.graph();
    let moved = graph
        .outlinks(5)
        .into_iter()
        .find(|u| u.contains("/moved/"))
        .unwrap();
    assert_eq!(moved, format!("{}/moved/5", site.base_url(1)));
    let r = get(&moved).await;
    assert_eq!(r.status, 301);
    let location = r.header("location").unwrap();
    assert!(location.starts_with('/'), "{location}");
    let target = format!("{}{location}", site.base_url(1));
    assert!(matches!(graph.resolve(&target), Some(Resource::Page(t)) if t % 2 == 1));
    assert_eq!(
        graph.resolve(&moved),
        Some(Resource::Redirect { to: target })
    );

    let r = get(&format!("{}/missing/5", site.base_url(1))).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        get(&format!("{}/nothing/here", site.base_url(0)))
            .await
            .status,
        404
    );
    assert_eq!(get(&format!("{}/p/0", site.base_url(0))).await.status, 404);

    let private = get(&format!("{}/private/5", site.base_url(1))).await;
    assert_eq!(private.status, 200);
    assert!(page_links(&site.base_url(1), &private.body).is_empty());

    let robots = get(&format!("{}/robots.txt", site.base_url(0))).await;
    assert_eq!(robots.status, 200);
    assert_eq!(
        robots.body,
        "User-agent: *\nDisallow: /private/\nDisallow: /secret\n"
    );
}

#[tokio::test]
async fn conditional_requests_get_304() {
    let site = TestSite::start(spec(10, 1)).await.unwrap();
    let mut s = TcpStream::connect(&site.base_url(0)[7..]).await.unwrap();
    let req = "GET /p/3 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"p3\"\r\nConnection: close\r\n\r\n";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 304"), "{out}");
}

#[tokio::test]
async fn counters_count_every_request() {
    let site = TestSite::start(spec(10, 2)).await.unwrap();
    let base0 = site.base_url(0);
    let mut s = TcpStream::connect(&base0[7..]).await.unwrap();
    for path in ["/", "/", "/robots.txt", "/p/4?x=1"] {
        get_on(&mut s, &base0[7..], path).await; // one keep-alive connection
    }
    get(&site.page_url(3)).await;
    assert_eq!(site.requests(&site.seed_url()), 2);
    assert_eq!(site.requests(&base0), 2, "no path means /");
    assert_eq!(
        site.requests(&format!("{base0}/p/4")),
        0,
        "the query is part of the key"
    );
    assert_eq!(site.requests(&format!("{base0}/p/4?x=1")), 1);
    assert_eq!(site.requests(&site.page_url(3)), 1);
    assert_eq!(site.requests("http://example.org/"), 0);
    assert_eq!(site.total_requests(), 5);
    let counts = site.request_counts();
    let expected: BTreeMap<String, u64> = [
        (format!("{base0}/"), 2),
        (format!("{base0}/robots.txt"), 1),
        (format!("{base0}/p/4?x=1"), 1),
        (site.page_url(3), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn max_in_flight_sees_concurrent_requests() {
    let site = TestSite::start(SiteSpec {
        latency: Duration::from_millis(200),
        ..spec(10, 2)
    })
    .await
    .unwrap();
    let urls: Vec<String> = [0, 2, 4, 6].iter().map(|&i| site.page_url(i)).collect();
    let tasks: Vec<_> = urls
        .into_iter()
        .map(|u| tokio::spawn(async move { get(&u).await }))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().status, 200);
    }
    assert_eq!(site.max_in_flight(0), 4);
    assert_eq!(site.max_in_flight(1), 0);
    assert_eq!(site.in_flight(0), 0);
    get(&site.page_url(1)).await;
    assert_eq!(site.max_in_flight(1), 1);
}

/// A real crawl with the raw client, following the rules `reachable` describes, requests exactly
/// the URLs `reachable` predicts, each once.
#[tokio::test]
async fn crawling_the_site_matches_reachable() {
    let site = TestSite::start(SiteSpec {
        not_found_percent: 20,
        redirect_percent: 20,
        private_percent: 20,
        ..spec(50, 3)
    })
    .await
    .unwrap();
    let graph = site.graph();
    let allow = |u: &str| !u.ends_with("/p/30");
    let expected = graph.reachable(&site.seed_url(), None, true, &allow);
    assert!(expected.len() > 45 && !expected.contains_key(&site.page_url(30)));

    let mut seen = BTreeSet::from([site.seed_url()]);
    let mut queue = VecDeque::from([site.seed_url()]);
    while let Some(url) = queue.pop_front() {
        let r = get(&url).await;
        let base = &url[..url[7..].find('/').unwrap() + 7];
        let next = match r.status {
            200 => page_links(base, &r.body),
            301 => vec![format!("{base}{}", r.header("location").unwrap())],
            _ => vec![],
        };
        for u in next {
            if allow(&u) && !u.contains("/private/") && seen.insert(u.clone()) {
                queue.push_back(u);
            }
        }
    }
    let expected_set: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(seen, expected_set);
    let counts = site.request_counts();
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        expected_set
    );
    assert!(counts.values().all(|&n| n == 1));
}

#[tokio::test]
async fn reachable_depth_and_allow_filters() {
    let site = TestSite::start(spec(60, 3)).await.unwrap();
    let graph = site.graph();
    let all = graph.reachable(&site.seed_url(), None, true, &|_| true);
    assert!((0..60).all(|i| all.contains_key(&site.page_url(i))));
    assert_eq!(all[&site.seed_url()], 0);
    assert_eq!(all[&site.page_url(1)], 1);
    let only_seed = graph.reachable(&site.seed_url(), Some(0), true, &|_| true);
    assert_eq!(only_seed.len(), 1);
    let two = graph.reachable(&site.seed_url(), Some(2), true, &|_| true);
    assert!(two.len() < all.len() && two.values().all(|&d| d <= 2));
    assert!(two.iter().all(|(u, d)| all[u] == *d));
    let base0 = format!("{}/", site.base_url(0));
    let host0 = graph.reachable(&site.seed_url(), None, true, &|u| u.starts_with(&base0));
    assert!(!host0.is_empty() && host0.keys().all(|u| u.starts_with(&base0)));
    assert!(graph
        .reachable(&site.seed_url(), None, true, &|_| false)
        .is_empty());
}

#[tokio::test]
async fn http2_prior_knowledge_works() {
    use http_body_util::{BodyExt, Empty};
    let site = TestSite::start(spec(10, 1)).await.unwrap();
    let stream = TcpStream::connect(&site.base_url(0)[7..]).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(site.page_url(5))
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("<title>Page 5</title>"));
    assert_eq!(site.requests(&site.page_url(5)), 1);
}

#[tokio::test]
async fn shutdown_closes_the_listeners() {
    let site = TestSite::start(spec(10, 2)).await.unwrap();
    let addrs: Vec<String> = (0..2).map(|h| site.base_url(h)[7..].to_string()).collect();
    assert_eq!(get(&site.seed_url()).await.status, 200);
    site.shutdown().await;
    for addr in addrs {
        assert!(
            TcpStream::connect(&addr).await.is_err(),
            "{addr} still accepts"
        );
    }
}

#[tokio::test]
async fn invalid_spec_is_an_invalid_input_error() {
    let err = TestSite::start(spec(10, 0)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("hosts"));
}

#[tokio::test]
async fn https_with_a_self_signed_certificate() {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let site = TestSite::start_tls(spec(10, 2), Arc::new(server))
        .await
        .unwrap();
    assert!(site.seed_url().starts_with("https://127.0.0.1:"));
    let url = site.page_url(3);
    assert_eq!(site.graph().resolve(&url), Some(Resource::Page(3)));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let authority = &site.base_url(1)["https://".len()..];
    let tcp = TcpStream::connect(authority).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let r = get_on(&mut tls, authority, "/p/3").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<title>Page 3</title>"));
    let links = page_links(&site.base_url(1), &r.body);
    assert_eq!(links, site.graph().outlinks(3));
    assert_eq!(site.requests(&url), 1);
}
