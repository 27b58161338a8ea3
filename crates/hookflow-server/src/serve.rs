//! The HTTP/1.1 listener: an accept loop of our own around hyper, because `axum::serve` has
//! no timeouts and no connection cap, and a server that faces the internet needs both. Without
//! them a client that sends half a request head, nothing at all, or a body one byte at a time
//! keeps its connection (and its file descriptor and buffers) forever, and a thousand of them
//! stop the process from accepting anyone else.
//!
//! Each connection is in one of three states, and [`Limits`] bounds each:
//!
//! - reading a request head: from its first byte, or from the connection's start for the first
//!   request, it must end within `header_timeout`;
//! - idle between requests: the next request must start within `keep_alive`;
//! - busy with a request: its body must arrive within `body_timeout` of the handler's first
//!   read (the answer is then 408), and the handler may take as long as it needs.
//!
//! At most `max_connections` are open. A new connection over the cap closes the connection that
//! has been idle or reading a head the longest (as nginx drops idle keep-alive connections when
//! it runs out): a health check or a real sender always gets in, at the expense of the slowest
//! client. Only when every connection is busy with a request is the new one refused, at once,
//! with a 503 and `Retry-After`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tower::ServiceExt;

use crate::error::BodyTimeout;

/// How long connections may take at each step, and how many may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a request head may take: from its first byte, or for a connection's first
    /// request from the connection's start.
    pub header_timeout: Duration,
    /// How long a request body may take, from the handler's first read to its last byte.
    pub body_timeout: Duration,
    /// How long a connection may stay idle between two requests.
    pub keep_alive: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s for a head, 30 s for a body, 60 s idle, 10,000 connections.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets every
/// request in progress finish (connections without one close at once) and returns.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let registry = Arc::new(Registry::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; when all are gone, the last connection has closed.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        let Some(conn) = registry.admit() else {
            refuse(stream, &registry);
            continue;
        };
        let task = Connection {
            conn,
            registry: registry.clone(),
            limits,
            app: app.clone(),
            stop: stop_rx.clone(),
            _open: open_tx.clone(),
        };
        tokio::spawn(task.run(stream));
    }
    // New connections are refused from now on rather than left waiting in the backlog.
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_tx);
    let _ = open_rx.recv().await;
}

/// An accept that failed: a connection reset before it was accepted is nothing; anything else
/// (no file descriptor left) is logged and waited out briefly instead of retried in a hot loop.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(error = %e, "Cannot accept a connection.");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Answers a connection over the cap with a 503 and closes it, without reading anything: every
/// other connection is busy with a request.
fn refuse(stream: TcpStream, registry: &Registry) {
    const BODY: &str = r#"{"type":"/docs/problems#unavailable","title":"Service Unavailable","status":503,"detail":"too many connections are busy; try again shortly"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    // A fresh socket's send buffer takes this at once; if it does not, the client gets only the close.
    let _ = stream.try_write(answer.as_bytes());
    // Once a second at most: a flood of refusals must not become a flood of log lines.
    // (Only the accept loop refuses, so a load and a store do.)
    let now = registry.now().max(1);
    let last = registry.last_refusal_logged.load(Ordering::Acquire);
    if last == 0 || now.saturating_sub(last) >= 1_000 {
        registry.last_refusal_logged.store(now, Ordering::Release);
        tracing::warn!(
            max_connections = registry.max,
            "Refused a connection: every connection is busy with a request."
        );
    }
}

/// What the accept loop and a connection's task know of one connection.
struct Conn {
    id: u64,
    /// Requests whose answer has not been sent in full.
    busy: AtomicUsize,
    /// When the connection last became idle or started a request head, in milliseconds since
    /// the registry's epoch.
    since: AtomicU64,
    /// Whether bytes of a request head arrived since the connection became idle.
    reading_head: AtomicBool,
    /// Whether a request was answered: the wait for the next one is a keep-alive wait.
    served: AtomicBool,
    /// Closes the connection at once (it was chosen to make room for a new one).
    close: Notify,
}

/// The open connections, for the cap and for choosing which one makes room.
struct Registry {
    epoch: Instant,
    max: usize,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    /// When a refusal was last logged, in milliseconds since `epoch`.
    last_refusal_logged: AtomicU64,
}

impl Registry {
    fn new(max: usize) -> Self {
        Self {
            epoch: Instant::now(),
            max: max.max(1),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            last_refusal_logged: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A place for a new connection: free, or made by closing the connection that has waited
    /// longest without a request in progress; `None` when every connection is busy.
    fn admit(&self) -> Option<Arc<Conn>> {
        let mut open = self
            .open
            .lock()
            .expect("invariant: the registry lock is never poisoned");
        if open.len() >= self.max {
            let oldest = open
                .values()
                .filter(|c| c.busy.load(Ordering::Acquire) == 0)
                .min_by_key(|c| c.since.load(Ordering::Acquire))?
                .id;
            if let Some(evicted) = open.remove(&oldest) {
                evicted.close.notify_one();
            }
        }
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicUsize::new(0),
            since: AtomicU64::new(self.now()),
            reading_head: AtomicBool::new(false),
            served: AtomicBool::new(false),
            close: Notify::new(),
        });
        open.insert(conn.id, conn.clone());
        Some(conn)
    }

    fn forget(&self, id: u64) {
        self.open
            .lock()
            .expect("invariant: the registry lock is never poisoned")
            .remove(&id);
    }

    /// When `conn` must be closed, or `None` while a request is in progress.
    fn deadline(&self, conn: &Conn, limits: &Limits) -> Option<Instant> {
        if conn.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        let waiting_for_next = conn.served.load(Ordering::Acquire) && !conn.reading_head.load(Ordering::Acquire);
        let allowed = if waiting_for_next {
            limits.keep_alive
        } else {
            limits.header_timeout
        };
        Some(self.epoch + Duration::from_millis(conn.since.load(Ordering::Acquire)) + allowed)
    }
}

/// One accepted connection and what it needs to be served.
struct Connection {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    limits: Limits,
    app: Router,
    stop: watch::Receiver<bool>,
    /// Held until the connection closes, so shutdown can wait for it.
    _open: mpsc::Sender<()>,
}

impl Connection {
    /// Serves requests until the client closes, a limit runs out, the connection is chosen to
    /// make room, or shutdown has let its last request finish.
    async fn run(mut self, stream: TcpStream) {
        let io = TokioIo::new(Watched {
            stream,
            conn: self.conn.clone(),
            registry: self.registry.clone(),
        });
        let service = RequestService {
            conn: self.conn.clone(),
            registry: self.registry.clone(),
            app: self.app.clone(),
            body_timeout: self.limits.body_timeout,
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        // A backstop only: hyper's timer also runs while the connection is idle, so it is set to
        // the longest a head can be waited for here (idle, then reading it).
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.keep_alive + self.limits.header_timeout);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        // While a request is in progress there is no deadline; look again after this long.
        let recheck = self.limits.header_timeout.min(self.limits.keep_alive);
        // Shutdown, or this connection was chosen to make room: an idle connection closes at
        // once, a request in progress finishes first (hyper then closes the connection).
        let wind_down = async {
            tokio::select! {
                () = self.conn.close.notified() => {}
                _ = self.stop.wait_for(|stop| *stop) => {}
            }
        };
        tokio::pin!(wind_down);
        let mut winding_down = false;
        loop {
            let deadline = self
                .registry
                .deadline(&self.conn, &self.limits)
                .unwrap_or_else(|| Instant::now() + recheck);
            tokio::select! {
                _ = connection.as_mut() => break,
                () = &mut wind_down, if !winding_down => {
                    if self.conn.busy.load(Ordering::Acquire) == 0 {
                        break;
                    }
                    winding_down = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    if self.registry.deadline(&self.conn, &self.limits).is_some_and(|d| d <= Instant::now()) {
                        break;
                    }
                }
            }
        }
        self.registry.forget(self.conn.id);
    }
}

/// The socket, noting when the first bytes of a request head arrive on an idle connection.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        let idle = this.conn.busy.load(Ordering::Acquire) == 0;
        if buf.filled().len() > before && idle && !this.conn.reading_head.swap(true, Ordering::AcqRel) {
            this.conn.since.store(this.registry.now(), Ordering::Release);
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router as hyper calls it: marks the connection busy from the request's head to the end
/// of its answer, and puts the body timeout on the request body.
#[derive(Clone)]
struct RequestService {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    app: Router,
    body_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for RequestService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        let busy = Busy::start(self.conn.clone(), self.registry.clone());
        let timeout = self.body_timeout;
        let request: Request = request.map(|body| Body::new(TimedBody::new(Body::new(body), timeout)));
        let answer = self.app.clone().oneshot(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| Body::new(AnswerBody { body, _busy: busy })))
        })
    }
}

/// A request in progress on a connection, until its answer has been sent (or dropped).
struct Busy {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Busy {
    fn start(conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Self { conn, registry }
    }
}

impl Drop for Busy {
    /// The last answer sent: the connection is idle from now, waiting for the next request.
    fn drop(&mut self) {
        if self.conn.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.conn.reading_head.store(false, Ordering::Release);
            self.conn.served.store(true, Ordering::Release);
            self.conn.since.store(self.registry.now(), Ordering::Release);
        }
    }
}

/// An answer's body, keeping its request [`Busy`] until hyper has sent it and drops it.
struct AnswerBody {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails with [`BodyTimeout`] when it has not ended `timeout` after its
/// first read. The clock starts at the handler's first read, not at the head: time the handler
/// spends before reading (a database lookup) is not the sender's.
struct TimedBody {
    body: Body,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TimedBody {
    fn new(body: Body, timeout: Duration) -> Self {
        Self {
            body,
            timeout,
            deadline: None,
        }
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_registry_makes_room_by_closing_the_longest_waiting_idle_connection() {
        let registry = Registry::new(2);
        let first = registry.admit().unwrap();
        let second = registry.admit().unwrap();
        first.since.store(5, Ordering::Release);
        second.since.store(1, Ordering::Release);
        let third = registry.admit().expect("an idle connection makes room");
        assert_eq!(registry.open.lock().unwrap().len(), 2);
        assert!(
            !registry.open.lock().unwrap().contains_key(&second.id),
            "the longest waiting one goes"
        );
        // With every open connection busy, a new one is refused.
        first.busy.store(1, Ordering::Release);
        third.busy.store(1, Ordering::Release);
        assert!(registry.admit().is_none());
    }

    #[test]
    fn deadlines_follow_the_connection_state() {
        let registry = Registry::new(1);
        let limits = Limits {
            header_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(60),
            ..Limits::default()
        };
        let conn = registry.admit().unwrap();
        let at = |ms: u64| registry.epoch + Duration::from_millis(ms);
        conn.since.store(0, Ordering::Release);
        assert_eq!(
            registry.deadline(&conn, &limits),
            Some(at(10_000)),
            "a new connection gets a head's time"
        );
        conn.served.store(true, Ordering::Release);
        assert_eq!(
            registry.deadline(&conn, &limits),
            Some(at(60_000)),
            "an idle one keeps alive"
        );
        conn.reading_head.store(true, Ordering::Release);
        assert_eq!(registry.deadline(&conn, &limits), Some(at(10_000)), "a head has begun");
        conn.busy.store(1, Ordering::Release);
        assert_eq!(
            registry.deadline(&conn, &limits),
            None,
            "a request in progress has no deadline"
        );
    }
}
