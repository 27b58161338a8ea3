use expect_test::expect;

use super::{check, check_config};

const ROUTE: &str = r#"[{"id": "route", "type": "paths", "branches": [
  {"name": "vip", "when": {"match": "all", "conditions": [{"left": "{{ event.body.total }}", "op": "ge", "right": 1000}]},
   "steps": [{"id": "vip_tag", "type": "storage", "operation": "set", "key": "last_vip", "value": "{{ event.body.id }}"}]},
  {"name": "india", "when": {"match": "all", "conditions": [{"left": "{{ event.body.country }}", "op": "equals_ci", "right": "in"}]},
   "steps": [{"id": "only_paid", "type": "filter", "conditions": [{"left": "{{ event.body.paid }}", "op": "is_true"}]},
             {"id": "in_count", "type": "storage", "operation": "increment", "key": "india_orders"}]}],
  "otherwise": [{"id": "plain", "type": "storage", "operation": "set", "key": "last_plain", "value": "{{ event.body.id }}"}]},
 {"id": "done", "type": "storage", "operation": "get", "key": "nothing"}]"#;

#[tokio::test]
async fn every_matching_branch_runs() {
    check(
        ROUTE,
        r#"{"id": 7, "total": 1500, "country": "IN", "paid": true}"#,
        expect![[r#"
        status: succeeded
        route succeeded: {"matched":["vip","india"],"otherwise":false}
        vip_tag succeeded: {"value":7}
        only_paid succeeded: {"passed":true}
        in_count succeeded: {"value":1}
        done succeeded: {"value":null}
        side effect: {"step":"vip_tag","storage":"set","key":"last_vip","value":7}
        side effect: {"step":"in_count","storage":"increment","key":"india_orders","by":1}
    "#]],
    )
    .await;
}

#[tokio::test]
async fn a_filter_in_a_branch_stops_only_that_branch() {
    check(
        ROUTE,
        r#"{"id": 8, "total": 1500, "country": "in", "paid": false}"#,
        expect![[r#"
        status: succeeded
        route succeeded: {"matched":["vip","india"],"otherwise":false}
        vip_tag succeeded: {"value":8}
        only_paid filtered: {"passed":false}
        done succeeded: {"value":null}
        side effect: {"step":"vip_tag","storage":"set","key":"last_vip","value":8}
    "#]],
    )
    .await;
}

#[tokio::test]
async fn otherwise_runs_when_nothing_matches() {
    check(
        ROUTE,
        r#"{"id": 9, "total": 10, "country": "US"}"#,
        expect![[r#"
        status: succeeded
        route succeeded: {"matched":[],"otherwise":true}
        plain succeeded: {"value":9}
        done succeeded: {"value":null}
        side effect: {"step":"plain","storage":"set","key":"last_plain","value":9}
    "#]],
    )
    .await;
}

#[tokio::test]
async fn bad_paths_are_refused_naming_the_step() {
    check_config(
        r#"[{"id": "route", "type": "paths", "branches": []}]"#,
        expect![[r#"
        steps[0].branches: step `route`: paths need `branches`: a non-empty list of {name, when, steps}
    "#]],
    )
    .await;
    check_config(r#"[{"id": "route", "type": "paths", "branches": [
  {"name": "a", "when": {"conditions": [{"left": "x", "op": "nope", "right": 1}]}, "steps": []},
  {"name": "a", "steps": [{"id": "inner", "type": "delay"}]}]}]"#, expect![[r#"
      steps[0].branches[0].when.conditions[0].op: step `route`: unknown operator `nope`; valid operators: equals, not_equals, contains, not_contains, starts_with, ends_with, matches, in, equals_ci, not_equals_ci, contains_ci, not_contains_ci, starts_with_ci, ends_with_ci, matches_ci, in_ci, eq, ne, lt, le, gt, ge, before, after, is_true, is_false, exists, not_exists, is_empty, not_empty
      steps[0].branches[1].name: step `route`: two branches are named `a`
      steps[0].branches[1].when: step `route`: a branch needs `when`: a condition group {match, conditions}
      steps[0].branches[1].steps[0]: step `inner`: a delay needs exactly one of `for` (a duration like 15m), `until` (a date-time) or `at_time` (HH:MM with a timezone)
  "#]])
    .await;
}
