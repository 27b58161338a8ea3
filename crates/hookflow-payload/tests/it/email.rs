use expect_test::{expect, Expect};

use crate::utils::{no_query, render};

/// Parses the fixture with LF line endings and again with CRLF; both must agree (up to the
/// line endings inside text values).
fn check(body: &str, expect: Expect) {
    let parse = |body: &[u8]| render(hookflow_payload::parse_body(Some("message/rfc822"), body, &no_query()));
    let lf = parse(body.as_bytes());
    // Text keeps its line endings, so CRLF text shows as `\r\n` inside JSON strings.
    let crlf = parse(body.replace('\n', "\r\n").as_bytes()).replace(r"\r\n", r"\n");
    assert_eq!(lf, crlf, "LF and CRLF messages differ");
    expect.assert_eq(&lf);
}

#[test]
fn alternative_bodies_and_an_attachment() {
    check(
        r#"Received: from mx2.example.net by mx.example.com; Wed, 1 May 2024 08:00:01 +0000
Received: from client by mx2.example.net; Wed, 1 May 2024 08:00:00 +0000
Message-ID: <abc.123@example.com>
From: "Ann Example" <ann@example.com>
To: bob@example.com, Carol <carol@example.org>
Cc: Team: dan@example.com, eve@example.com;
Reply-To: replies@example.com
Subject: =?UTF-8?B?Q2Fmw6kgb3JkZXI=?= #42
Date: Wed, 1 May 2024 10:00:00 +0200
X-Custom: folded
 value
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8

Hello Bob,
your order is ready.
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Hello Bob,<br>your order is <b>ready</b>=2E</p>
--inner--
--outer
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

aGVsbG8gd29ybGQ=
--outer--
"#,
        expect![[r#"
            email
            {
              "message_id": "abc.123@example.com",
              "from": {
                "name": "Ann Example",
                "email": "ann@example.com"
              },
              "to": [
                {
                  "name": null,
                  "email": "bob@example.com"
                },
                {
                  "name": "Carol",
                  "email": "carol@example.org"
                }
              ],
              "cc": [
                {
                  "name": null,
                  "email": "dan@example.com"
                },
                {
                  "name": null,
                  "email": "eve@example.com"
                }
              ],
              "reply_to": [
                {
                  "name": null,
                  "email": "replies@example.com"
                }
              ],
              "subject": "Café order #42",
              "date": "2024-05-01T10:00:00+02:00",
              "text": "Hello Bob,\nyour order is ready.",
              "html": "<p>Hello Bob,<br>your order is <b>ready</b>.</p>",
              "headers": {
                "received": "from mx2.example.net by mx.example.com; Wed, 1 May 2024 08:00:01 +0000",
                "message-id": "abc.123@example.com",
                "from": "\"Ann Example\" <ann@example.com>",
                "to": "bob@example.com, Carol <carol@example.org>",
                "cc": "Team: dan@example.com, eve@example.com;",
                "reply-to": "replies@example.com",
                "subject": "Café order #42",
                "date": "Wed, 1 May 2024 10:00:00 +0200",
                "x-custom": "folded value",
                "mime-version": "1.0",
                "content-type": "multipart/mixed; boundary=\"outer\""
              },
              "attachments": [
                {
                  "filename": "invoice.pdf",
                  "content_type": "application/pdf",
                  "size": 11,
                  "sha256": "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
                }
              ]
            }
            file field="attachments" filename="invoice.pdf" content_type="application/pdf" size=11 sha256=b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9
        "#]],
    );
}

#[test]
fn minimal_message() {
    check(
        r#"From: someone@example.com
Subject: ping

pong
"#,
        expect![[r#"
            email
            {
              "message_id": null,
              "from": {
                "name": null,
                "email": "someone@example.com"
              },
              "to": [],
              "cc": [],
              "reply_to": [],
              "subject": "ping",
              "date": null,
              "text": "pong\n",
              "html": null,
              "headers": {
                "from": "someone@example.com",
                "subject": "ping"
              },
              "attachments": []
            }
        "#]],
    );
}

#[test]
fn html_only_message_has_no_text() {
    check(
        r#"From: a@example.com
Content-Type: text/html

<p>Hi</p>
"#,
        expect![[r#"
            email
            {
              "message_id": null,
              "from": {
                "name": null,
                "email": "a@example.com"
              },
              "to": [],
              "cc": [],
              "reply_to": [],
              "subject": null,
              "date": null,
              "text": null,
              "html": "<p>Hi</p>\n",
              "headers": {
                "from": "a@example.com",
                "content-type": "text/html"
              },
              "attachments": []
            }
        "#]],
    );
}

#[test]
fn not_an_email() {
    check(
        "just some words without any header",
        expect![[r#"
        error (invalid_email): invalid email message: the first line is not a header field (`Name: value`)
    "#]],
    );
    check(
        "\n\nbody without headers",
        expect![[r#"
        error (invalid_email): invalid email message: no header fields found
    "#]],
    );
    check(
        "\u{0}\u{1}\u{2}binary",
        expect![[r#"
        error (invalid_email): invalid email message: the first line is not a header field (`Name: value`)
    "#]],
    );
    check(
        "{\"json\": \"instead\"}",
        expect![[r#"
        error (invalid_email): invalid email message: none of From, To, Subject, Date, Message-ID is present
    "#]],
    );
    check(
        "X-Only: a header\n\nbody",
        expect![[r#"
        error (invalid_email): invalid email message: none of From, To, Subject, Date, Message-ID is present
    "#]],
    );
}
