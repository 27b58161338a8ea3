use expect_test::expect;

use super::{check, check_config};

#[tokio::test]
async fn all_any_and_nesting() {
    let steps = r#"[{"id": "paid", "type": "filter", "match": "all", "conditions": [
  {"left": "{{ event.body.order.status }}", "op": "equals", "right": "paid"},
  {"match": "any", "conditions": [
    {"left": "{{ event.body.order.total }}", "op": "gt", "right": 100},
    {"left": "{{ event.body.order.tags }}", "op": "contains_ci", "right": "vip"}]}]},
 {"id": "after", "type": "storage", "operation": "get", "key": "nothing"}]"#;
    check(
        steps,
        r#"{"order": {"status": "paid", "total": 250, "tags": []}}"#,
        expect![[r#"
        status: succeeded
        paid succeeded: {"passed":true}
        after succeeded: {"value":null}
    "#]],
    )
    .await;
    check(
        steps,
        r#"{"order": {"status": "paid", "total": 20, "tags": ["VIP"]}}"#,
        expect![[r#"
        status: succeeded
        paid succeeded: {"passed":true}
        after succeeded: {"value":null}
    "#]],
    )
    .await;
    check(
        steps,
        r#"{"order": {"status": "paid", "total": 20, "tags": ["new"]}}"#,
        expect![[r#"
        status: filtered
        paid filtered: {"passed":false}
    "#]],
    )
    .await;
    check(
        steps,
        r#"{"order": {"status": "refunded", "total": 500}}"#,
        expect![[r#"
        status: filtered
        paid filtered: {"passed":false} missing=["event.body.order.tags"]
    "#]],
    )
    .await;
}

#[tokio::test]
async fn every_kind_of_operator() {
    let steps = r#"[{"id": "f", "type": "filter", "match": "all", "conditions": [
  {"left": "{{ event.body.email }}", "op": "ends_with_ci", "right": "@SHOP.example"},
  {"left": "{{ event.body.email }}", "op": "matches", "right": "^[a-z]+@"},
  {"left": "{{ event.body.country }}", "op": "in", "right": "IN, US, GB"},
  {"left": "{{ event.body.qty }}", "op": "le", "right": "3"},
  {"left": "{{ event.body.created_at }}", "op": "after", "right": "2026-01-01"},
  {"left": "{{ event.body.gift }}", "op": "is_false"},
  {"left": "{{ event.body.note }}", "op": "is_empty"},
  {"left": "{{ event.body.coupon }}", "op": "not_exists"}]}]"#;
    check(steps, r#"{"email": "ann@shop.example", "country": "IN", "qty": 2, "created_at": "2026-11-22T10:00:00Z", "gift": "no", "note": ""}"#, expect![[r#"
        status: succeeded
        f succeeded: {"passed":true} missing=["event.body.coupon"]
    "#]])
    .await;
    check(steps, r#"{"email": "ann@other.example", "country": "FR", "qty": "many", "created_at": "2025-12-31", "gift": true, "note": "x", "coupon": "C1"}"#, expect![[r#"
        status: filtered
        f filtered: {"passed":false}
    "#]])
    .await;
}

#[tokio::test]
async fn bad_filters_are_refused_naming_the_step() {
    check_config(r#"[{"id": "f", "type": "filter", "conditions": [
  {"left": "{{ event.body.a }}", "op": "looks_like", "right": 1},
  {"left": "{{ event.body.a }}", "op": "matches", "right": "(unclosed"},
  {"left": "{{ event.body.a }}", "op": "gt"}]}]"#, expect![[r#"
      steps[0].conditions[0].op: step `f`: unknown operator `looks_like`; valid operators: equals, not_equals, contains, not_contains, starts_with, ends_with, matches, in, equals_ci, not_equals_ci, contains_ci, not_contains_ci, starts_with_ci, ends_with_ci, matches_ci, in_ci, eq, ne, lt, le, gt, ge, before, after, is_true, is_false, exists, not_exists, is_empty, not_empty
      steps[0].conditions[1].right: step `f`: invalid regular expression: unclosed group
      steps[0].conditions[2].right: step `f`: missing; `gt` compares left with a right value
  "#]])
    .await;
    check_config(
        r#"[{"id": "f", "type": "filter"}]"#,
        expect![[r#"
        steps[0].conditions: step `f`: a filter needs `conditions`: a list of {left, op, right} or groups
    "#]],
    )
    .await;
    check_config(
        r#"[{"id": "f", "type": "filter", "conditions": [], "match": "all", "colour": "red"}]"#,
        expect![[r#"
        steps[0].colour: step `f`: unknown field `colour`; this step takes: conditions, match
    "#]],
    )
    .await;
}
