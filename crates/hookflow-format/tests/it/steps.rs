//! What every kind shares: the step object, `kind`, operations, fields and templates.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn the_step_object() {
    check_config(
        r#"[1, 2]"#,
        expect![[r#"
        : a formatter step must be a JSON object
    "#]],
    );
    check_config(
        r#"{"id": "x", "type": "formatter"}"#,
        expect![[r#"
        kind: missing required field; kinds: datetime, counter, math, text, data_parser, convert, line_items, lookup
    "#]],
    );
    check_config(
        r#"{"kind": "dates"}"#,
        expect![[r#"
        kind: unknown kind `dates`; kinds: datetime, counter, math, text, data_parser, convert, line_items, lookup
    "#]],
    );
    check_config(
        r#"{"kind": 5}"#,
        expect![[r#"
        kind: unknown kind `5`; kinds: datetime, counter, math, text, data_parser, convert, line_items, lookup
    "#]],
    );
    check_config(
        r#"{"kind": "{{ event.body.kind }}"}"#,
        expect![[r#"
        kind: unknown kind `{{ event.body.kind }}`; kinds: datetime, counter, math, text, data_parser, convert, line_items, lookup
    "#]],
    );
    check_config(
        r#"{"id": "x", "type": "formatter", "kind": "math", "expression": "1 + 1"}"#,
        expect![[r#"
            compiled: math -
        "#]],
    );
}

#[test]
fn operations() {
    check_config(
        r#"{"kind": "text", "input": "a"}"#,
        expect![[r#"
        operation: missing required field; operations of text: upper, lower, title, capitalize, trim, replace, split, truncate, extract, url_encode, url_decode, slugify, length, default
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "reverse", "input": "a"}"#,
        expect![[r#"
        operation: unknown operation `reverse`; operations of text: upper, lower, title, capitalize, trim, replace, split, truncate, extract, url_encode, url_decode, slugify, length, default
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": null, "input": "a"}"#,
        expect![[r#"
            operation: unknown operation `null`; operations of text: upper, lower, title, capitalize, trim, replace, split, truncate, extract, url_encode, url_decode, slugify, length, default
        "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "input": "a"}"#,
        expect![[r#"
        format: missing required field; formats of data_parser: json, csv, xml, kv, form
    "#]],
    );
    check_config(
        r#"{"kind": "math", "operation": "add", "expression": "1"}"#,
        expect![[r#"
        operation: unknown field; math takes expression, round
    "#]],
    );
}

#[test]
fn unknown_and_missing_fields_are_all_reported_in_step_order() {
    check_config(
        r#"{"kind": "datetime", "operation": "format", "inptu": "x", "format": "%Y", "tz": "UTC"}"#,
        expect![[r#"
            inptu: unknown field; datetime `format` takes input, format, timezone, input_format, input_timezone
            tz: unknown field; datetime `format` takes input, format, timezone, input_format, input_timezone
            input: missing required field
        "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "upper", "input": "a", "find": "b"}"#,
        expect![[r#"
        find: unknown field; text `upper` takes input
    "#]],
    );
    check_config(
        r#"{"kind": "datetime", "operation": "now", "input": "x"}"#,
        expect![[r#"
        input: unknown field; datetime `now` takes format, timezone
    "#]],
    );
    check_config(
        r#"{"kind": "counter", "operation": "read", "name": "n", "by": 2}"#,
        expect![[r#"
        by: unknown field; counter `read` takes name
    "#]],
    );
}

#[test]
fn template_errors_name_the_field_and_position() {
    check_config(
        r#"{"kind": "text", "operation": "upper", "input": "{{ event.body. }}"}"#,
        expect![[r#"
            input: line 1, column 16: unexpected end of variable block, expected identifier or integer
        "#]],
    );
    check_config(
        r#"{"kind": "line_items", "operation": "to_items", "fields": {"qty": "{{ 1 + }}", "sku": "{% if %}"}}"#,
        expect![[r#"
            fields.qty: line 1, column 8: unexpected end of variable block
            fields.sku: line 1, column 7: unexpected end of block
        "#]],
    );
    check_config(
        r#"{"kind": "lookup", "input": "a", "table": {"a-b": "{{ x | nosuchfilter }}"}}"#,
        expect![[r#"
            table["a-b"]: line 1, column 8: unknown filter `nosuchfilter`
        "#]],
    );
}

#[test]
fn render_errors_fail_the_step() {
    check(
        r#"{"kind": "text", "operation": "upper", "input": "{{ event.body.order.items | int }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":null}
            error: input: line 1, column 29: cannot convert sequence to integer
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "upper", "input": "x {{ event.body.order.items | join(1, 2, 3) }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":""}
            error: input: line 1, column 31: too many arguments
        "#]],
    );
}

#[test]
fn missing_attributes_are_merged_over_fields() {
    check(
        r#"{"kind": "text", "operation": "replace", "input": "{{ event.body.nope }}-{{ event.body.customer.nope }}", "find": "{{ event.body.nope }}", "replace_with": "{{ contact.name }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"-","find":null,"replace_with":null}
            error: find is empty
            missing: event.body.nope, event.body.customer.nope, contact.name
        "#]],
    );
}
