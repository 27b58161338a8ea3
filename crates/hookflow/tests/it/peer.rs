//! A real HTTP peer on 127.0.0.1:0 that records every request and answers
//! with scripted replies (then a default one): the receiving end of actions.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: tokio::time::Instant,
    /// The connection the request came on.
    pub conn: Conn,
}

/// Numbers the connections every peer accepts, in the order they were accepted.
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

/// One accepted connection: its number (see [`connections_accepted`]) and the sender's address.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub serial: u64,
    pub from: SocketAddr,
}

impl Connected<IncomingStream<'_, TcpListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self {
            serial: ACCEPTED.fetch_add(1, Ordering::SeqCst) + 1,
            from: *stream.remote_addr(),
        }
    }
}

/// How many connections the peers of this process have accepted so far: every connection
/// accepted later has a higher [`Conn::serial`].
pub fn connections_accepted() -> u64 {
    ACCEPTED.load(Ordering::SeqCst)
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Clone)]
struct Shared {
    seen: mpsc::UnboundedSender<Recorded>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    default: Arc<Mutex<Reply>>,
}

pub struct Peer {
    pub base: String,
    seen: mpsc::UnboundedReceiver<Recorded>,
    shared: Shared,
    _server: tokio::task::JoinHandle<()>,
}

async fn record(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let ConnectInfo(conn) = *parts
        .extensions
        .get::<ConnectInfo<Conn>>()
        .expect("served with connect info");
    let body: Bytes = axum::body::to_bytes(body, 10 * 1024 * 1024).await.unwrap_or_default();
    let _ = shared.seen.send(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: body.to_vec(),
        at: tokio::time::Instant::now(),
        conn,
    });
    let next = shared.script.lock().unwrap().pop_front();
    let reply = next.unwrap_or_else(|| shared.default.lock().unwrap().clone());
    tokio::time::sleep(reply.delay).await;
    let mut response = (axum::http::StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (k, v) in reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    response
}

impl Peer {
    /// Answers `default` to every request not scripted.
    pub async fn start(default: Reply) -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let shared = Shared {
            seen: tx,
            script: Arc::default(),
            default: Arc::new(Mutex::new(default)),
        };
        let app = axum::Router::new().fallback(record).with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<Conn>())
                .await
                .unwrap();
        });
        Self {
            base,
            seen,
            shared,
            _server: server,
        }
    }

    /// Replies `reply` from now on to every request not scripted.
    pub fn set_default(&self, reply: Reply) {
        *self.shared.default.lock().unwrap() = reply;
    }

    /// The next requests get these replies, in order.
    pub fn script(&self, replies: Vec<Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    /// The next request received, within `secs` seconds.
    pub async fn next(&mut self, secs: u64) -> Recorded {
        tokio::time::timeout(Duration::from_secs(secs), self.seen.recv())
            .await
            .expect("the peer was called in time")
            .expect("the peer is running")
    }

    /// Requests already received, without waiting.
    pub fn drain(&mut self) -> Vec<Recorded> {
        let mut out = Vec::new();
        while let Ok(r) = self.seen.try_recv() {
            out.push(r);
        }
        out
    }
}
