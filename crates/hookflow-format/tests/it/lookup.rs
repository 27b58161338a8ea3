//! The `lookup` kind.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

const TABLE: &str =
    r#"{"fr": "France", "de": {"name": "Germany", "eu": true}, "US": 1, "us-ca": "{{ event.body.customer.name }}"}"#;

fn step(rest: &str) -> String {
    format!(r#"{{"kind": "lookup", "table": {TABLE}, {rest}}}"#)
}

#[test]
fn found_and_not_found() {
    check(
        &step(r#""input": "{{ event.body.customer.country }}""#),
        EVENT,
        expect![[r#"
        input: {"input":"fr"}
        output: {"value":"France","found":true}
    "#]],
    );
    check(
        &step(r#""input": " de ""#),
        EVENT,
        expect![[r#"
        input: {"input":" de "}
        output: {"value":{"name":"Germany","eu":true},"found":true}
    "#]],
    );
    check(
        &step(r#""input": "us-ca""#),
        EVENT,
        expect![[r#"
        input: {"input":"us-ca"}
        output: {"value":"ann LEE","found":true}
    "#]],
    );
    check(
        &step(r#""input": "us""#),
        EVENT,
        expect![[r#"
        input: {"input":"us"}
        output: {"value":null,"found":false}
    "#]],
    );
    check(
        &step(r#""input": "us", "case_insensitive": true"#),
        EVENT,
        expect![[r#"
        input: {"input":"us","case_insensitive":true}
        output: {"value":1,"found":true}
    "#]],
    );
    check(
        &step(r#""input": "FR", "case_insensitive": "{{ true }}""#),
        EVENT,
        expect![[r#"
        input: {"input":"FR","case_insensitive":true}
        output: {"value":"France","found":true}
    "#]],
    );
    check(
        &step(r#""input": "it", "fallback": "Elsewhere ({{ event.body.order.id }})""#),
        EVENT,
        expect![[r#"
        input: {"input":"it","fallback":"Elsewhere (1001)"}
        output: {"value":"Elsewhere (1001)","found":false}
    "#]],
    );
    check(
        &step(r#""input": "{{ event.body.nope }}", "fallback": {"name": null}"#),
        EVENT,
        expect![[r#"
        input: {"input":null,"fallback":{"name":null}}
        output: {"value":{"name":null},"found":false}
        missing: event.body.nope
    "#]],
    );
    check(
        r#"{"kind": "lookup", "input": "{{ event.body.order.quantity }}", "table": {"3": "three"}}"#,
        EVENT,
        expect![[r#"
            input: {"input":3}
            output: {"value":"three","found":true}
        "#]],
    );
    check(
        r#"{"kind": "lookup", "input": "a", "table": {"a": "{{ event.body.order.items | int }}"}}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a"}
            error: table.a: line 1, column 29: cannot convert sequence to integer
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "lookup", "input": "a"}"#,
        expect![[r#"
        table: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "lookup", "input": "a", "table": {}}"#,
        expect![[r#"
        table: must be an object of keys to values, with at least one entry
    "#]],
    );
    check_config(
        r#"{"kind": "lookup", "input": "a", "table": "{{ steps.t.value }}"}"#,
        expect![[r#"
        table: must be an object of keys to values, with at least one entry
    "#]],
    );
    check_config(
        r#"{"kind": "lookup", "input": "a", "table": {"a": 1}, "case_insensitive": "yes"}"#,
        expect![[r#"
        case_insensitive: `yes` is not true or false
    "#]],
    );
    check_config(
        r#"{"kind": "lookup", "input": "a", "table": {"a": 1}, "default": 2}"#,
        expect![[r#"
        default: unknown field; lookup takes input, table, fallback, case_insensitive
    "#]],
    );
    check_config(
        r#"{"kind": "lookup", "operation": "find", "input": "a", "table": {"a": 1}}"#,
        expect![[r#"
        operation: unknown field; lookup takes input, table, fallback, case_insensitive
    "#]],
    );
}
