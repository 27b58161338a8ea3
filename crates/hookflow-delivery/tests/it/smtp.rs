//! Email against a real SMTP server (aiosmtpd, see hookflow-test-support's
//! `smtp` module). The tests that need it are skipped when
//! `HOOKFLOW_TEST_PYTHON` is unset; the guard and validation tests always run.

use std::time::{Duration, Instant};

use expect_test::expect;
use hookflow_delivery::{Email, ErrorKind, Security, SmtpSettings};
use hookflow_test_support::smtp::SmtpSink;

use crate::utils::{client, strict_client};

fn settings(host: &str, port: u16, security: Security) -> SmtpSettings {
    SmtpSettings {
        host: host.to_owned(),
        port,
        security,
        username: None,
        password: None,
        timeout: Duration::from_secs(10),
    }
}

fn email() -> Email {
    Email {
        from: "Hookflow <robot@hookflow.test>".to_owned(),
        to: vec!["Ann Lee <ann@example.com>".to_owned()],
        cc: vec!["bob@example.com".to_owned()],
        bcc: vec!["audit@example.com".to_owned()],
        reply_to: Some("support@hookflow.test".to_owned()),
        subject: "Order 1001 is confirmed".to_owned(),
        text: Some("Hi Ann, your order 1001 is confirmed.".to_owned()),
        html: Some("<p>Hi Ann, your order <b>1001</b> is confirmed.</p>".to_owned()),
        headers: vec![("X-Hookflow-Idempotency-Key".to_owned(), "exe_1:mail".to_owned())],
    }
}

/// The headers of a raw message, unfolded, in order, without the volatile
/// `Date` and with the boundary replaced.
fn headers_of(data: &str) -> Vec<(String, String)> {
    let head = data
        .split("\r\n\r\n")
        .next()
        .unwrap_or(data)
        .replace("\r\n ", " ")
        .replace("\n ", " ");
    head.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn a_text_and_html_email_arrives_with_its_headers() {
    let Some(mut sink) = SmtpSink::start().await else {
        return;
    };
    let message_id = client()
        .send_email(&settings("127.0.0.1", sink.port(), Security::None), &email())
        .await
        .unwrap();
    let message = sink
        .next_message(Duration::from_secs(10))
        .await
        .expect("the sink got the email");
    assert_eq!(message["mail_from"], "robot@hookflow.test");
    assert_eq!(
        message["rcpt_tos"],
        serde_json::json!(["ann@example.com", "bob@example.com", "audit@example.com"])
    );
    let data = message["data"].as_str().unwrap();

    let mut out = String::new();
    let mut boundary = None;
    for (name, value) in headers_of(data) {
        let value = match name.as_str() {
            "Date" => "DATE".to_owned(),
            "Message-ID" => {
                assert_eq!(value, message_id);
                assert!(value.ends_with("@hookflow.test>"), "{value}");
                "<...@hookflow.test>".to_owned()
            }
            "Content-Type" if value.contains("boundary=") => {
                boundary = value
                    .split("boundary=\"")
                    .nth(1)
                    .map(|b| b.trim_end_matches('"').to_owned());
                value.replace(boundary.as_deref().unwrap_or_default(), "BOUNDARY")
            }
            _ => value,
        };
        out += &format!("{name}: {value}\n");
    }
    expect![[r#"
        From: Hookflow <robot@hookflow.test>
        Subject: Order 1001 is confirmed
        Message-ID: <...@hookflow.test>
        To: "Ann Lee" <ann@example.com>
        Cc: bob@example.com
        Reply-To: support@hookflow.test
        X-Hookflow-Idempotency-Key: exe_1:mail
        MIME-Version: 1.0
        Date: DATE
        Content-Type: multipart/alternative; boundary="BOUNDARY"
    "#]]
    .assert_eq(&out);
    assert!(!data.contains("audit@example.com"), "Bcc is not in the message");
    let boundary = boundary.expect("a multipart boundary");
    let parts: Vec<&str> = data.split(&format!("--{boundary}")).collect();
    assert_eq!(parts.len(), 4, "preamble, two parts, epilogue: {data}");
    assert!(
        parts[1].contains("Content-Type: text/plain; charset=utf-8"),
        "{}",
        parts[1]
    );
    assert!(
        parts[1].contains("Hi Ann, your order 1001 is confirmed."),
        "{}",
        parts[1]
    );
    assert!(
        parts[2].contains("Content-Type: text/html; charset=utf-8"),
        "{}",
        parts[2]
    );
    assert!(
        parts[2].contains("<p>Hi Ann, your order <b>1001</b> is confirmed.</p>"),
        "{}",
        parts[2]
    );
}

#[tokio::test]
async fn a_text_only_email_is_a_single_part() {
    let Some(mut sink) = SmtpSink::start().await else {
        return;
    };
    let email = Email {
        from: "robot@hookflow.test".to_owned(),
        to: vec!["ann@example.com".to_owned()],
        subject: "Line\r\nbreaks become spaces".to_owned(),
        text: Some("Just text.".to_owned()),
        ..Email::default()
    };
    client()
        .send_email(&settings("127.0.0.1", sink.port(), Security::None), &email)
        .await
        .unwrap();
    let message = sink.next_message(Duration::from_secs(10)).await.unwrap();
    let data = message["data"].as_str().unwrap();
    let headers = headers_of(data);
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(header("Subject"), Some("Line breaks become spaces"));
    assert_eq!(header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert!(data.trim_end().ends_with("Just text."), "{data}");
}

#[tokio::test]
async fn starttls_against_a_server_without_it_is_a_clear_error() {
    let Some(mut sink) = SmtpSink::start().await else {
        return;
    };
    let err = client()
        .send_email(&settings("127.0.0.1", sink.port(), Security::StartTls), &email())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Tls);
    expect![[r#"the mail server 127.0.0.1:PORT does not offer STARTTLS (choose another security setting)"#]]
        .assert_eq(&err.message.replace(&sink.port().to_string(), "PORT"));
    assert!(
        sink.next_message(Duration::from_millis(300)).await.is_none(),
        "nothing was sent in clear"
    );
}

#[tokio::test]
async fn the_guard_applies_to_mail_servers() {
    let mut out = String::new();
    for (client, host) in [
        (client(), "10.0.0.1"),
        (client(), "169.254.169.254"),
        (strict_client(), "127.0.0.1"),
        (strict_client(), "localhost"),
        (strict_client(), "[::1]"),
    ] {
        let started = Instant::now();
        let err = client
            .send_email(&settings(host, 25, Security::StartTls), &email())
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{host}: {:?}",
            started.elapsed()
        );
        out += &format!("{host}: {:?}: {err}\n", err.kind);
    }
    expect![[r#"
        10.0.0.1: Refused: refused to connect to 10.0.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        169.254.169.254: Refused: refused to connect to 169.254.169.254: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        127.0.0.1: Refused: refused to connect to 127.0.0.1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        localhost: Refused: refused to connect to localhost (127.0.0.1): a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        [::1]: Refused: refused to connect to ::1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn bad_emails_are_invalid_requests() {
    let client = client();
    let settings = settings("127.0.0.1", 25, Security::None);
    let mut out = String::new();
    let cases: Vec<(&str, Email)> = vec![
        (
            "bad from",
            Email {
                from: "not an address".into(),
                ..email()
            },
        ),
        (
            "bad to",
            Email {
                to: vec!["ann@".into()],
                ..email()
            },
        ),
        (
            "bad cc",
            Email {
                cc: vec!["@example.com".into()],
                ..email()
            },
        ),
        (
            "bad reply-to",
            Email {
                reply_to: Some("nobody".into()),
                ..email()
            },
        ),
        (
            "no recipient",
            Email {
                to: vec![],
                cc: vec![],
                bcc: vec![],
                ..email()
            },
        ),
        (
            "reserved header",
            Email {
                headers: vec![("Subject".into(), "x".into())],
                ..email()
            },
        ),
        (
            "bad header name",
            Email {
                headers: vec![("X Bad".into(), "x".into())],
                ..email()
            },
        ),
        (
            "header injection",
            Email {
                headers: vec![("X-Note".into(), "a\r\nBcc: evil@example.com".into())],
                ..email()
            },
        ),
    ];
    for (label, email) in cases {
        let err = client.send_email(&settings, &email).await.unwrap_err();
        out += &format!("{label}: {:?}: {err}\n", err.kind);
    }
    let zero = SmtpSettings {
        timeout: Duration::ZERO,
        ..settings.clone()
    };
    out += &format!(
        "zero timeout: {}\n",
        client.send_email(&zero, &email()).await.unwrap_err()
    );
    let port0 = SmtpSettings {
        port: 0,
        ..settings.clone()
    };
    out += &format!("port 0: {}\n", client.send_email(&port0, &email()).await.unwrap_err());
    expect![[r#"
        bad from: InvalidRequest: `not an address` in `from` is not an email address (write `name@example.com` or `Name <name@example.com>`)
        bad to: InvalidRequest: `ann@` in `to` is not an email address (write `name@example.com` or `Name <name@example.com>`)
        bad cc: InvalidRequest: `@example.com` in `cc` is not an email address (write `name@example.com` or `Name <name@example.com>`)
        bad reply-to: InvalidRequest: `nobody` in `reply_to` is not an email address (write `name@example.com` or `Name <name@example.com>`)
        no recipient: InvalidRequest: the email has no recipient (`to`, `cc` or `bcc`)
        reserved header: InvalidRequest: the header `Subject` is set from the email's own fields
        bad header name: InvalidRequest: `X Bad` is not a valid header name
        header injection: InvalidRequest: the value of header `X-Note` has a line break
        zero timeout: the timeout must be longer than zero
        port 0: the SMTP port must not be 0
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client()
        .send_email(&settings("127.0.0.1", port, Security::None), &email())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Connect, "{err}");
    assert_eq!(err.message, format!("connection refused by 127.0.0.1:{port}"));
}

#[test]
fn settings_do_not_show_the_password() {
    let settings = SmtpSettings {
        username: Some("robot".into()),
        password: Some("hunter2".into()),
        ..settings("smtp.example.com", 587, Security::StartTls)
    };
    expect![[r#"SmtpSettings { host: "smtp.example.com", port: 587, security: StartTls, username: Some("robot"), password: Some("<hidden>"), timeout: 10s }"#]]
        .assert_eq(&format!("{settings:?}"));
}
