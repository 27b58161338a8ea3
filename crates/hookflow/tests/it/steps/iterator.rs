use expect_test::expect;

use reqwest::Method;
use serde_json::{json, Value};

use super::{api, check, check_config, fixture};

#[tokio::test]
async fn nested_steps_run_per_element_and_outputs_are_collected() {
    check(r#"[{"id": "each", "type": "iterator", "over": "{{ event.body.line_items }}", "steps": [
  {"id": "line", "type": "formatter", "kind": "math", "expression": "{{ item.quantity }} * {{ item.price }}"},
  {"id": "label", "type": "formatter", "kind": "text", "operation": "upper", "input": "{{ index }}: {{ item.sku }} = {{ steps.line.value }}"}]},
 {"id": "count", "type": "formatter", "kind": "math", "expression": "{{ steps.each | length }}"}]"#,
        r#"{"line_items": [{"sku": "a-1", "quantity": 2, "price": 9.5}, {"sku": "b-2", "quantity": 1, "price": 20}]}"#, expect![[r#"
            status: succeeded
            each succeeded: [{"line":{"value":19},"label":{"value":"0: A-1 = 19"}},{"line":{"value":20},"label":{"value":"1: B-2 = 20"}}]
            each[0].line succeeded: {"value":19}
            each[0].label succeeded: {"value":"0: A-1 = 19"}
            each[1].line succeeded: {"value":20}
            each[1].label succeeded: {"value":"1: B-2 = 20"}
            count succeeded: {"value":2}
        "#]])
    .await;
}

#[tokio::test]
async fn a_filter_inside_skips_only_that_element() {
    check(r#"[{"id": "each", "type": "iterator", "over": "{{ event.body.items }}", "steps": [
  {"id": "big", "type": "filter", "conditions": [{"left": "{{ item }}", "op": "gt", "right": 10}]},
  {"id": "double", "type": "formatter", "kind": "math", "expression": "{{ item }} * 2"}]}]"#,
        r#"{"items": [5, 50, 500]}"#, expect![[r#"
            status: succeeded
            each succeeded: [{"big":{"passed":false}},{"big":{"passed":true},"double":{"value":100}},{"big":{"passed":true},"double":{"value":1000}}]
            each[0].big filtered: {"passed":false}
            each[1].big succeeded: {"passed":true}
            each[1].double succeeded: {"value":100}
            each[2].big succeeded: {"passed":true}
            each[2].double succeeded: {"value":1000}
        "#]])
    .await;
}

#[tokio::test]
async fn caps_empty_and_wrong_inputs() {
    check(
        r#"[{"id": "each", "type": "iterator", "over": "{{ event.body.items }}", "max_items": 2, "steps": [
  {"id": "x", "type": "formatter", "kind": "math", "expression": "{{ item }} + 1"}]}]"#,
        r#"{"items": [1, 2, 3]}"#,
        expect![[r#"
            status: succeeded
            each succeeded: [{"x":{"value":2}},{"x":{"value":3}}] error=only the first 2 of 3 elements were handled
            each[0].x succeeded: {"value":2}
            each[1].x succeeded: {"value":3}
        "#]],
    )
    .await;
    check(
        r#"[{"id": "each", "type": "iterator", "over": "{{ event.body.items }}", "steps": []}]"#,
        r#"{}"#,
        expect![[r#"
        status: succeeded
        each succeeded: [] missing=["event.body.items"]
    "#]],
    )
    .await;
    check(
        r#"[{"id": "each", "type": "iterator", "over": "{{ event.body.items }}", "steps": []}]"#,
        r#"{"items": 12}"#,
        expect![[r#"
        status: failed (step `each`: `over` must give an array, not a number)
        each failed: null error=`over` must give an array, not a number
    "#]],
    )
    .await;
}

#[tokio::test]
async fn bad_iterators_are_refused_naming_the_step() {
    check_config(r#"[{"id": "each", "type": "iterator", "max_items": 0, "steps": [{"id": "inner", "type": "delay", "for": "soon"}]}]"#, expect![[r#"
        steps[0].over: step `each`: `over` is required
        steps[0].max_items: step `each`: must be a whole number from 1 to 10000
        steps[0].steps[0].for: step `inner`: `soon` is not a duration: expected a number at `soon` (like 30s, 15m, 2h, 3d)
    "#]])
    .await;
    check_config(r#"[{"id": "each", "type": "iterator", "over": "{{ event.body.items }}", "steps": [{"id": "each", "type": "delay", "for": "1s"}]}]"#, expect![[r#"
        steps[0].steps[0].id: step id `each` is used twice
    "#]])
    .await;
}

/// Iterators inside iterators multiply: 200 x 200 elements would be 40,000 step runs, past the
/// execution's budget of 10,000, so the execution fails with the reason instead of running them.
#[tokio::test]
async fn nested_iterators_share_the_execution_step_budget() {
    let f = fixture();
    let steps = json!([{"id": "outer", "type": "iterator", "over": "{{ range(200) | list }}", "max_items": 10000, "steps": [
        {"id": "inner", "type": "iterator", "over": "{{ range(200) | list }}", "max_items": 10000, "steps": [
            {"id": "x", "type": "formatter", "kind": "math", "expression": "{{ item }} + 1"}]}]}]);
    let out: Value = api(Method::POST, &format!("/connectors/{}/simulate", f.connector))
        .json(&json!({"payload": {}, "config": {"steps": steps}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "failed", "{}", out["error"]);
    assert!(
        out["error"]
            .as_str()
            .unwrap_or_default()
            .contains("ran more than 10000 steps"),
        "{}",
        out["error"]
    );
}
