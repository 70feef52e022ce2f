//! The servers `trawl bench` crawls, each run in a child process (`trawl serve-site`,
//! `trawl serve-dir`) so that the crawler's CPU time and peak memory are measured alone.

use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use trawl_testsite::{SiteSpec, TestSite};

/// Serves a synthetic site; prints the seed URL on stdout; stops when stdin closes.
pub async fn serve_site(pages: usize, hosts: usize, latency_ms: u64) -> anyhow::Result<u8> {
    let spec = SiteSpec {
        pages,
        hosts,
        latency: Duration::from_millis(latency_ms),
        ..SiteSpec::default()
    };
    let site = TestSite::start(spec).await?;
    announce(&site.seed_url())?;
    wait_for_stdin_eof().await;
    site.shutdown().await;
    Ok(0)
}

/// Serves the files under `root` (directories by their index.html); prints the seed URL on
/// stdout; stops when stdin closes.
pub async fn serve_dir(root: PathBuf) -> anyhow::Result<u8> {
    let root = Arc::new(root.canonicalize()?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let seed = if root.join("index.html").exists() {
        format!("http://127.0.0.1:{port}/index.html")
    } else {
        format!("http://127.0.0.1:{port}/")
    };
    announce(&seed)?;
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let root = root.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let root = root.clone();
                    async move { Ok::<_, Infallible>(serve_file(&root, req.uri().path()).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    wait_for_stdin_eof().await;
    server.abort();
    Ok(0)
}

async fn serve_file(root: &Path, path: &str) -> Response<Full<Bytes>> {
    let decoded = percent_decode(path);
    let relative = decoded.trim_start_matches('/');
    let not_found = || {
        Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(b"not found")))
            .unwrap_or_default()
    };
    if relative.split('/').any(|part| part == "..") {
        return not_found();
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file = file.join("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => Response::builder()
            .header("content-type", content_type(&file))
            .body(Full::new(Bytes::from(bytes)))
            .unwrap_or_default(),
        Err(_) => not_found(),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&path[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn announce(seed: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{seed}")?;
    out.flush()?;
    Ok(())
}

async fn wait_for_stdin_eof() {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = lines.next_line().await {}
}
