//! Outcomes of both policies, and `Retry-After`.

use std::time::Duration;

use expect_test::{expect, Expect};
use hookflow_delivery::{
    classify_action, classify_delivery, classify_email, retry_after, ErrorKind, Outcome, Request, Response, SendError,
};

use crate::utils::{client, Peer};

fn response(status: u16, headers: &[(&str, &str)]) -> Response {
    Response {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: Vec::new(),
        latency_ms: 3,
        url: "https://peer.example/hook".to_owned(),
    }
}

fn summary<T>(outcome: &Outcome<T>) -> String {
    match outcome {
        Outcome::Success(_) => "success".to_owned(),
        Outcome::Retry {
            reason,
            retry_after,
            response,
        } => format!(
            "retry ({reason}){}{}",
            retry_after
                .map(|d| format!(" after {}s", d.as_secs()))
                .unwrap_or_default(),
            if response.is_some() { " [response kept]" } else { "" }
        ),
        Outcome::GiveUp { reason, response } => format!(
            "give up ({reason}){}",
            if response.is_some() { " [response kept]" } else { "" }
        ),
    }
}

/// Classifies one response per status and each kind of error with `policy`.
fn check(policy: fn(Result<Response, SendError>) -> Outcome, expect: Expect) {
    let mut out = String::new();
    for status in [
        200, 201, 204, 299, 301, 302, 304, 307, 400, 401, 403, 404, 408, 409, 410, 422, 429, 500, 502, 503, 504, 599,
    ] {
        let headers: &[(&str, &str)] = if status == 429 || status == 503 {
            &[("Retry-After", "30")]
        } else {
            &[]
        };
        out += &format!("{status}: {}\n", summary(&policy(Ok(response(status, headers)))));
    }
    for (kind, message) in [
        (
            ErrorKind::Refused,
            "refused to connect to 10.0.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)",
        ),
        (
            ErrorKind::InvalidRequest,
            "`ftp://x` is not an http or https URL (its scheme is `ftp`)",
        ),
        (
            ErrorKind::Dns,
            "could not resolve no-such-host.invalid: failed to lookup address information",
        ),
        (ErrorKind::Connect, "connection refused by 127.0.0.1:4567"),
        (
            ErrorKind::Tls,
            "the TLS handshake with peer.example:443 failed: invalid peer certificate",
        ),
        (ErrorKind::Timeout, "timed out after 10s"),
        (ErrorKind::TooManyRedirects, "more than 10 redirects"),
        (
            ErrorKind::BodyTooLarge,
            "the body of the 200 OK response from peer.example:443 is larger than 10 MiB",
        ),
        (ErrorKind::Rejected, "the mail server refused the email"),
        (ErrorKind::Other, "something else"),
    ] {
        out += &format!("{kind:?}: {}\n", summary(&policy(Err(SendError::new(kind, message)))));
    }
    expect.assert_eq(&out);
}

#[test]
fn actions_succeed_on_2xx_and_3xx_and_retry_transient_failures() {
    check(
        classify_action,
        expect![[r#"
            200: success
            201: success
            204: success
            299: success
            301: success
            302: success
            304: success
            307: success
            400: give up (400 Bad Request from the peer) [response kept]
            401: give up (401 Unauthorized from the peer) [response kept]
            403: give up (403 Forbidden from the peer) [response kept]
            404: give up (404 Not Found from the peer) [response kept]
            408: retry (408 Request Timeout from the peer) [response kept]
            409: give up (409 Conflict from the peer) [response kept]
            410: give up (410 Gone from the peer) [response kept]
            422: give up (422 Unprocessable Entity from the peer) [response kept]
            429: retry (429 Too Many Requests from the peer) after 30s [response kept]
            500: retry (500 Internal Server Error from the peer) [response kept]
            502: retry (502 Bad Gateway from the peer) [response kept]
            503: retry (503 Service Unavailable from the peer) after 30s [response kept]
            504: retry (504 Gateway Timeout from the peer) [response kept]
            599: retry (599 from the peer) [response kept]
            Refused: give up (refused to connect to 10.0.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS))
            InvalidRequest: give up (`ftp://x` is not an http or https URL (its scheme is `ftp`))
            Dns: retry (could not resolve no-such-host.invalid: failed to lookup address information)
            Connect: retry (connection refused by 127.0.0.1:4567)
            Tls: retry (the TLS handshake with peer.example:443 failed: invalid peer certificate)
            Timeout: retry (timed out after 10s)
            TooManyRedirects: give up (more than 10 redirects)
            BodyTooLarge: give up (the body of the 200 OK response from peer.example:443 is larger than 10 MiB)
            Rejected: give up (the mail server refused the email)
            Other: retry (something else)
        "#]],
    );
}

#[test]
fn deliveries_succeed_on_2xx_only_and_give_up_on_410() {
    check(
        classify_delivery,
        expect![[r#"
            200: success
            201: success
            204: success
            299: success
            301: retry (301 Moved Permanently from the peer) [response kept]
            302: retry (302 Found from the peer) [response kept]
            304: retry (304 Not Modified from the peer) [response kept]
            307: retry (307 Temporary Redirect from the peer) [response kept]
            400: retry (400 Bad Request from the peer) [response kept]
            401: retry (401 Unauthorized from the peer) [response kept]
            403: retry (403 Forbidden from the peer) [response kept]
            404: retry (404 Not Found from the peer) [response kept]
            408: retry (408 Request Timeout from the peer) [response kept]
            409: retry (409 Conflict from the peer) [response kept]
            410: give up (410 Gone from the peer) [response kept]
            422: retry (422 Unprocessable Entity from the peer) [response kept]
            429: retry (429 Too Many Requests from the peer) after 30s [response kept]
            500: retry (500 Internal Server Error from the peer) [response kept]
            502: retry (502 Bad Gateway from the peer) [response kept]
            503: retry (503 Service Unavailable from the peer) after 30s [response kept]
            504: retry (504 Gateway Timeout from the peer) [response kept]
            599: retry (599 from the peer) [response kept]
            Refused: give up (refused to connect to 10.0.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS))
            InvalidRequest: give up (`ftp://x` is not an http or https URL (its scheme is `ftp`))
            Dns: retry (could not resolve no-such-host.invalid: failed to lookup address information)
            Connect: retry (connection refused by 127.0.0.1:4567)
            Tls: retry (the TLS handshake with peer.example:443 failed: invalid peer certificate)
            Timeout: retry (timed out after 10s)
            TooManyRedirects: give up (more than 10 redirects)
            BodyTooLarge: give up (the body of the 200 OK response from peer.example:443 is larger than 10 MiB)
            Rejected: give up (the mail server refused the email)
            Other: retry (something else)
        "#]],
    );
}

#[test]
fn emails_succeed_with_their_message_id() {
    let mut out = String::new();
    out += &format!("{}\n", summary(&classify_email(Ok("<a@example.com>".to_owned()))));
    for (kind, message) in [
        (
            ErrorKind::Rejected,
            "the mail server 127.0.0.1:25 refused the email: permanent error (550): no such user",
        ),
        (
            ErrorKind::Other,
            "the mail server 127.0.0.1:25 asked to try later: transient error (451): greylisted",
        ),
        (
            ErrorKind::InvalidRequest,
            "`nobody` in `to` is not an email address: Missing domain or user",
        ),
        (ErrorKind::Connect, "connection refused by 127.0.0.1:25"),
    ] {
        out += &format!(
            "{kind:?}: {}\n",
            summary(&classify_email(Err(SendError::new(kind, message))))
        );
    }
    expect![[r#"
        success
        Rejected: give up (the mail server 127.0.0.1:25 refused the email: permanent error (550): no such user)
        Other: retry (the mail server 127.0.0.1:25 asked to try later: transient error (451): greylisted)
        InvalidRequest: give up (`nobody` in `to` is not an email address: Missing domain or user)
        Connect: retry (connection refused by 127.0.0.1:25)
    "#]]
    .assert_eq(&out);
    assert_eq!(
        classify_email(Ok("<id@x>".into())),
        Outcome::Success("<id@x>".to_owned())
    );
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now: jiff::Timestamp = "2015-10-21T07:27:00Z".parse().unwrap();
    let mut out = String::new();
    for value in [
        "120",
        " 0 ",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:20:00 GMT",
        "Wednesday, 21-Oct-15 07:29:30 GMT",
        "Wed Oct 21 07:37:00 2015",
        "-5",
        "1.5",
        "soon",
        "",
    ] {
        let headers = vec![("Retry-After".to_owned(), value.to_owned())];
        out += &format!("{value:?}: {:?}\n", retry_after(&headers, now));
    }
    out += &format!("missing: {:?}\n", retry_after(&[("x".into(), "1".into())], now));
    out += &format!(
        "lower case: {:?}\n",
        retry_after(&[("retry-after".into(), "9".into())], now)
    );
    expect![[r#"
        "120": Some(120s)
        " 0 ": Some(0ns)
        "Wed, 21 Oct 2015 07:28:00 GMT": Some(60s)
        "Wed, 21 Oct 2015 07:20:00 GMT": Some(0ns)
        "Wednesday, 21-Oct-15 07:29:30 GMT": Some(150s)
        "Wed Oct 21 07:37:00 2015": Some(600s)
        "-5": None
        "1.5": None
        "soon": None
        "": None
        missing: None
        lower case: Some(9s)
    "#]]
    .assert_eq(&out);
}

/// From a real peer: a 503 with `Retry-After` is retried after that long, and
/// the response is kept for the attempt log.
#[tokio::test]
async fn a_real_503_is_retried_after_what_it_asks() {
    let peer = Peer::start().await;
    let result = client().send(Request::get(peer.url("/status/503?retry-after=7"))).await;
    let Outcome::Retry {
        reason,
        retry_after,
        response,
    } = classify_delivery(result)
    else {
        panic!("a 503 is retried");
    };
    assert_eq!(reason, "503 Service Unavailable from the peer");
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
    assert_eq!(response.unwrap().status, 503);

    let result = client().send(Request::get(peer.url("/status/410"))).await;
    assert_eq!(classify_delivery(result).reason(), Some("410 Gone from the peer"));
}
