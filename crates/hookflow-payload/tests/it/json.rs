use expect_test::{expect, Expect};

use crate::utils::{no_query, render};

fn check(content_type: &str, body: impl AsRef<[u8]>, expect: Expect) {
    let result = hookflow_payload::parse_body(Some(content_type), body.as_ref(), &no_query());
    expect.assert_eq(&render(result));
}

#[test]
fn object_keeps_key_order_and_types() {
    check(
        "application/json",
        r#"{"z": 1, "a": [true, null, 1.5], "m": {"n": "é"}}"#,
        expect![[r#"
            json
            {
              "z": 1,
              "a": [
                true,
                null,
                1.5
              ],
              "m": {
                "n": "é"
              }
            }
        "#]],
    );
}

#[test]
fn array_at_the_top() {
    check(
        "application/json",
        r#"[{"email":"a@b.c"}, 2]"#,
        expect![[r#"
        json
        [
          {
            "email": "a@b.c"
          },
          2
        ]
    "#]],
    );
}

#[test]
fn scalars() {
    check(
        "application/json",
        r#""just a string""#,
        expect![[r#"
        json
        "just a string"
    "#]],
    );
    check(
        "application/json",
        "42",
        expect![[r#"
        json
        42
    "#]],
    );
    check(
        "application/json",
        "null",
        expect![[r#"
        json
        null
    "#]],
    );
}

#[test]
fn big_integers_stay_exact() {
    check(
        "application/json",
        r#"{"id": 820982911946154508, "neg": -9007199254740993, "max": 18446744073709551615}"#,
        expect![[r#"
            json
            {
              "id": 820982911946154508,
              "neg": -9007199254740993,
              "max": 18446744073709551615
            }
        "#]],
    );
}

#[test]
fn content_type_variants() {
    check(
        "Application/JSON; charset=utf-8",
        "[1]",
        expect![[r#"
        json
        [
          1
        ]
    "#]],
    );
    check(
        "application/vnd.api+json",
        r#"{"data":[]}"#,
        expect![[r#"
        json
        {
          "data": []
        }
    "#]],
    );
    check(
        "application/cloudevents+json",
        r#"{"id":"1"}"#,
        expect![[r#"
        json
        {
          "id": "1"
        }
    "#]],
    );
    check(
        "text/json",
        "{}",
        expect![[r#"
        json
        {}
    "#]],
    );
}

#[test]
fn byte_order_mark_is_skipped() {
    check(
        "application/json",
        "\u{feff}{\"a\":1}",
        expect![[r#"
        json
        {
          "a": 1
        }
    "#]],
    );
}

#[test]
fn invalid_json_reports_line_and_column() {
    check(
        "application/json",
        "{\n  \"a\": 1,\n  \"b\": 2 \"c\": 3\n}",
        expect![[r#"
            error (invalid_json): invalid JSON at line 3, column 10: expected `,` or `}`
        "#]],
    );
    check(
        "application/json",
        r#"{"a": "#,
        expect![[r#"
        error (invalid_json): invalid JSON at line 1, column 6: EOF while parsing a value
    "#]],
    );
    check(
        "application/json",
        "{\"a\": 1} trailing",
        expect![[r#"
        error (invalid_json): invalid JSON at line 1, column 10: trailing characters
    "#]],
    );
    check(
        "application/json",
        "name=x&mobile=y",
        expect![[r#"
        error (invalid_json): invalid JSON at line 1, column 2: expected ident
    "#]],
    );
    check(
        "application/json",
        "{'single': 'quotes'}",
        expect![[r#"
        error (invalid_json): invalid JSON at line 1, column 2: key must be a string
    "#]],
    );
}

#[test]
fn invalid_utf8_in_json_is_an_error() {
    check(
        "application/json",
        b"{\"a\": \"\xff\"}",
        expect![[r#"
        error (invalid_json): invalid JSON at line 1, column 8: invalid unicode code point
    "#]],
    );
}

#[test]
fn nesting_beyond_the_limit_is_an_error() {
    let body = format!("{}{}", "[".repeat(200), "]".repeat(200));
    check(
        "application/json",
        body,
        expect![[r#"
            error (over_limit): the body is nested deeper than 64 levels
        "#]],
    );
}
