//! Conditions of filter and paths steps: every operator, groups, validation.

use expect_test::{expect, Expect};
use hookflow_expr::{compile_condition, compile_node, evaluate, CompiledNode, ConditionError, Node, Op, Templates};

use crate::utils::{json, EVENT};

/// Compiles the node (JSON) and evaluates it over the `EVENT` context; prints
/// each condition as evaluated, or the validation errors.
fn check(node: &str, expect: Expect) {
    let templates = Templates::new();
    let compiled = compile_condition(&templates, &json(node));
    expect.assert_eq(&report(&templates, compiled));
}

/// Like `check`, through the typed `Node` (serde) and `compile_node`.
fn check_typed(node: &str, expect: Expect) {
    let templates = Templates::new();
    let actual = match serde_json::from_str::<Node>(node) {
        Err(e) => format!("serde error: {e}\n"),
        Ok(node) => report(&templates, compile_node(&templates, &node)),
    };
    expect.assert_eq(&actual);
}

fn report(templates: &Templates, compiled: Result<CompiledNode, Vec<ConditionError>>) -> String {
    let compiled = match compiled {
        Ok(compiled) => compiled,
        Err(errors) => return errors.iter().map(|e| format!("invalid: {e}\n")).collect(),
    };
    let outcome = evaluate(templates, &compiled, &json(EVENT));
    let mut out = format!("passed: {}\n", outcome.passed);
    for c in &outcome.detail {
        let path = if c.path.is_empty() { "-" } else { &c.path };
        let right = c.right.as_ref().map(|r| format!(" {r}")).unwrap_or_default();
        out += &format!("{path}: {} {}{right} -> {}", c.left, c.op, c.passed);
        if let Some(reason) = &c.reason {
            out += &format!(" ({reason})");
        }
        out += "\n";
    }
    if !outcome.missing.is_empty() {
        out += &format!("missing: {}\n", outcome.missing.join(", "));
    }
    for error in &outcome.errors {
        out += &format!("error: {error}\n");
    }
    out
}

#[test]
fn spec_example() {
    check(
        r#"
{"id": "paid", "type": "filter", "match": "all", "conditions": [
  {"left": "{{ event.body.order.status }}", "op": "equals", "right": "paid"},
  {"match": "any", "conditions": [
    {"left": "{{ event.body.order.total }}", "op": "gt", "right": 100},
    {"left": "{{ event.body.order.tags }}", "op": "contains_ci", "right": "vip"}]}]}
"#,
        expect![[r#"
            passed: true
            conditions[0]: "paid" equals "paid" -> true
            conditions[1].conditions[0]: 149.5 gt 100 -> true
            conditions[1].conditions[1]: ["VIP","gift"] contains_ci "vip" -> true
        "#]],
    );
}

#[test]
fn groups_nest() {
    check(
        r#"
{"match": "any", "conditions": [
  {"left": "{{ event.body.order.status }}", "op": "equals", "right": "refunded"},
  {"match": "all", "conditions": [
    {"left": "{{ event.body.order.paid }}", "op": "is_true"},
    {"match": "any", "conditions": [
      {"left": "{{ event.body.order.total }}", "op": "lt", "right": 10},
      {"left": "{{ event.body.customer.email }}", "op": "ends_with_ci", "right": "@example.com"}]}]}]}
"#,
        expect![[r#"
            passed: true
            conditions[0]: "paid" equals "refunded" -> false
            conditions[1].conditions[0]: true is_true -> true
            conditions[1].conditions[1].conditions[0]: 149.5 lt 10 -> false
            conditions[1].conditions[1].conditions[1]: "Ann@Example.com" ends_with_ci "@example.com" -> true
        "#]],
    );
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.order.status }}", "op": "equals", "right": "paid"},
  {"match": "any", "conditions": [
    {"left": "{{ event.body.order.total }}", "op": "gt", "right": 1000},
    {"left": "{{ event.body.order.tags }}", "op": "contains", "right": "vip"}]}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: "paid" equals "paid" -> true
            conditions[1].conditions[0]: 149.5 gt 1000 -> false
            conditions[1].conditions[1]: ["VIP","gift"] contains "vip" -> false
        "#]],
    );
    check(
        r#"{"match": "all", "conditions": []}"#,
        expect![[r#"
        passed: true
    "#]],
    );
    check(
        r#"{"match": "any", "conditions": []}"#,
        expect![[r#"
        passed: false
    "#]],
    );
    check(
        r#"{"left": "{{ event.body.order.id }}", "op": "eq", "right": 1001}"#,
        expect![[r#"
        passed: true
        -: 1001 eq 1001 -> true
    "#]],
    );
}

#[test]
fn text_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.order.status }}", "op": "equals", "right": "paid"},
  {"left": "{{ event.body.order.status }}", "op": "equals", "right": "PAID"},
  {"left": "{{ event.body.order.status }}", "op": "equals_ci", "right": "PAID"},
  {"left": "{{ event.body.order.status }}", "op": "not_equals", "right": "PAID"},
  {"left": "{{ event.body.order.status }}", "op": "not_equals_ci", "right": "PAID"},
  {"left": "{{ event.body.order.id }}", "op": "equals", "right": "1001"},
  {"left": "{{ event.body.order.id }}", "op": "equals", "right": 1001.0},
  {"left": "{{ event.body.order.paid }}", "op": "equals", "right": "true"},
  {"left": "{{ event.body.order.note }}", "op": "equals", "right": ""},
  {"left": "{{ event.body.order.tags }}", "op": "equals", "right": ["VIP", "gift"]},
  {"left": "Order {{ event.body.order.id }}", "op": "equals", "right": "Order {{ event.body.order.id }}"}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: "paid" equals "paid" -> true
            conditions[1]: "paid" equals "PAID" -> false
            conditions[2]: "paid" equals_ci "PAID" -> true
            conditions[3]: "paid" not_equals "PAID" -> true
            conditions[4]: "paid" not_equals_ci "PAID" -> false
            conditions[5]: 1001 equals "1001" -> true
            conditions[6]: 1001 equals 1001.0 -> true
            conditions[7]: true equals "true" -> true
            conditions[8]: null equals "" -> true
            conditions[9]: ["VIP","gift"] equals ["VIP","gift"] -> true
            conditions[10]: "Order 1001" equals "Order 1001" -> true
        "#]],
    );
}

#[test]
fn contains_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.customer.name }}", "op": "contains", "right": "Lee"},
  {"left": "{{ event.body.customer.name }}", "op": "contains", "right": "lee"},
  {"left": "{{ event.body.customer.name }}", "op": "contains_ci", "right": "lee"},
  {"left": "{{ event.body.customer.name }}", "op": "not_contains", "right": "lee"},
  {"left": "{{ event.body.customer.name }}", "op": "not_contains_ci", "right": "lee"},
  {"left": "{{ event.body.order.tags }}", "op": "contains", "right": "VIP"},
  {"left": "{{ event.body.order.tags }}", "op": "contains", "right": "vip"},
  {"left": "{{ event.body.order.tags }}", "op": "contains_ci", "right": "vip"},
  {"left": "{{ event.body.order.tags }}", "op": "contains", "right": "gi"},
  {"left": "{{ event.body.order.tags }}", "op": "not_contains_ci", "right": "vip"},
  {"left": ["a", 1], "op": "contains", "right": "1"},
  {"left": "{{ event.body.customer }}", "op": "contains", "right": "email"},
  {"left": "{{ event.body.customer.name }}", "op": "contains", "right": ""},
  {"left": "{{ event.body.customer.name }}", "op": "not_contains", "right": "{{ event.body.missing }}"}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: "Ann Lee" contains "Lee" -> true
            conditions[1]: "Ann Lee" contains "lee" -> false
            conditions[2]: "Ann Lee" contains_ci "lee" -> true
            conditions[3]: "Ann Lee" not_contains "lee" -> true
            conditions[4]: "Ann Lee" not_contains_ci "lee" -> false
            conditions[5]: ["VIP","gift"] contains "VIP" -> true
            conditions[6]: ["VIP","gift"] contains "vip" -> false
            conditions[7]: ["VIP","gift"] contains_ci "vip" -> true
            conditions[8]: ["VIP","gift"] contains "gi" -> false
            conditions[9]: ["VIP","gift"] not_contains_ci "vip" -> false
            conditions[10]: ["a",1] contains "1" -> true
            conditions[11]: {"id":"c_42","name":"Ann Lee","email":"Ann@Example.com"} contains "email" -> true
            conditions[12]: "Ann Lee" contains "" -> false (right is empty)
            conditions[13]: "Ann Lee" not_contains null -> false (right is empty)
            missing: event.body.missing
        "#]],
    );
}

#[test]
fn prefix_suffix_and_regex_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.customer.email }}", "op": "starts_with", "right": "Ann@"},
  {"left": "{{ event.body.customer.email }}", "op": "starts_with", "right": "ann@"},
  {"left": "{{ event.body.customer.email }}", "op": "starts_with_ci", "right": "ann@"},
  {"left": "{{ event.body.customer.email }}", "op": "ends_with", "right": "@example.com"},
  {"left": "{{ event.body.customer.email }}", "op": "ends_with_ci", "right": "@EXAMPLE.COM"},
  {"left": "{{ event.body.customer.email }}", "op": "matches", "right": "^[^@]+@example\\.com$"},
  {"left": "{{ event.body.customer.email }}", "op": "matches_ci", "right": "^[^@]+@example\\.com$"},
  {"left": "{{ event.body.order.id }}", "op": "matches", "right": "^\\d{4}$"},
  {"left": "{{ event.body.customer.name }}", "op": "matches", "right": "{{ event.body.customer.name | lower }}"},
  {"left": "{{ event.body.customer.name }}", "op": "matches_ci", "right": "{{ event.body.customer.name | lower }}"},
  {"left": "abc", "op": "matches", "right": "{{ '(' }}"}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: "Ann@Example.com" starts_with "Ann@" -> true
            conditions[1]: "Ann@Example.com" starts_with "ann@" -> false
            conditions[2]: "Ann@Example.com" starts_with_ci "ann@" -> true
            conditions[3]: "Ann@Example.com" ends_with "@example.com" -> false
            conditions[4]: "Ann@Example.com" ends_with_ci "@EXAMPLE.COM" -> true
            conditions[5]: "Ann@Example.com" matches "^[^@]+@example\\.com$" -> false
            conditions[6]: "Ann@Example.com" matches_ci "^[^@]+@example\\.com$" -> true
            conditions[7]: 1001 matches "^\\d{4}$" -> true
            conditions[8]: "Ann Lee" matches "ann lee" -> false
            conditions[9]: "Ann Lee" matches_ci "ann lee" -> true
            conditions[10]: "abc" matches "(" -> false (right is not a valid regular expression: unclosed group)
        "#]],
    );
}

#[test]
fn in_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.order.status }}", "op": "in", "right": ["paid", "refunded"]},
  {"left": "{{ event.body.order.status }}", "op": "in", "right": "pending, paid ,refunded"},
  {"left": "{{ event.body.order.status }}", "op": "in", "right": "PAID,REFUNDED"},
  {"left": "{{ event.body.order.status }}", "op": "in_ci", "right": "PAID,REFUNDED"},
  {"left": "{{ event.body.order.id }}", "op": "in", "right": [1000, 1001]},
  {"left": "{{ event.body.order.id }}", "op": "in", "right": "1000,1001"},
  {"left": "{{ event.body.order.tags }}", "op": "in", "right": "gift,other"},
  {"left": "{{ event.body.order.tags }}", "op": "in", "right": []},
  {"left": "{{ event.body.customer.id }}", "op": "in", "right": ["{{ steps.crm.body.first_name }}", "c_42"]}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: "paid" in ["paid","refunded"] -> true
            conditions[1]: "paid" in "pending, paid ,refunded" -> true
            conditions[2]: "paid" in "PAID,REFUNDED" -> false
            conditions[3]: "paid" in_ci "PAID,REFUNDED" -> true
            conditions[4]: 1001 in [1000,1001] -> true
            conditions[5]: 1001 in "1000,1001" -> true
            conditions[6]: ["VIP","gift"] in "gift,other" -> true
            conditions[7]: ["VIP","gift"] in [] -> false
            conditions[8]: "c_42" in ["Ann","c_42"] -> true
        "#]],
    );
}

#[test]
fn number_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.order.total }}", "op": "eq", "right": 149.5},
  {"left": "{{ event.body.order.total }}", "op": "ne", "right": 149.5},
  {"left": "{{ event.body.order.total }}", "op": "lt", "right": 100},
  {"left": "{{ event.body.order.total }}", "op": "le", "right": "149.50"},
  {"left": "{{ event.body.order.total }}", "op": "gt", "right": 100},
  {"left": "{{ event.body.order.total }}", "op": "ge", "right": 150},
  {"left": "{{ event.body.amount_text }}", "op": "eq", "right": 100.5},
  {"left": " -3 ", "op": "lt", "right": "1e1"},
  {"left": "{{ event.body.order.big }}", "op": "gt", "right": 12345678901234567889},
  {"left": "{{ event.body.order.big }}", "op": "eq", "right": "12345678901234567890"},
  {"left": "{{ event.body.order.id }} items", "op": "eq", "right": 1001},
  {"left": "{{ event.body.customer.phone }}", "op": "lt", "right": 5},
  {"left": "{{ event.body.order.total }}", "op": "gt", "right": "lots"},
  {"left": "{{ event.body.order.paid }}", "op": "ne", "right": 1},
  {"left": "NaN", "op": "ne", "right": 1}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: 149.5 eq 149.5 -> true
            conditions[1]: 149.5 ne 149.5 -> false
            conditions[2]: 149.5 lt 100 -> false
            conditions[3]: 149.5 le "149.50" -> true
            conditions[4]: 149.5 gt 100 -> true
            conditions[5]: 149.5 ge 150 -> false
            conditions[6]: "100.50" eq 100.5 -> true
            conditions[7]: " -3 " lt "1e1" -> true
            conditions[8]: 12345678901234567890 gt 12345678901234567889 -> true
            conditions[9]: 12345678901234567890 eq "12345678901234567890" -> true
            conditions[10]: "1001 items" eq 1001 -> false (left is not a number: "1001 items")
            conditions[11]: null lt 5 -> false (left is not a number: null)
            conditions[12]: 149.5 gt "lots" -> false (right is not a number: "lots")
            conditions[13]: true ne 1 -> false (left is not a number: true)
            conditions[14]: "NaN" ne 1 -> false (left is not a number: "NaN")
            missing: event.body.customer.phone
        "#]],
    );
}

#[test]
fn date_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.order.created_at }}", "op": "before", "right": "{{ event.received_at }}"},
  {"left": "{{ event.body.order.created_at }}", "op": "after", "right": "2024-06-01T04:29:59Z"},
  {"left": "2024-06-01", "op": "before", "right": "2024-06-01T00:00:01"},
  {"left": "2024-06-01 10:00:00", "op": "after", "right": "2024-06-01T09:59:59Z"},
  {"left": "Sat, 01 Jun 2024 10:00:00 +0000", "op": "after", "right": "2024-06-01T09:59:59Z"},
  {"left": 1717236000, "op": "after", "right": "2024-06-01T09:59:59Z"},
  {"left": "1717236000000", "op": "before", "right": "2024-06-01T10:00:00.001Z"},
  {"left": 1717236000000, "op": "after", "right": 1717235999},
  {"left": "2024-06-01T10:00:00+02:00[Europe/Paris]", "op": "before", "right": "2024-06-01T09:00:00Z"},
  {"left": "next tuesday", "op": "before", "right": "2024-06-01"},
  {"left": "2024-06-01", "op": "after", "right": "{{ event.body.missing_date }}"}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: "2024-06-01T10:00:00+05:30" before "2024-06-01T10:00:05Z" -> true
            conditions[1]: "2024-06-01T10:00:00+05:30" after "2024-06-01T04:29:59Z" -> true
            conditions[2]: "2024-06-01" before "2024-06-01T00:00:01" -> true
            conditions[3]: "2024-06-01 10:00:00" after "2024-06-01T09:59:59Z" -> true
            conditions[4]: "Sat, 01 Jun 2024 10:00:00 +0000" after "2024-06-01T09:59:59Z" -> true
            conditions[5]: 1717236000 after "2024-06-01T09:59:59Z" -> true
            conditions[6]: "1717236000000" before "2024-06-01T10:00:00.001Z" -> true
            conditions[7]: 1717236000000 after 1717235999 -> true
            conditions[8]: "2024-06-01T10:00:00+02:00[Europe/Paris]" before "2024-06-01T09:00:00Z" -> true
            conditions[9]: "next tuesday" before "2024-06-01" -> false (left is not a date-time: "next tuesday")
            conditions[10]: "2024-06-01" after null -> false (right is not a date-time: null)
            missing: event.body.missing_date
        "#]],
    );
}

#[test]
fn boolean_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.order.paid }}", "op": "is_true"},
  {"left": "{{ event.body.subscribed }}", "op": "is_true"},
  {"left": " YES ", "op": "is_true"},
  {"left": "1", "op": "is_true"},
  {"left": 1, "op": "is_true"},
  {"left": "no", "op": "is_false"},
  {"left": "False", "op": "is_false"},
  {"left": "{{ event.body.zero }}", "op": "is_false"},
  {"left": "0", "op": "is_false"},
  {"left": "{{ event.body.order.paid }}", "op": "is_false"},
  {"left": "maybe", "op": "is_true"},
  {"left": 2, "op": "is_false"},
  {"left": "{{ event.body.missing_flag }}", "op": "is_false", "right": "ignored"}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: true is_true -> true
            conditions[1]: "yes" is_true -> true
            conditions[2]: " YES " is_true -> true
            conditions[3]: "1" is_true -> true
            conditions[4]: 1 is_true -> true
            conditions[5]: "no" is_false -> true
            conditions[6]: "False" is_false -> true
            conditions[7]: 0 is_false -> true
            conditions[8]: "0" is_false -> true
            conditions[9]: true is_false -> false
            conditions[10]: "maybe" is_true -> false (left is not a boolean: "maybe")
            conditions[11]: 2 is_false -> false (left is not a boolean: 2)
            conditions[12]: null is_false -> false (left is not a boolean: null)
            missing: event.body.missing_flag
        "#]],
    );
}

#[test]
fn presence_operators() {
    check(
        r#"
{"match": "all", "conditions": [
  {"left": "{{ event.body.order.id }}", "op": "exists"},
  {"left": "{{ event.body.order.note }}", "op": "exists"},
  {"left": "{{ event.body.customer.phone }}", "op": "not_exists"},
  {"left": "{{ event.body.empty }}", "op": "exists"},
  {"left": "{{ event.body.empty }}", "op": "is_empty"},
  {"left": "{{ event.body.order.note }}", "op": "is_empty"},
  {"left": "{{ contact.tags }}", "op": "is_empty"},
  {"left": {}, "op": "is_empty"},
  {"left": " ", "op": "is_empty"},
  {"left": "{{ event.body.zero }}", "op": "not_empty"},
  {"left": "{{ event.body.order.tags }}", "op": "not_empty"}]}
"#,
        expect![[r#"
            passed: false
            conditions[0]: 1001 exists -> true
            conditions[1]: null exists -> false
            conditions[2]: null not_exists -> true
            conditions[3]: "" exists -> true
            conditions[4]: "" is_empty -> true
            conditions[5]: null is_empty -> true
            conditions[6]: [] is_empty -> true
            conditions[7]: {} is_empty -> true
            conditions[8]: " " is_empty -> false
            conditions[9]: 0 not_empty -> true
            conditions[10]: ["VIP","gift"] not_empty -> true
            missing: event.body.customer.phone
        "#]],
    );
}

#[test]
fn template_errors_in_values_are_diagnostics() {
    check(
        r#"{"left": "{{ event.body.customer.name | round }}", "op": "exists"}"#,
        expect![[r#"
            passed: false
            -: null exists -> false
            error: left: line 1, column 31: cannot round value (string)
        "#]],
    );
}

#[test]
fn validation_errors_have_paths() {
    check(
        r#"
{"match": "every", "conditions": [
  {"left": "x", "op": "equal", "right": "y"},
  {"match": "any", "conditions": [
    {"left": "{{ event.body.a }", "op": "gt", "right": 1},
    {"left": "a", "op": "matches", "right": "(abc"},
    {"left": "a", "op": "gt"},
    {"left": "a", "op": "exists", "rigth": 1},
    {"left": "a", "op": "in", "right": ["ok", "{{ x | nosuch }}"]}]},
  "oops",
  {"op": "exists"},
  {"left": "a", "op": 3, "right": 1},
  {"match": "all", "conditions": "nope"},
  {"match": "all"}]}
"#,
        expect![[r#"
            invalid: match: must be "all" or "any"
            invalid: conditions[0].op: unknown operator `equal`; valid operators: equals, not_equals, contains, not_contains, starts_with, ends_with, matches, in, equals_ci, not_equals_ci, contains_ci, not_contains_ci, starts_with_ci, ends_with_ci, matches_ci, in_ci, eq, ne, lt, le, gt, ge, before, after, is_true, is_false, exists, not_exists, is_empty, not_empty
            invalid: conditions[1].conditions[0].left: line 1, column 17: unexpected `}`, expected end of variable block
            invalid: conditions[1].conditions[1].right: invalid regular expression: unclosed group
            invalid: conditions[1].conditions[2].right: missing; `gt` compares left with a right value
            invalid: conditions[1].conditions[3].rigth: unknown field; a condition has "left", "op" and "right"
            invalid: conditions[1].conditions[4].right[1]: line 1, column 8: unknown filter `nosuch`
            invalid: conditions[2]: expected a condition {"left", "op", "right"} or a group {"match", "conditions"}
            invalid: conditions[3].left: missing
            invalid: conditions[4].op: must be an operator name; valid operators: equals, not_equals, contains, not_contains, starts_with, ends_with, matches, in, equals_ci, not_equals_ci, contains_ci, not_contains_ci, starts_with_ci, ends_with_ci, matches_ci, in_ci, eq, ne, lt, le, gt, ge, before, after, is_true, is_false, exists, not_exists, is_empty, not_empty
            invalid: conditions[5].conditions: must be a list of conditions
            invalid: conditions[6].conditions: missing
        "#]],
    );
    check(
        r#"{"left": "a", "op": "after"}"#,
        expect![[r#"
        invalid: right: missing; `after` compares left with a right value
    "#]],
    );
    check(
        "[]",
        expect![[r#"
        invalid: expected a condition {"left", "op", "right"} or a group {"match", "conditions"}
    "#]],
    );
}

#[test]
fn typed_nodes() {
    check_typed(
        r#"{"match": "any", "conditions": [{"left": "{{ event.body.order.id }}", "op": "eq", "right": 1001}]}"#,
        expect![[r#"
            passed: true
            conditions[0]: 1001 eq 1001 -> true
        "#]],
    );
    check_typed(
        r#"{"conditions": [{"left": "{{ event.body.missing }}", "op": "not_exists"}]}"#,
        expect![[r#"
        passed: true
        conditions[0]: null not_exists -> true
        missing: event.body.missing
    "#]],
    );
    check_typed(
        r#"{"left": "a", "op": "equals", "right": null}"#,
        expect![[r#"
        passed: false
        -: "a" equals null -> false
    "#]],
    );
    check_typed(
        r#"{"left": "a", "op": "equal", "right": "a"}"#,
        expect![[r#"
        serde error: unknown operator `equal`; valid operators: equals, not_equals, contains, not_contains, starts_with, ends_with, matches, in, equals_ci, not_equals_ci, contains_ci, not_contains_ci, starts_with_ci, ends_with_ci, matches_ci, in_ci, eq, ne, lt, le, gt, ge, before, after, is_true, is_false, exists, not_exists, is_empty, not_empty
    "#]],
    );
    check_typed(
        r#"{"left": "a", "op": "gt"}"#,
        expect![[r#"
        invalid: right: missing; `gt` compares left with a right value
    "#]],
    );
    check_typed(
        r#"{"match": "any", "conditions": [{"left": "a", "op": "equals", "rigth": "a"}]}"#,
        expect![[r#"
        serde error: unknown field `rigth`, expected one of `left`, `op`, `right`
    "#]],
    );
}

#[test]
fn operator_names() {
    let actual: String = Op::ALL
        .iter()
        .map(|op| {
            assert_eq!(op.as_str().parse::<Op>().as_ref(), Ok(op));
            let right = if op.needs_right() { "left, right" } else { "left" };
            format!("{op}({right})\n")
        })
        .collect();
    expect![[r#"
        equals(left, right)
        not_equals(left, right)
        contains(left, right)
        not_contains(left, right)
        starts_with(left, right)
        ends_with(left, right)
        matches(left, right)
        in(left, right)
        equals_ci(left, right)
        not_equals_ci(left, right)
        contains_ci(left, right)
        not_contains_ci(left, right)
        starts_with_ci(left, right)
        ends_with_ci(left, right)
        matches_ci(left, right)
        in_ci(left, right)
        eq(left, right)
        ne(left, right)
        lt(left, right)
        le(left, right)
        gt(left, right)
        ge(left, right)
        before(left, right)
        after(left, right)
        is_true(left)
        is_false(left)
        exists(left)
        not_exists(left)
        is_empty(left)
        not_empty(left)
    "#]]
    .assert_eq(&actual);
    expect!["unknown operator `equal`; valid operators: equals, not_equals, contains, not_contains, starts_with, ends_with, matches, in, equals_ci, not_equals_ci, contains_ci, not_contains_ci, starts_with_ci, ends_with_ci, matches_ci, in_ci, eq, ne, lt, le, gt, ge, before, after, is_true, is_false, exists, not_exists, is_empty, not_empty"].assert_eq(&"equal".parse::<Op>().unwrap_err().to_string());
}
