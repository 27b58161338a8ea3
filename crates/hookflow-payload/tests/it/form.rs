use expect_test::{expect, Expect};

use crate::utils::{no_query, render};

fn check(body: impl AsRef<[u8]>, expect: Expect) {
    let content_type = "application/x-www-form-urlencoded; charset=UTF-8";
    let result = hookflow_payload::parse_body(Some(content_type), body.as_ref(), &no_query());
    expect.assert_eq(&render(result));
}

#[test]
fn plus_and_percent_decoding() {
    check(
        "To=%2B19253920364&Body=twilio-go+testing%21&Empty=&NoEquals&caf%C3%A9=%E2%82%AC",
        expect![[r#"
            form
            {
              "To": "+19253920364",
              "Body": "twilio-go testing!",
              "Empty": "",
              "NoEquals": "",
              "café": "€"
            }
        "#]],
    );
}

#[test]
fn repeated_keys_become_arrays_in_order() {
    check(
        "tag=a&x=1&tag=b&tag=c",
        expect![[r#"
        form
        {
          "tag": [
            "a",
            "b",
            "c"
          ],
          "x": "1"
        }
    "#]],
    );
}

#[test]
fn keys_are_literal_and_json_values_stay_strings() {
    check(
        "data%5Bmerges%5D%5BFNAME%5D=Ann&payload=%7B%22a%22%3A1%7D&a.b=1",
        expect![[r#"
            form
            {
              "data[merges][FNAME]": "Ann",
              "payload": "{\"a\":1}",
              "a.b": "1"
            }
        "#]],
    );
}

#[test]
fn raw_utf8_bytes_survive() {
    check(
        "data=%3Ca%3E私のホバークラフト%3C%2Fa%3E",
        expect![[r#"
        form
        {
          "data": "<a>私のホバークラフト</a>"
        }
    "#]],
    );
}

#[test]
fn invalid_utf8_and_stray_percent_are_kept_leniently() {
    check(
        b"a=%ff%zz&b=\xff\n".as_slice(),
        expect![[r#"
        form
        {
          "a": "�%zz",
          "b": "�\n"
        }
    "#]],
    );
}

#[test]
fn trailing_newline_is_kept() {
    check(
        "app=x&release=v9\n",
        expect![[r#"
        form
        {
          "app": "x",
          "release": "v9\n"
        }
    "#]],
    );
}
