//! The loopback peer every HTTP test talks to, and the `check` helper.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::Router;
use expect_test::Expect;
use hookflow_delivery::{Client, Guard, Request};
use tokio::sync::mpsc;

/// The user agent of the test clients.
pub const USER_AGENT: &str = "hookflow-test/1";

/// A client that may reach `127.0.0.1` only, as the tests' configuration allows.
pub fn client() -> Client {
    Client::new(Guard::parse("127.0.0.1/32").unwrap(), USER_AGENT)
}

/// A client with the default guard: nothing special allowed.
pub fn strict_client() -> Client {
    Client::new(Guard::default(), USER_AGENT)
}

/// One request as the peer received it.
#[derive(Debug)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An axum server on `127.0.0.1:0` that records every request before it answers:
///
/// - `/status/{code}?name=value...` answers `code`, each query pair a header
///   (`/status/302?location=/echo` is a redirect);
/// - `/chain/{n}` redirects to `/chain/{n-1}` down to `/chain/0`, which answers 200;
/// - `/slowchain/{n}/{ms}` is `/chain/{n}` taking `ms` milliseconds a hop;
/// - `/sleep/{ms}` answers 200 after `ms` milliseconds;
/// - `/big/{n}` answers `n` bytes with a `Content-Length`, `/stream/{n}` without one;
/// - anything else answers `200 ok`.
pub struct Peer {
    pub addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Peer {
    pub async fn start() -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let app = Router::new().fallback(answer).with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, seen }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests received so far, oldest first.
    pub fn seen(&mut self) -> Vec<Seen> {
        let mut all = Vec::new();
        while let Ok(seen) = self.seen.try_recv() {
            all.push(seen);
        }
        all
    }
}

async fn answer(
    State(tx): State<mpsc::UnboundedSender<Seen>>,
    method: Method,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumResponse {
    let _ = tx.send(Seen {
        method: method.to_string(),
        uri: uri.to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
    });
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let number = |i: usize| segments.get(i).and_then(|s| s.parse::<u64>().ok());
    match (segments[0], number(1)) {
        ("status", Some(code)) => {
            let mut response = StatusCode::from_u16(code as u16).unwrap().into_response();
            for (name, value) in query {
                response.headers_mut().append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(&value).unwrap(),
                );
            }
            response
        }
        ("chain", Some(0)) => "end of the chain".into_response(),
        ("chain", Some(n)) => (StatusCode::FOUND, [("location", format!("/chain/{}", n - 1))]).into_response(),
        ("slowchain", Some(n)) => {
            let ms = number(2).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            match n {
                0 => "end of the chain".into_response(),
                n => (StatusCode::FOUND, [("location", format!("/slowchain/{}/{ms}", n - 1))]).into_response(),
            }
        }
        ("sleep", Some(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            "slept".into_response()
        }
        ("big", Some(n)) => vec![b'x'; n as usize].into_response(),
        ("stream", Some(n)) => {
            let chunks = (0..n.div_ceil(65536)).map(move |i| {
                let len = (n - i * 65536).min(65536) as usize;
                Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; len]))
            });
            Body::from_stream(futures::stream::iter(chunks)).into_response()
        }
        _ => "ok".into_response(),
    }
}

/// Sends `req` with `client`, then prints what each peer received and what
/// came back, ports replaced by `PORT1`, `PORT2`, ... in `peers` order.
pub async fn check(client: &Client, req: Request, peers: &mut [&mut Peer], expect: Expect) {
    let result = client.send(req).await;
    let mut out = String::new();
    for (i, peer) in peers.iter_mut().enumerate() {
        for seen in peer.seen() {
            out += &format!("peer{} got {} {}\n", i + 1, seen.method, seen.uri);
            for (name, value) in &seen.headers {
                out += &format!("  {name}: {value}\n");
            }
            if !seen.body.is_empty() {
                out += &format!("  body: {}\n", String::from_utf8_lossy(&seen.body));
            }
        }
    }
    match result {
        Ok(response) => {
            out += &format!("=> {} from {}\n", response.status_line(), response.url);
            for (name, value) in &response.headers {
                if name != "date" {
                    out += &format!("  {name}: {value}\n");
                }
            }
            if !response.body.is_empty() {
                out += &format!("  body: {}\n", String::from_utf8_lossy(&response.body));
            }
        }
        Err(err) => out += &format!("=> {:?}: {err}\n", err.kind),
    }
    for (i, peer) in peers.iter().enumerate() {
        out = out.replace(&format!(":{}", peer.port()), &format!(":PORT{}", i + 1));
    }
    expect.assert_eq(&out);
}
