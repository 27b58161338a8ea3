//! Every formatter kind through the engine; each kind's operations are
//! covered in depth by `hookflow-format`'s own tests.

use expect_test::expect;

use super::{check, check_config};

#[tokio::test]
async fn every_kind_runs_in_a_connector() {
    check(r#"[{"id": "when", "type": "formatter", "kind": "datetime", "operation": "format", "input": "{{ event.body.created_at }}", "format": "%d %b %Y %H:%M", "timezone": "Asia/Kolkata"},
 {"id": "total", "type": "formatter", "kind": "math", "expression": "{{ event.body.subtotal }} * 1.18", "round": 2},
 {"id": "name", "type": "formatter", "kind": "text", "operation": "title", "input": "{{ event.body.name }}"},
 {"id": "meta", "type": "formatter", "kind": "data_parser", "format": "json", "input": "{{ event.body.meta }}", "path": "source"},
 {"id": "b64", "type": "formatter", "kind": "convert", "operation": "base64_encode", "input": "{{ steps.name.value }}"},
 {"id": "lines", "type": "formatter", "kind": "line_items", "operation": "to_items", "fields": {"sku": "{{ event.body.skus }}", "qty": "{{ event.body.qtys }}"}},
 {"id": "tier", "type": "formatter", "kind": "lookup", "input": "{{ event.body.country }}", "table": {"IN": "domestic"}, "fallback": "export"},
 {"id": "seen", "type": "formatter", "kind": "counter", "name": "orders_seen", "operation": "read"},
 {"id": "msg", "type": "storage", "operation": "set", "key": "msg", "value": "{{ steps.name.value }} on {{ steps.when.value }}: {{ steps.total.value }} ({{ steps.tier.value }}, {{ steps.lines.count }} lines)"}]"#,
        r#"{"created_at": "2026-11-22T04:30:00Z", "subtotal": 100, "name": "ann lee", "meta": "{\"source\": \"web\"}", "skus": "A,B", "qtys": "1,2", "country": "US"}"#,
        expect![[r#"
            status: succeeded
            when succeeded: {"value":"22 Nov 2026 10:00","iso":"2026-11-22T10:00:00+05:30","unix":1795321800,"timezone":"Asia/Kolkata"}
            total succeeded: {"value":118}
            name succeeded: {"value":"Ann Lee"}
            meta succeeded: {"value":"web"}
            b64 succeeded: {"value":"QW5uIExlZQ=="}
            lines succeeded: {"value":[{"sku":"A","qty":"1"},{"sku":"B","qty":"2"}],"count":2}
            tier succeeded: {"value":"export","found":false}
            seen succeeded: {"value":0}
            msg succeeded: {"value":"Ann Lee on 22 Nov 2026 10:00: 118 (export, 2 lines)"}
            side effect: {"step":"msg","storage":"set","key":"msg","value":"Ann Lee on 22 Nov 2026 10:00: 118 (export, 2 lines)"}
        "#]])
    .await;
}

#[tokio::test]
async fn a_formatter_that_cannot_work_fails_the_execution() {
    check(r#"[{"id": "when", "type": "formatter", "kind": "datetime", "operation": "format", "input": "{{ event.body.created_at }}", "format": "%Y"},
 {"id": "never", "type": "storage", "operation": "get", "key": "x"}]"#, r#"{"created_at": "yesterday-ish"}"#, expect![[r#"
     status: failed (step `when`: input `yesterday-ish` is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts))
     when failed: null error=input `yesterday-ish` is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts)
 "#]])
    .await;
}

#[tokio::test]
async fn bad_formatters_are_refused_naming_the_step() {
    check_config(r#"[{"id": "a", "type": "formatter", "kind": "astrology"},
 {"id": "b", "type": "formatter", "kind": "datetime", "operation": "format", "input": "x", "format": "%Y", "timezone": "Nowhere/City"},
 {"id": "c", "type": "formatter", "kind": "math", "expression": "{{ event.body.x }", "round": 2}]"#, expect![[r#"
     steps[0].kind: step `a`: unknown kind `astrology`; kinds: datetime, counter, math, text, data_parser, convert, line_items, lookup
     steps[1].timezone: step `b`: `Nowhere/City` is not a known time zone (use an IANA name like Europe/Paris, UTC, or an offset like +05:30)
     steps[2].expression: step `c`: line 1, column 17: unexpected `}`, expected end of variable block
 "#]])
    .await;
}
