//! The `line_items` kind.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn to_items() {
    check(
        r#"{"kind": "line_items", "operation": "to_items", "fields": {"sku": "{{ event.body.order.skus }}", "qty": "{{ event.body.order.qtys }}", "currency": "EUR"}}"#,
        EVENT,
        expect![[r#"
            input: {"fields":{"sku":["A-1","B-2","C-3"],"qty":"2,1","currency":"EUR"}}
            output: {"value":[{"sku":"A-1","qty":"2","currency":"EUR"},{"sku":"B-2","qty":"1","currency":null},{"sku":"C-3","qty":null,"currency":null}],"count":3}
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_items", "fields": {"tag": "{{ event.body.order.tags }}", "n": "{{ event.body.order.quantity }}"}}"#,
        EVENT,
        expect![[r#"
            input: {"fields":{"tag":"vip, gift ,repeat","n":3}}
            output: {"value":[{"tag":"vip","n":3},{"tag":"gift","n":null},{"tag":"repeat","n":null}],"count":3}
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_items", "separator": "|", "fields": {"a": "x | y", "b": "{{ event.body.nope }}"}}"#,
        EVENT,
        expect![[r#"
            input: {"separator":"|","fields":{"a":"x | y","b":null}}
            output: {"value":[{"a":"x","b":null},{"a":"y","b":null}],"count":2}
            missing: event.body.nope
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_items", "fields": {"a": ""}}"#,
        EVENT,
        expect![[r#"
            input: {"fields":{"a":""}}
            output: {"value":[],"count":0}
        "#]],
    );
}

#[test]
fn to_text() {
    check(
        r#"{"kind": "line_items", "operation": "to_text", "input": "{{ event.body.order.items }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gift":true}]}
            output: {"value":{"sku":"A-1,B-2","qty":"2,1","price":"9.99,","gift":",true"},"count":2}
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_text", "input": "{{ event.body.order.items }}", "fields": ["sku", "gift", "none"], "separator": ", "}"#,
        EVENT,
        expect![[r#"
            input: {"input":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gift":true}],"fields":["sku","gift","none"],"separator":", "}
            output: {"value":{"sku":"A-1, B-2","gift":", true","none":", "},"count":2}
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_text", "input": "[{\"a\": 1}, {\"a\": [2, 3]}]", "fields": "a"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"[{\"a\": 1}, {\"a\": [2, 3]}]","fields":"a"}
            output: {"value":{"a":"1,[2,3]"},"count":2}
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_text", "input": "{{ event.body.nope }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":null}
            output: {"value":{},"count":0}
            missing: event.body.nope
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_text", "input": "{{ event.body.order.skus }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":["A-1","B-2","C-3"]}
            error: input element 0 is `A-1`, not an object
        "#]],
    );
    check(
        r#"{"kind": "line_items", "operation": "to_text", "input": "{{ event.body.order }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":{"id":1001,"created_at":"2026-11-22T10:00:00Z","local_time":"2026-11-22 10:00","unix":1795341600,"unix_ms":"1795341600123","total":149.5,"quantity":3,"price":19.99,"status":"PAID","note":"  Gift wrap, please  ","tags":"vip, gift ,repeat","skus":["A-1","B-2","C-3"],"qtys":"2,1","items":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gift":true}]}}
            error: input `{"id":1001,"created_at":"2026-11-22T10:00:00Z","local_time":…` is not an array of objects
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "line_items", "operation": "zip", "fields": {}}"#,
        expect![[r#"
        operation: unknown operation `zip`; operations of line_items: to_items, to_text
    "#]],
    );
    check_config(
        r#"{"kind": "line_items", "operation": "to_items"}"#,
        expect![[r#"
        fields: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "line_items", "operation": "to_items", "fields": {}}"#,
        expect![[r#"
        fields: must be an object of item field names to templates, with at least one entry
    "#]],
    );
    check_config(
        r#"{"kind": "line_items", "operation": "to_items", "fields": ["a"]}"#,
        expect![[r#"
        fields: must be an object of item field names to templates, with at least one entry
    "#]],
    );
    check_config(
        r#"{"kind": "line_items", "operation": "to_items", "fields": {"a": "1"}, "input": "x"}"#,
        expect![[r#"
            input: unknown field; line_items `to_items` takes fields, separator
        "#]],
    );
    check_config(
        r#"{"kind": "line_items", "operation": "to_text", "input": "x", "fields": {"a": 1}}"#,
        expect![[r#"
        fields: must be an array of field names
    "#]],
    );
    check_config(
        r#"{"kind": "line_items", "operation": "to_text"}"#,
        expect![[r#"
        input: missing required field
    "#]],
    );
}
