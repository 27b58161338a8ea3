//! Query strings, and bodies that are empty (the query-string method).

use expect_test::{expect, Expect};

use crate::utils::render;

/// Parses the query, then a body under a content type, and shows both.
fn check(query: &str, content_type: Option<&str>, body: &str, expect: Expect) {
    let query = hookflow_payload::parse_query(query);
    let custom_variables = serde_json::to_string(&query).unwrap();
    let result = hookflow_payload::parse_body(content_type, body.as_bytes(), &query);
    expect.assert_eq(&format!("custom_variables {custom_variables}\n{}", render(result)));
}

#[test]
fn query_string_method() {
    check(
        "name=x&mobile=%2B91+98",
        None,
        "",
        expect![[r#"
        custom_variables {"name":"x","mobile":"+91 98"}
        empty
        {
          "name": "x",
          "mobile": "+91 98"
        }
    "#]],
    );
}

#[test]
fn no_query_and_no_body() {
    check(
        "",
        None,
        "",
        expect![[r#"
        custom_variables {}
        empty
        {}
    "#]],
    );
}

#[test]
fn whitespace_only_body_is_empty_whatever_the_type() {
    check(
        "a=1",
        Some("application/json"),
        " \r\n\t",
        expect![[r#"
        custom_variables {"a":"1"}
        empty
        {
          "a": "1"
        }
    "#]],
    );
    check(
        "a=1",
        Some("application/xml"),
        "\n",
        expect![[r#"
        custom_variables {"a":"1"}
        empty
        {
          "a": "1"
        }
    "#]],
    );
    check(
        "",
        Some("multipart/form-data; boundary=x"),
        "",
        expect![[r#"
        custom_variables {}
        empty
        {}
    "#]],
    );
}

#[test]
fn query_with_leading_question_mark_and_repeats() {
    check(
        "?id=1&id=2&flag&=v",
        None,
        "",
        expect![[r#"
        custom_variables {"id":["1","2"],"flag":"","":"v"}
        empty
        {
          "id": [
            "1",
            "2"
          ],
          "flag": "",
          "": "v"
        }
    "#]],
    );
}

#[test]
fn query_stays_custom_variables_when_there_is_a_body() {
    check(
        "source=shop",
        Some("application/json"),
        r#"{"order":1}"#,
        expect![[r#"
        custom_variables {"source":"shop"}
        json
        {
          "order": 1
        }
    "#]],
    );
}
