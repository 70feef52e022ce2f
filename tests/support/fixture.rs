//! A fixture HTTP server on 127.0.0.1:0 with scripted routes (static answers, answer sequences,
//! trickling, hanging and truncated bodies, a gzip bomb), recording each request's time by Host
//! name and path.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// One canned answer.
#[derive(Clone)]
pub struct Route {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub location: Option<String>,
    pub headers: Vec<(&'static str, String)>,
    pub behaviour: Behaviour,
}

/// How a route sends its answer.
#[derive(Clone)]
pub enum Behaviour {
    /// The whole answer at once.
    Plain,
    /// Headers, then one byte of body every `interval`, forever.
    Trickle(Duration),
    /// Accept the request and never answer.
    Hang,
    /// Announce a long body, send part of it and close the connection.
    CloseMidBody,
    /// `Content-Encoding: gzip` of this many zero bytes, streamed.
    GzipBomb(u64),
    /// The n-th request gets the n-th route (the last one repeats).
    Sequence(Vec<Route>),
}

impl Route {
    pub fn html(body: impl Into<String>) -> Route {
        Route {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.into().into_bytes(),
            location: None,
            headers: Vec::new(),
            behaviour: Behaviour::Plain,
        }
    }

    pub fn text(body: impl Into<String>) -> Route {
        Route {
            content_type: "text/plain",
            ..Route::html(body)
        }
    }

    pub fn bytes(content_type: &'static str, body: Vec<u8>) -> Route {
        Route {
            content_type,
            body,
            ..Route::html("")
        }
    }

    pub fn status(status: u16) -> Route {
        Route {
            status,
            ..Route::text("")
        }
    }

    pub fn redirect(status: u16, location: impl Into<String>) -> Route {
        Route {
            location: Some(location.into()),
            ..Route::status(status)
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Route {
        self.headers.push((name, value.into()));
        self
    }

    pub fn behaving(behaviour: Behaviour) -> Route {
        Route {
            behaviour,
            ..Route::html("")
        }
    }
}

/// A running fixture server.
pub struct Fixture {
    pub port: u16,
    times: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Request times by "hostname/path".
type Times = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

impl Fixture {
    /// Serves `routes` (path -> answer); anything else is a 404.
    pub async fn start(routes: Vec<(&str, Route)>) -> Fixture {
        let routes: Vec<(String, Route)> = routes
            .into_iter()
            .map(|(p, r)| (p.to_string(), r))
            .collect();
        Fixture::start_with(move |_| routes).await
    }

    /// Like [`Fixture::start`], for routes that must name the server's own base URL: `routes`
    /// gets `http://127.0.0.1:PORT` once the port is bound.
    pub async fn start_with(routes: impl FnOnce(&str) -> Vec<(String, Route)>) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes = routes(&format!("http://127.0.0.1:{port}"));
        let routes: Arc<HashMap<String, Route>> = Arc::new(routes.into_iter().collect());
        let times: Times = Arc::default();
        let task = {
            let times = times.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let routes = routes.clone();
                    let times = times.clone();
                    tokio::spawn(serve_connection(stream, routes, times));
                }
            })
        };
        Fixture { port, times, task }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests seen for host name + path (e.g. "127.0.0.1/a").
    pub fn hits(&self, host_and_path: &str) -> u64 {
        self.times(host_and_path).len() as u64
    }

    /// When each request for host name + path arrived.
    pub fn times(&self, host_and_path: &str) -> Vec<Instant> {
        self.times
            .lock()
            .unwrap()
            .get(host_and_path)
            .cloned()
            .unwrap_or_default()
    }

    /// All request times for paths starting with `prefix` on 127.0.0.1, sorted.
    pub fn times_under(&self, prefix: &str) -> Vec<Instant> {
        let key = format!("127.0.0.1{prefix}");
        let mut all: Vec<Instant> = self
            .times
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.starts_with(&key))
            .flat_map(|(_, times)| times.clone())
            .collect();
        all.sort();
        all
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    routes: Arc<HashMap<String, Route>>,
    times: Times,
) {
    // CloseMidBody needs the raw socket: peek at the request line first.
    let mut peek = [0u8; 1024];
    let n = stream.peek(&mut peek).await.unwrap_or(0);
    let head = String::from_utf8_lossy(&peek[..n]).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    if let Some(Route {
        behaviour: Behaviour::CloseMidBody,
        ..
    }) = routes.get(&path)
    {
        record(&times, &head_host(&head), &path);
        let mut stream = stream;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 100000\r\n\r\n<html><body>partial")
            .await;
        let _ = stream.shutdown().await;
        return;
    }
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let routes = routes.clone();
        let times = times.clone();
        async move {
            let host = req
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_string();
            let host_name = host.split(':').next().unwrap_or("").to_string();
            let path = req.uri().path().to_string();
            let count = record(&times, &host_name, &path);
            let route = routes
                .get(&path)
                .cloned()
                .unwrap_or_else(|| Route::status(404));
            Ok::<_, Infallible>(answer(route, count).await)
        }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn head_host(head: &str) -> String {
    head.lines()
        .find_map(|line| {
            line.strip_prefix("host: ")
                .or_else(|| line.strip_prefix("Host: "))
        })
        .and_then(|host| host.split(':').next())
        .unwrap_or("")
        .to_string()
}

/// Records a request; returns how many requests this host+path had before it.
fn record(times: &Times, host_name: &str, path: &str) -> usize {
    let mut times = times.lock().unwrap();
    let entry = times.entry(format!("{host_name}{path}")).or_default();
    entry.push(Instant::now());
    entry.len() - 1
}

async fn answer(route: Route, count: usize) -> Response<Body> {
    let route = match route.behaviour {
        Behaviour::Sequence(ref steps) => steps[count.min(steps.len() - 1)].clone(),
        _ => route,
    };
    let mut response = Response::builder()
        .status(route.status)
        .header("content-type", route.content_type);
    if let Some(location) = &route.location {
        response = response.header("location", location);
    }
    for (name, value) in &route.headers {
        response = response.header(*name, value);
    }
    let body: Body = match route.behaviour {
        Behaviour::Plain | Behaviour::Sequence(_) | Behaviour::CloseMidBody => {
            Full::new(Bytes::from(route.body))
                .map_err(|never| match never {})
                .boxed()
        }
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Behaviour::Trickle(interval) => {
            let stream = futures::stream::unfold((), move |()| async move {
                tokio::time::sleep(interval).await;
                Some((
                    Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"x"))),
                    (),
                ))
            });
            BodyExt::boxed(StreamBody::new(stream))
        }
        Behaviour::GzipBomb(zeros) => {
            response = response.header("content-encoding", "gzip");
            BodyExt::boxed(StreamBody::new(
                gzip_zeros(zeros).map(|chunk| Ok(Frame::data(chunk))),
            ))
        }
    };
    response.body(body).unwrap()
}

/// A gzip stream of `total` zero bytes, compressed as it is sent (a 1 MiB block of zeros
/// compresses to about 1 KiB, so the bomb costs the server little).
fn gzip_zeros(total: u64) -> impl futures::Stream<Item = Bytes> {
    use std::io::Write;
    const BLOCK: usize = 1 << 20;
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    futures::stream::unfold(
        (encoder, 0u64, false),
        move |(mut encoder, sent, finished)| async move {
            if finished {
                return None;
            }
            if sent >= total {
                let tail = encoder.finish().unwrap_or_default();
                let dummy = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                return Some((Bytes::from(tail), (dummy, sent, true)));
            }
            let zeros = vec![0u8; BLOCK.min((total - sent) as usize)];
            encoder.write_all(&zeros).unwrap();
            encoder.flush().unwrap();
            let chunk = std::mem::take(encoder.get_mut());
            Some((
                Bytes::from(chunk),
                (encoder, sent + zeros.len() as u64, false),
            ))
        },
    )
}
