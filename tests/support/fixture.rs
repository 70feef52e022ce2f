//! A fixture HTTP server on 127.0.0.1:0 with fixed routes, counting requests by Host and path.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// One canned answer.
#[derive(Clone)]
pub struct Route {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub location: Option<String>,
}

impl Route {
    pub fn html(body: impl Into<String>) -> Route {
        Route {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.into(),
            location: None,
        }
    }
}

/// A running fixture server.
pub struct Fixture {
    pub port: u16,
    hits: Arc<Mutex<HashMap<String, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fixture {
    /// Serves `routes` (path -> answer); anything else is a 404.
    pub async fn start(routes: Vec<(&str, Route)>) -> Fixture {
        let routes: Arc<HashMap<String, Route>> = Arc::new(
            routes
                .into_iter()
                .map(|(p, r)| (p.to_string(), r))
                .collect(),
        );
        let hits: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = {
            let hits = hits.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let routes = routes.clone();
                    let hits = hits.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            let routes = routes.clone();
                            let hits = hits.clone();
                            async move {
                                let host = req
                                    .headers()
                                    .get("host")
                                    .and_then(|h| h.to_str().ok())
                                    .unwrap_or("")
                                    .to_string();
                                let host_name = host.split(':').next().unwrap_or("").to_string();
                                let path = req.uri().path().to_string();
                                *hits
                                    .lock()
                                    .unwrap()
                                    .entry(format!("{host_name}{path}"))
                                    .or_default() += 1;
                                let route = routes.get(&path).cloned().unwrap_or(Route {
                                    status: 404,
                                    content_type: "text/plain",
                                    body: "not found".into(),
                                    location: None,
                                });
                                let mut response = Response::builder()
                                    .status(route.status)
                                    .header("content-type", route.content_type);
                                if let Some(location) = route.location {
                                    response = response.header("location", location);
                                }
                                Ok::<_, Infallible>(
                                    response.body(Full::new(Bytes::from(route.body))).unwrap(),
                                )
                            }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        Fixture { port, hits, task }
    }

    /// Requests seen for `host_name` + `path` (host name without port, e.g. "localhost/a").
    pub fn hits(&self, host_and_path: &str) -> u64 {
        self.hits
            .lock()
            .unwrap()
            .get(host_and_path)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}
