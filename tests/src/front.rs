//! A round-robin HTTP front for playback nodes, as a load balancer without sticky sessions:
//! each request goes to the next node; a node that refuses the connection is skipped and the
//! request tried on the next one (what a balancer's failed health check amounts to). It keeps
//! per-node request counts so a test can see that every node served. The API (`/v1/…`, the
//! docs) and the dashboard go to the control planes the same way, so one base URL serves a
//! whole deployment.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub struct Front {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    /// Playback nodes.
    backends: Vec<String>,
    next: AtomicUsize,
    served: Vec<AtomicUsize>,
    /// Control planes.
    api: Vec<String>,
    next_api: AtomicUsize,
    client: reqwest::Client,
}

/// Paths the control planes answer: the API, its docs and the dashboard.
fn is_api(path: &str) -> bool {
    path.starts_with("/v1/")
        || path.starts_with("/docs")
        || path == "/openapi.json"
        || path == "/"
        || path.starts_with("/channels/")
        || path == "/webhooks"
        || path == "/tokens"
        || path.starts_with("/webhooks/")
        || path.starts_with("/assets/")
}

/// A front listening, not yet forwarding: its URL is known before the nodes behind it start
/// (the control planes hand it out as their public URL).
pub struct Bound {
    pub url: String,
    listener: tokio::net::TcpListener,
}

impl Front {
    /// Listens on a port of the system's choosing.
    pub async fn bind() -> Bound {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address: SocketAddr = listener.local_addr().unwrap();
        Bound {
            url: format!("http://{address}"),
            listener,
        }
    }
}

impl Bound {
    /// Forwards to playback nodes `backends` and control planes `api` (base URLs).
    pub fn serve(self, backends: Vec<String>, api: Vec<String>) -> Front {
        let Self { url, listener } = self;
        let shared = Arc::new(Shared {
            served: backends.iter().map(|_| AtomicUsize::new(0)).collect(),
            backends,
            next: AtomicUsize::new(0),
            api,
            next_api: AtomicUsize::new(0),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        });
        let serving = shared.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(shared.forward(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Front {
            url,
            shared,
            server,
        }
    }
}

impl Front {
    /// Requests each backend has answered so far.
    pub fn served(&self) -> Vec<usize> {
        self.shared
            .served
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Shared {
    async fn forward(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |path| path.as_str())
            .to_owned();
        let method = request.method().clone();
        // The request's own headers (a player's `Range`, …) go along; the hop's do not.
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in request.headers() {
            if !["host", "connection", "keep-alive", "transfer-encoding"].contains(&name.as_str()) {
                headers.append(name.clone(), value.clone());
            }
        }
        let Ok(body) = http_body_util::BodyExt::collect(request.into_body()).await else {
            return status(400, "unreadable request body".into());
        };
        let body = body.to_bytes();
        let (pool, next) = if is_api(request_path(&path)) {
            (&self.api, &self.next_api)
        } else {
            (&self.backends, &self.next)
        };
        let first = next.fetch_add(1, Ordering::Relaxed);
        for attempt in 0..pool.len() {
            let index = (first + attempt) % pool.len();
            let url = format!("{}{path}", pool[index]);
            let sent = self
                .client
                .request(method.clone(), &url)
                .headers(headers.clone())
                .body(body.clone())
                .send()
                .await;
            let answer = match sent {
                Ok(answer) => answer,
                // Refused or reset: this node is down; the next one gets the request.
                Err(error) if error.is_connect() || error.is_request() => continue,
                Err(error) => return status(502, error.to_string()),
            };
            let mut response = Response::builder().status(answer.status().as_u16());
            let hop_by_hop = [
                "connection",
                "transfer-encoding",
                "content-length",
                "keep-alive",
            ];
            for (name, value) in answer.headers() {
                if !hop_by_hop.contains(&name.as_str()) {
                    response = response.header(name, value);
                }
            }
            let Ok(body) = answer.bytes().await else {
                continue;
            };
            if std::ptr::eq(pool, &self.backends) {
                self.served[index].fetch_add(1, Ordering::Relaxed);
            }
            return response.body(Full::new(body)).unwrap();
        }
        status(502, "no node answered".into())
    }
}

/// The path without its query.
fn request_path(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path)
}

fn status(code: u16, message: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::from(message)))
        .unwrap()
}
