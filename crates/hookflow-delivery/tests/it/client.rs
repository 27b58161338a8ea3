//! `Client::send` against a real loopback peer: methods, headers, bodies,
//! errors, timeouts and the body cap.

use std::time::{Duration, Instant};

use expect_test::expect;
use hookflow_delivery::{ErrorKind, Request, MAX_RESPONSE_BODY};

use crate::utils::{check, client, Peer};

#[tokio::test]
async fn a_get_carries_the_user_agent() {
    let mut peer = Peer::start().await;
    check(
        &client(),
        Request::get(peer.url("/echo?a=1&b=two")),
        &mut [&mut peer],
        expect![[r#"
            peer1 got GET /echo?a=1&b=two
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
            => 200 OK from http://127.0.0.1:PORT1/echo?a=1&b=two
              content-type: text/plain; charset=utf-8
              content-length: 2
              body: ok
        "#]],
    )
    .await;
}

#[tokio::test]
async fn a_post_carries_its_headers_and_body() {
    let mut peer = Peer::start().await;
    let mut req = Request::new("post", peer.url("/orders"));
    req.headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Tag".into(), "a".into()),
        ("x-tag".into(), "b".into()),
        ("Idempotency-Key".into(), "exe_1:crm".into()),
        ("User-Agent".into(), "custom/2".into()),
    ];
    req.body = Some(br#"{"order": 1}"#.to_vec());
    check(
        &client(),
        req,
        &mut [&mut peer],
        expect![[r#"
            peer1 got POST /orders
              content-type: application/json
              x-tag: a
              x-tag: b
              idempotency-key: exe_1:crm
              user-agent: custom/2
              accept: */*
              host: 127.0.0.1:PORT1
              content-length: 12
              body: {"order": 1}
            => 200 OK from http://127.0.0.1:PORT1/orders
              content-type: text/plain; charset=utf-8
              content-length: 2
              body: ok
        "#]],
    )
    .await;
}

#[tokio::test]
async fn every_method_is_sent_as_given() {
    let mut peer = Peer::start().await;
    let client = client();
    let mut out = String::new();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "purge"] {
        let mut req = Request::new(method, peer.url("/m"));
        if method != "GET" && method != "HEAD" {
            req.body = Some(b"x".to_vec());
        }
        let response = client.send(req).await.unwrap();
        let seen = peer.seen();
        out += &format!(
            "{method}: peer got {} with {} body bytes; answered {} with {} bytes\n",
            seen[0].method,
            seen[0].body.len(),
            response.status,
            response.body.len()
        );
    }
    expect![[r#"
        GET: peer got GET with 0 body bytes; answered 200 with 2 bytes
        POST: peer got POST with 1 body bytes; answered 200 with 2 bytes
        PUT: peer got PUT with 1 body bytes; answered 200 with 2 bytes
        PATCH: peer got PATCH with 1 body bytes; answered 200 with 2 bytes
        DELETE: peer got DELETE with 1 body bytes; answered 200 with 2 bytes
        HEAD: peer got HEAD with 0 body bytes; answered 200 with 0 bytes
        OPTIONS: peer got OPTIONS with 1 body bytes; answered 200 with 2 bytes
        purge: peer got PURGE with 1 body bytes; answered 200 with 2 bytes
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn any_status_is_a_response_with_its_headers() {
    let mut peer = Peer::start().await;
    check(
        &client(),
        Request::get(peer.url("/status/503?retry-after=7&x-reason=maintenance")),
        &mut [&mut peer],
        expect![[r#"
            peer1 got GET /status/503?retry-after=7&x-reason=maintenance
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
            => 503 Service Unavailable from http://127.0.0.1:PORT1/status/503?retry-after=7&x-reason=maintenance
              retry-after: 7
              x-reason: maintenance
              content-length: 0
        "#]],
    )
    .await;
}

#[tokio::test]
async fn invalid_requests_are_refused_with_a_clear_message() {
    let client = client();
    let mut out = String::new();
    let with_header = |name: &str, value: &str| {
        let mut req = Request::get("http://127.0.0.1/");
        req.headers = vec![(name.to_owned(), value.to_owned())];
        req
    };
    let mut zero_timeout = Request::get("http://127.0.0.1/");
    zero_timeout.timeout = Duration::ZERO;
    let cases = [
        Request::get("not a url"),
        Request::get("/relative/path"),
        Request::get("ftp://127.0.0.1/file"),
        Request::get("file:///etc/passwd"),
        Request::get("http://"),
        Request::new("GE T", "http://127.0.0.1/"),
        with_header("Bad Name", "x"),
        with_header("X-Split", "a\r\nInjected: yes"),
        with_header("Host", "internal.example"),
        with_header("Transfer-Encoding", "chunked"),
        with_header("Proxy-Authorization", "Basic eA=="),
        zero_timeout,
    ];
    for req in cases {
        let err = client.send(req).await.unwrap_err();
        out += &format!("{:?}: {err}\n", err.kind);
    }
    expect![[r#"
        InvalidRequest: `not a url` is not a URL: relative URL without a base
        InvalidRequest: `/relative/path` is not a URL: relative URL without a base
        InvalidRequest: `ftp://127.0.0.1/file` is not an http or https URL (its scheme is `ftp`)
        InvalidRequest: `file:///etc/passwd` is not an http or https URL (its scheme is `file`)
        InvalidRequest: `http://` is not a URL: empty host
        InvalidRequest: `GE T` is not an HTTP method
        InvalidRequest: `Bad Name` is not a header name: use letters, digits and !#$%&'*+-.^_`|~ only
        InvalidRequest: the value of header `X-Split` is not a valid header value
        InvalidRequest: `Host` cannot be set: Host, Content-Length and Transfer-Encoding come from the URL and the body, and hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade) belong to one connection
        InvalidRequest: `Transfer-Encoding` cannot be set: Host, Content-Length and Transfer-Encoding come from the URL and the body, and hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade) belong to one connection
        InvalidRequest: `Proxy-Authorization` cannot be set: Host, Content-Length and Transfer-Encoding come from the URL and the body, and hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade) belong to one connection
        InvalidRequest: the timeout must be longer than zero
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn a_closed_port_is_a_connection_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client()
        .send(Request::get(format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connect);
    assert_eq!(err.message, format!("connection refused by 127.0.0.1:{port}"));
}

#[tokio::test]
async fn https_to_a_plain_http_peer_is_a_tls_error() {
    let peer = Peer::start().await;
    let err = client()
        .send(Request::get(format!("https://127.0.0.1:{}/", peer.port())))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls, "{err}");
    let message = err.message.replace(&peer.port().to_string(), "PORT");
    expect![[r#"the TLS handshake with 127.0.0.1:PORT failed: received corrupt message of type InvalidContentType"#]]
        .assert_eq(&message);
}

#[tokio::test]
async fn an_unknown_host_is_a_dns_error() {
    let mut req = Request::get("http://no-such-host.invalid/");
    req.timeout = Duration::from_secs(20);
    let err = client().send(req).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Dns, "{err}");
    assert!(
        err.message.starts_with("could not resolve no-such-host.invalid: "),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_peer_times_out_at_the_deadline() {
    let mut peer = Peer::start().await;
    let mut req = Request::get(peer.url("/sleep/5000"));
    req.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = client().send(req).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert_eq!(err.message, "timed out after 300ms");
    assert_eq!(peer.seen().len(), 1, "the request reached the peer");

    let mut req = Request::get(peer.url("/sleep/5000"));
    req.timeout = Duration::from_secs(1);
    assert_eq!(client().send(req).await.unwrap_err().message, "timed out after 1s");
}

/// The deadline covers the redirects too: three hops of 250 ms each do not
/// fit in 600 ms, though each alone would.
#[tokio::test]
async fn the_deadline_covers_every_hop() {
    let peer = Peer::start().await;
    let mut req = Request::get(peer.url("/slowchain/1/250"));
    req.timeout = Duration::from_millis(600);
    req.follow_redirects = true;
    let response = client().send(req).await.unwrap();
    assert_eq!(response.url, peer.url("/slowchain/0/250"));

    let mut req = Request::get(peer.url("/slowchain/3/250"));
    req.timeout = Duration::from_millis(600);
    req.follow_redirects = true;
    let err = client().send(req).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert_eq!(err.message, "timed out after 600ms");
}

#[tokio::test]
async fn latency_is_measured() {
    let peer = Peer::start().await;
    let response = client().send(Request::get(peer.url("/sleep/200"))).await.unwrap();
    assert!(response.latency_ms >= 200, "{}", response.latency_ms);
    assert!(response.latency_ms < 5000, "{}", response.latency_ms);
    assert_eq!(response.body, b"slept");
}

#[tokio::test]
async fn bodies_are_read_up_to_the_cap() {
    let peer = Peer::start().await;
    let client = client();
    let mut out = String::new();
    for path in [
        format!("/big/{MAX_RESPONSE_BODY}"),
        format!("/stream/{MAX_RESPONSE_BODY}"),
        format!("/big/{}", MAX_RESPONSE_BODY + 1),
        format!("/stream/{}", MAX_RESPONSE_BODY + 1),
    ] {
        let mut req = Request::get(peer.url(&path));
        req.timeout = Duration::from_secs(30);
        match client.send(req).await {
            Ok(response) => out += &format!("{path}: {} bytes\n", response.body.len()),
            Err(err) => out += &format!("{path}: {:?}: {err}\n", err.kind),
        }
    }
    let out = out.replace(&peer.port().to_string(), "PORT");
    expect![[r#"
        /big/10485760: 10485760 bytes
        /stream/10485760: 10485760 bytes
        /big/10485761: BodyTooLarge: the body of the 200 OK response from 127.0.0.1:PORT is larger than 10 MiB
        /stream/10485761: BodyTooLarge: the body of the 200 OK response from 127.0.0.1:PORT is larger than 10 MiB
    "#]]
    .assert_eq(&out);
}

#[test]
fn the_client_is_cheap_to_share() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<hookflow_delivery::Client>();
    assert_send_sync_clone::<hookflow_delivery::Guard>();
    assert_send_sync_clone::<hookflow_delivery::Outcome>();
    assert_send_sync_clone::<hookflow_delivery::SendError>();
}
