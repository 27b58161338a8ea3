use expect_test::expect;

use super::{check, check_config};

#[tokio::test]
async fn operations_are_recorded_not_performed() {
    check(r#"[{"id": "put", "type": "storage", "operation": "set", "key": "last_order_{{ event.body.shop }}", "value": "{{ event.body.order }}"},
 {"id": "bump", "type": "storage", "operation": "increment", "key": "orders", "by": "{{ event.body.qty }}"},
 {"id": "read", "type": "storage", "operation": "get", "key": "last_order_{{ event.body.shop }}"},
 {"id": "drop", "type": "storage", "operation": "delete", "key": "orders"}]"#,
        r#"{"shop": "s1", "order": {"id": 7}, "qty": 3}"#, expect![[r#"
            status: succeeded
            put succeeded: {"value":{"id":7}}
            bump succeeded: {"value":3}
            read succeeded: {"value":null}
            drop succeeded: {"value":null}
            side effect: {"step":"put","storage":"set","key":"last_order_s1","value":{"id":7}}
            side effect: {"step":"bump","storage":"increment","key":"orders","by":3}
            side effect: {"step":"drop","storage":"delete","key":"orders"}
        "#]])
    .await;
}

#[tokio::test]
async fn bad_values_fail_the_step() {
    check(r#"[{"id": "bump", "type": "storage", "operation": "increment", "key": "orders", "by": "{{ event.body.qty }}"}]"#,
        r#"{"qty": "three"}"#, expect![[r#"
            status: failed (step `bump`: `by` must be a number, not "three")
            bump failed: null error=`by` must be a number, not "three"
        "#]])
    .await;
    check(
        r#"[{"id": "put", "type": "storage", "operation": "set", "key": "{{ event.body.nothing }}", "value": 1}]"#,
        r#"{}"#,
        expect![[r#"
        status: failed (step `put`: the key rendered empty)
        put failed: null error=the key rendered empty missing=["event.body.nothing"]
    "#]],
    )
    .await;
}

#[tokio::test]
async fn bad_storage_steps_are_refused_naming_the_step() {
    check_config(
        r#"[{"id": "a", "type": "storage", "operation": "upsert", "key": "k"},
 {"id": "b", "type": "storage", "operation": "set", "key": "k"},
 {"id": "c", "type": "storage", "operation": "get", "key": "k", "by": 2},
 {"id": "d", "type": "storage", "operation": "increment", "key": "k", "by": "lots"},
 {"id": "e", "type": "storage", "operation": "get"}]"#,
        expect![[r#"
     steps[0].operation: step `a`: `upsert` is not a storage operation; expected one of: get, set, increment, delete
     steps[1].value: step `b`: `set` needs a `value`
     steps[2].by: step `c`: only `increment` takes `by`
     steps[3].by: step `d`: `lots` is not a number
     steps[4].key: step `e`: `key` is required
 "#]],
    )
    .await;
}
