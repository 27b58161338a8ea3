//! Redirects, followed by the client itself so every hop passes the guard.

use expect_test::expect;
use hookflow_delivery::{ErrorKind, Request, MAX_REDIRECTS};

use crate::utils::{check, client, Peer};

fn follow(method: &str, url: String) -> Request {
    let mut req = Request::new(method, url);
    req.follow_redirects = true;
    req
}

#[tokio::test]
async fn a_redirect_is_returned_when_not_following() {
    let mut peer = Peer::start().await;
    check(
        &client(),
        Request::get(peer.url("/status/302?location=/echo")),
        &mut [&mut peer],
        expect![[r#"
            peer1 got GET /status/302?location=/echo
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
            => 302 Found from http://127.0.0.1:PORT1/status/302?location=/echo
              location: /echo
              content-length: 0
        "#]],
    )
    .await;
}

#[tokio::test]
async fn a_redirect_is_followed_when_asked() {
    let mut peer = Peer::start().await;
    check(
        &client(),
        follow("GET", peer.url("/status/301?location=/echo")),
        &mut [&mut peer],
        expect![[r#"
            peer1 got GET /status/301?location=/echo
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
            peer1 got GET /echo
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
            => 200 OK from http://127.0.0.1:PORT1/echo
              content-type: text/plain; charset=utf-8
              content-length: 2
              body: ok
        "#]],
    )
    .await;
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get_without_body() {
    let mut peer = Peer::start().await;
    let mut req = follow("POST", peer.url("/status/303?location=/result"));
    req.headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Keep".into(), "yes".into()),
    ];
    req.body = Some(b"{}".to_vec());
    check(
        &client(),
        req,
        &mut [&mut peer],
        expect![[r#"
            peer1 got POST /status/303?location=/result
              content-type: application/json
              x-keep: yes
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
              content-length: 2
              body: {}
            peer1 got GET /result
              x-keep: yes
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
            => 200 OK from http://127.0.0.1:PORT1/result
              content-type: text/plain; charset=utf-8
              content-length: 2
              body: ok
        "#]],
    )
    .await;
}

/// What each redirect code does to each method: 303 (but HEAD) and 301/302
/// on POST become a body-less GET; 307 and 308 keep method and body.
#[tokio::test]
async fn each_code_keeps_or_changes_the_method() {
    let mut peer = Peer::start().await;
    let client = client();
    let mut out = String::new();
    for code in [301, 302, 303, 307, 308] {
        for method in ["POST", "PUT", "HEAD"] {
            let mut req = follow(method, peer.url(&format!("/status/{code}?location=/next")));
            if method != "HEAD" {
                req.body = Some(b"payload".to_vec());
            }
            let response = client.send(req).await.unwrap();
            let seen = peer.seen();
            let last = seen.last().unwrap();
            out += &format!(
                "{code} {method}: then {} {} with body {:?}\n",
                last.method,
                last.uri,
                String::from_utf8_lossy(&last.body)
            );
            assert_eq!(response.status, 200);
        }
    }
    expect![[r#"
        301 POST: then GET /next with body ""
        301 PUT: then PUT /next with body "payload"
        301 HEAD: then HEAD /next with body ""
        302 POST: then GET /next with body ""
        302 PUT: then PUT /next with body "payload"
        302 HEAD: then HEAD /next with body ""
        303 POST: then GET /next with body ""
        303 PUT: then GET /next with body ""
        303 HEAD: then HEAD /next with body ""
        307 POST: then POST /next with body "payload"
        307 PUT: then PUT /next with body "payload"
        307 HEAD: then HEAD /next with body ""
        308 POST: then POST /next with body "payload"
        308 PUT: then PUT /next with body "payload"
        308 HEAD: then HEAD /next with body ""
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn a_relative_location_is_resolved_against_the_current_url() {
    let mut peer = Peer::start().await;
    let client = client();
    let mut out = String::new();
    for location in [
        "next",
        "../up",
        "/root?q=1",
        "?only=query",
        "//127.0.0.1:PORT/scheme-relative",
    ] {
        let location = location.replace("PORT", &peer.port().to_string());
        let response = client
            .send(follow("GET", peer.url(&format!("/status/302?location={location}"))))
            .await
            .unwrap();
        peer.seen();
        out += &format!("{location} -> {}\n", response.url);
    }
    let out = out.replace(&peer.port().to_string(), "PORT");
    expect![[r#"
        next -> http://127.0.0.1:PORT/status/next
        ../up -> http://127.0.0.1:PORT/up
        /root?q=1 -> http://127.0.0.1:PORT/root?q=1
        ?only=query -> http://127.0.0.1:PORT/status/302?only=query
        //127.0.0.1:PORT/scheme-relative -> http://127.0.0.1:PORT/scheme-relative
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn ten_redirects_are_followed_and_the_eleventh_is_an_error() {
    let mut peer = Peer::start().await;
    let response = client()
        .send(follow("GET", peer.url(&format!("/chain/{MAX_REDIRECTS}"))))
        .await
        .unwrap();
    assert_eq!(response.body, b"end of the chain");
    assert_eq!(peer.seen().len(), MAX_REDIRECTS + 1);

    let err = client()
        .send(follow("GET", peer.url(&format!("/chain/{}", MAX_REDIRECTS + 1))))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooManyRedirects);
    expect![[
        r#"more than 10 redirects (the last one from http://127.0.0.1:PORT/chain/1 to http://127.0.0.1:PORT/chain/0)"#
    ]]
    .assert_eq(&err.message.replace(&peer.port().to_string(), "PORT"));
}

#[tokio::test]
async fn credentials_are_not_sent_to_another_origin() {
    let mut first = Peer::start().await;
    let mut second = Peer::start().await;
    let mut req = follow(
        "GET",
        first.url(&format!("/status/302?location={}", second.url("/landing"))),
    );
    req.headers = vec![
        ("Authorization".into(), "Bearer secret".into()),
        ("Cookie".into(), "session=1".into()),
        ("X-Api-Key".into(), "kept".into()),
    ];
    check(
        &client(),
        req,
        &mut [&mut first, &mut second],
        expect![[r#"
            peer1 got GET /status/302?location=http://127.0.0.1:PORT2/landing
              authorization: Bearer secret
              cookie: session=1
              x-api-key: kept
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT1
            peer2 got GET /landing
              x-api-key: kept
              accept: */*
              user-agent: hookflow-test/1
              host: 127.0.0.1:PORT2
            => 200 OK from http://127.0.0.1:PORT2/landing
              content-type: text/plain; charset=utf-8
              content-length: 2
              body: ok
        "#]],
    )
    .await;
}

#[tokio::test]
async fn a_redirect_to_another_scheme_is_an_invalid_request() {
    let peer = Peer::start().await;
    let err = client()
        .send(follow("GET", peer.url("/status/302?location=ftp://127.0.0.1/file")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    expect![[r#"http://127.0.0.1:PORT/status/302?location=ftp://127.0.0.1/file redirected to `ftp://127.0.0.1/file`, which is not http or https (its scheme is `ftp`)"#]]
        .assert_eq(&err.message.replace(&peer.port().to_string(), "PORT"));
}

#[tokio::test]
async fn a_redirect_without_location_is_the_response() {
    let peer = Peer::start().await;
    let response = client().send(follow("GET", peer.url("/status/302"))).await.unwrap();
    assert_eq!(response.status, 302);
    let response = client().send(follow("GET", peer.url("/status/304"))).await.unwrap();
    assert_eq!(response.status, 304);
}
