//! The `counter` kind: the step only names the counter; the engine does the storage.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn increment_and_read() {
    check(
        r#"{"kind": "counter", "name": "orders"}"#,
        EVENT,
        expect![[r#"
        input: {"name":"orders"}
        counter: name="orders" by=1 read_only=false
    "#]],
    );
    check(
        r#"{"kind": "counter", "operation": "increment", "name": "orders_{{ event.body.customer.country }}", "by": 2.5}"#,
        EVENT,
        expect![[r#"
            input: {"name":"orders_fr","by":2.5}
            counter: name="orders_fr" by=2.5 read_only=false
        "#]],
    );
    check(
        r#"{"kind": "counter", "operation": "increment", "name": "stock", "by": "-{{ event.body.order.quantity }}"}"#,
        EVENT,
        expect![[r#"
            input: {"name":"stock","by":"-3"}
            counter: name="stock" by=-3 read_only=false
        "#]],
    );
    check(
        r#"{"kind": "counter", "name": "  spaced  ", "by": "-1"}"#,
        EVENT,
        expect![[r#"
            input: {"name":"  spaced  ","by":"-1"}
            counter: name="spaced" by=-1 read_only=false
        "#]],
    );
    check(
        r#"{"kind": "counter", "operation": "read", "name": "orders"}"#,
        EVENT,
        expect![[r#"
        input: {"name":"orders"}
        counter: name="orders" by=0 read_only=true
    "#]],
    );
}

#[test]
fn bad_runs() {
    check(
        r#"{"kind": "counter", "name": "{{ contact.counter }}"}"#,
        EVENT,
        expect![[r#"
            input: {"name":null}
            error: name is empty
            missing: contact.counter
        "#]],
    );
    check(
        r#"{"kind": "counter", "name": "orders", "by": "{{ event.custom_variables.by }}"}"#,
        EVENT,
        expect![[r#"
            input: {"name":"orders","by":"abc"}
            error: by `abc` is not a number
        "#]],
    );
    check(
        r#"{"kind": "counter", "name": "orders", "by": "{{ event.body.order.items }}"}"#,
        EVENT,
        expect![[r#"
            input: {"name":"orders","by":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gift":true}]}
            error: by `[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gi…` is not a number
        "#]],
    );
    check(
        r#"{"kind": "counter", "name": "{{ 'x' * 201 }}"}"#,
        EVENT,
        expect![[r#"
            input: {"name":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
            error: name `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…` is longer than 200 characters
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "counter"}"#,
        expect![[r#"
        name: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "counter", "operation": "decrement", "name": "a"}"#,
        expect![[r#"
        operation: unknown operation `decrement`; operations of counter: increment, read
    "#]],
    );
    check_config(
        r#"{"kind": "counter", "name": "a", "by": "abc"}"#,
        expect![[r#"
        by: `abc` is not a number
    "#]],
    );
    check_config(
        r#"{"kind": "counter", "name": "a", "by": true}"#,
        expect![[r#"
        by: `true` is not a number
    "#]],
    );
    check_config(
        r#"{"kind": "counter", "name": "a", "step": 1}"#,
        expect![[r#"
        step: unknown field; counter `increment` takes name, by
    "#]],
    );
    check_config(
        r#"{"kind": "counter", "name": "{{ a }"}"#,
        expect![[r#"
        name: line 1, column 6: unexpected `}`, expected end of variable block
    "#]],
    );
}
