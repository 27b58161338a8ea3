//! `text/*`, binary types, and bodies without a content type.

use expect_test::{expect, Expect};

use crate::utils::{no_query, render};

fn check(content_type: Option<&str>, body: impl AsRef<[u8]>, expect: Expect) {
    let result = hookflow_payload::parse_body(content_type, body.as_ref(), &no_query());
    expect.assert_eq(&render(result));
}

#[test]
fn plain_text_is_kept_as_is() {
    check(
        Some("text/plain"),
        "Monitor alert.\n- Severity: 1\n",
        expect![[r#"
        text
        "Monitor alert.\n- Severity: 1\n"
    "#]],
    );
    check(
        Some("text/csv"),
        "a,b\n1,2\n",
        expect![[r#"
        text
        "a,b\n1,2\n"
    "#]],
    );
}

#[test]
fn json_sent_as_text_plain_is_json() {
    check(
        Some("text/plain; charset=UTF-8"),
        "{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : \"22b80b92\"\n}\n",
        expect![[r#"
            json
            {
              "Type": "Notification",
              "MessageId": "22b80b92"
            }
        "#]],
    );
    check(
        Some("text/plain"),
        " [1, 2] ",
        expect![[r#"
        json
        [
          1,
          2
        ]
    "#]],
    );
}

#[test]
fn text_that_only_looks_like_json_stays_text() {
    check(
        Some("text/plain"),
        "{not json}",
        expect![[r#"
        text
        "{not json}"
    "#]],
    );
    check(
        Some("text/plain"),
        "42",
        expect![[r#"
        text
        "42"
    "#]],
    );
    check(
        Some("text/plain"),
        "\"quoted\"",
        expect![[r#"
        text
        "\"quoted\""
    "#]],
    );
    check(
        Some("text/html"),
        "<p>{}</p>",
        expect![[r#"
        text
        "<p>{}</p>"
    "#]],
    );
}

#[test]
fn text_charsets() {
    check(
        Some("text/plain; charset=ISO-8859-1"),
        b"caf\xe9".as_slice(),
        expect![[r#"
        text
        "café"
    "#]],
    );
    check(
        Some("text/plain"),
        b"caf\xe9".as_slice(),
        expect![[r#"
        text
        "caf�"
    "#]],
    );
}

#[test]
fn other_types_are_base64() {
    check(
        Some("application/octet-stream"),
        b"\x00\x01\xfe\xff".as_slice(),
        expect![[r#"
        binary
        "AAH+/w=="
    "#]],
    );
    check(
        Some("image/png"),
        b"\x89PNG\r\n\x1a\n".as_slice(),
        expect![[r#"
        binary
        "iVBORw0KGgo="
    "#]],
    );
    check(
        Some("application/pdf"),
        "%PDF-1.4",
        expect![[r#"
        binary
        "JVBERi0xLjQ="
    "#]],
    );
    check(
        Some("nonsense"),
        r#"{"a":1}"#,
        expect![[r#"
        binary
        "eyJhIjoxfQ=="
    "#]],
    );
    check(
        Some("multipart/mixed; boundary=b"),
        "--b--",
        expect![[r#"
        binary
        "LS1iLS0="
    "#]],
    );
}

#[test]
fn sniffing_without_a_content_type() {
    check(
        None,
        r#"{"a":1}"#,
        expect![[r#"
        json
        {
          "a": 1
        }
    "#]],
    );
    check(
        None,
        "[1]",
        expect![[r#"
        json
        [
          1
        ]
    "#]],
    );
    check(
        Some(""),
        " {\"a\":1}",
        expect![[r#"
        json
        {
          "a": 1
        }
    "#]],
    );
    check(
        None,
        "42",
        expect![[r#"
        text
        "42"
    "#]],
    );
    check(
        None,
        "{broken",
        expect![[r#"
        text
        "{broken"
    "#]],
    );
    check(
        None,
        "name=x&mobile=y",
        expect![[r#"
        text
        "name=x&mobile=y"
    "#]],
    );
    check(
        None,
        b"\xff\xd8\xff\xe0".as_slice(),
        expect![[r#"
        binary
        "/9j/4A=="
    "#]],
    );
}
