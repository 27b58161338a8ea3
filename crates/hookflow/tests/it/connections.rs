//! The listener's limits, over raw TCP: slow heads, stalled bodies, idle keep-alive
//! connections and more connections than the cap (or the open-file limit) allows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookflow_test_support::TestDatabase;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::spawn::{spawn_serve, Log, BIN};
use crate::utils::TestServer;

/// A server on SQLite with these HTTP limits.
async fn server_with(limits: hookflow_server::serve::Limits) -> TestServer {
    TestServer::start_with(Arc::new(TestDatabase::sqlite()), |c| c.http = limits).await
}

async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://")).await.unwrap()
}

/// Reads what the server sends until it closes the connection, for at most `within`; answers
/// the text and when the close was seen, or `None` if it stayed open.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<(String, Instant)> {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some((String::from_utf8_lossy(&seen).into_owned(), Instant::now())),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends one request on `stream` and reads its whole answer (it must carry a Content-Length).
async fn request(stream: &mut TcpStream, path: &str) -> String {
    let head = format!("GET {path} HTTP/1.1\r\nHost: hookflow\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|l| l.trim().parse().ok())
                .expect("a content-length");
            if body.len() >= length {
                return text;
            }
        }
    }
}

fn limits(header: u64, body: u64, keep_alive: u64, max_connections: usize) -> hookflow_server::serve::Limits {
    hookflow_server::serve::Limits {
        header_timeout: Duration::from_millis(header),
        body_timeout: Duration::from_millis(body),
        keep_alive: Duration::from_millis(keep_alive),
        max_connections,
    }
}

#[tokio::test]
async fn a_half_sent_head_and_a_silent_connection_are_closed_after_the_header_timeout() {
    let s = server_with(limits(500, 30_000, 30_000, 100)).await;
    let opened = Instant::now();
    let mut slow = connect(&s.url).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: hook").await.unwrap();
    let mut silent = connect(&s.url).await;
    for stream in [&mut slow, &mut silent] {
        let (said, closed) = read_until_closed(stream, Duration::from_secs(5))
            .await
            .expect("closed after the header timeout, not left open");
        let after = closed - opened;
        assert!(after >= Duration::from_millis(450), "closed too early: {after:?}");
        assert!(!said.contains("200 OK"), "{said}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_after_the_body_timeout() {
    let s = server_with(limits(5_000, 500, 30_000, 100)).await;
    let token = s.workspace("acme").await;
    let c = s.create_connector(&token, json!({"name": "Uploads"})).await;
    let hook = c["url"].as_str().unwrap().trim_start_matches(&s.url).to_owned();
    for (path, auth) in [
        (hook.as_str(), String::new()),
        ("/api/v1/connectors", format!("Authorization: Bearer {token}\r\n")),
    ] {
        let mut upload = connect(&s.url).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: hookflow\r\n{auth}Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{\"order\": "
        );
        upload.write_all(head.as_bytes()).await.unwrap();
        let sent = Instant::now();
        let (said, closed) = read_until_closed(&mut upload, Duration::from_secs(5))
            .await
            .expect("answered and closed after the body timeout");
        let after = closed - sent;
        assert!(said.starts_with("HTTP/1.1 408"), "{path}: {said}");
        assert!(said.contains("/docs/problems#request-timeout"), "{path}: {said}");
        assert!(after >= Duration::from_millis(400), "{path}: too early: {after:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn an_idle_connection_is_kept_for_the_keep_alive_timeout_then_closed() {
    let s = server_with(limits(300, 30_000, 1_500, 100)).await;
    let mut stream = connect(&s.url).await;
    assert!(request(&mut stream, "/healthz").await.starts_with("HTTP/1.1 200"));
    // Idle for longer than a head may take: keep-alive, not the header timeout, applies.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(request(&mut stream, "/healthz").await.starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("closed after the keep-alive timeout");
    let after = closed - answered;
    assert!(after >= Duration::from_millis(1_300), "closed too early: {after:?}");
    s.stop().await;
}

#[tokio::test]
async fn over_the_cap_the_longest_waiting_idle_connections_make_room_for_healthz() {
    let s = server_with(limits(30_000, 30_000, 30_000, 20)).await;
    let mut idle = Vec::new();
    for i in 0..40 {
        let mut stream = connect(&s.url).await;
        if i % 2 == 0 {
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").await.unwrap();
        }
        idle.push(stream);
        // Accepted in this order, so the first ones have waited longest.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..3 {
        let r = s
            .client
            .get(format!("{}/healthz", s.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .expect("/healthz answers with more idle connections open than the cap");
        assert_eq!(r.status(), 200);
    }
    let mut closed = 0;
    for stream in &mut idle[..20] {
        if read_until_closed(stream, Duration::from_secs(2)).await.is_some() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 20,
        "the 20 longest-waiting connections were closed to make room"
    );
    s.stop().await;
}

#[tokio::test]
async fn with_every_connection_busy_a_new_one_is_refused_at_once() {
    let s = server_with(limits(5_000, 5_000, 30_000, 2)).await;
    let token = s.workspace("acme").await;
    let c = s.create_connector(&token, json!({"name": "Uploads"})).await;
    let hook = c["url"].as_str().unwrap().trim_start_matches(&s.url).to_owned();
    let mut uploads = Vec::new();
    for _ in 0..2 {
        let mut upload = connect(&s.url).await;
        let head =
            format!("POST {hook} HTTP/1.1\r\nHost: hookflow\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n");
        upload.write_all(head.as_bytes()).await.unwrap();
        // hyper sends 100 Continue when the handler starts reading the body: the request is in progress.
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), upload.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"));
        uploads.push(upload);
    }
    let mut third = connect(&s.url).await;
    let (said, _) = read_until_closed(&mut third, Duration::from_secs(1))
        .await
        .expect("refused at once");
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(said.to_ascii_lowercase().contains("retry-after: 1"), "{said}");
    drop(uploads);
    s.stop().await;
}

/// The probe's case: with a low open-file limit, more idle connections than descriptors used
/// to stop `accept`, and `/healthz` with it. The binary runs under `ulimit -n 256`.
#[tokio::test]
async fn more_idle_connections_than_open_files_do_not_stop_healthz() {
    let db = TestDatabase::sqlite();
    let mut command = Command::new("bash");
    command
        .args(["-c", r#"ulimit -n 256 && exec "$@""#, "bash", BIN])
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db.url])
        .env("RUST_LOG", "error")
        .env("HOOKFLOW_WORKERS", "4");
    let (mut child, base) = spawn_serve(command, Log::Inherit).await;
    let mut idle = Vec::new();
    for _ in 0..400 {
        idle.push(connect(&base).await);
    }
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("/healthz answers with 400 idle connections open under a 256 file limit");
    assert_eq!(r.status(), 200);
    drop(idle);
    child.kill().await.unwrap();
}
