//! The `math` kind.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn expressions() {
    check(
        r#"{"kind": "math", "expression": "{{ event.body.order.quantity }} * {{ event.body.order.price }}"}"#,
        EVENT,
        expect![[r#"
            input: {"expression":"3 * 19.99"}
            output: {"value":59.97}
        "#]],
    );
    check(
        r#"{"kind": "math", "expression": "{{ event.body.order.quantity }} * {{ event.body.order.price }}", "round": 1}"#,
        EVENT,
        expect![[r#"
            input: {"expression":"3 * 19.99","round":1}
            output: {"value":60}
        "#]],
    );
    check(
        r#"{"kind": "math", "expression": "2.675", "round": 2}"#,
        EVENT,
        expect![[r#"
        input: {"expression":"2.675","round":2}
        output: {"value":2.68}
    "#]],
    );
    check(
        r#"{"kind": "math", "expression": "-2.5", "round": 0}"#,
        EVENT,
        expect![[r#"
        input: {"expression":"-2.5","round":0}
        output: {"value":-3}
    "#]],
    );
    check(
        r#"{"kind": "math", "expression": "10 / 4", "round": "{{ 0 }}"}"#,
        EVENT,
        expect![[r#"
        input: {"expression":"10 / 4","round":0}
        output: {"value":3}
    "#]],
    );
    check(
        r#"{"kind": "math", "expression": "1e21 / 3", "round": 2}"#,
        EVENT,
        expect![[r#"
        input: {"expression":"1e21 / 3","round":2}
        output: {"value":3.333333333333333e+20}
    "#]],
    );
    check(
        r#"{"kind": "math", "expression": "max(3, {{ event.body.order.total }})"}"#,
        EVENT,
        expect![[r#"
        input: {"expression":"max(3, 149.5)"}
        output: {"value":149.5}
    "#]],
    );
}

#[test]
fn bad_runs() {
    check(
        r#"{"kind": "math", "expression": "{{ event.body.order.nope }} * 2"}"#,
        EVENT,
        expect![[r#"
            input: {"expression":" * 2"}
            error: expression ` * 2` cannot be computed: column 2: unexpected `*`, expected a number
            missing: event.body.order.nope
        "#]],
    );
    check(
        r#"{"kind": "math", "expression": "{{ event.body.order.status }} + 1"}"#,
        EVENT,
        expect![[r#"
            input: {"expression":"PAID + 1"}
            error: expression `PAID + 1` cannot be computed: column 1: unknown name `PAID`
        "#]],
    );
    check(
        r#"{"kind": "math", "expression": "1 / 0"}"#,
        EVENT,
        expect![[r#"
        input: {"expression":"1 / 0"}
        error: expression `1 / 0` cannot be computed: column 3: division by zero
    "#]],
    );
    check(
        r#"{"kind": "math", "expression": "1", "round": "{{ event.body.order.total }}"}"#,
        EVENT,
        expect![[r#"
            input: {"expression":"1","round":149.5}
            error: round `149.5` must be a whole number of digits from 0 to 10
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "math"}"#,
        expect![[r#"
        expression: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "math", "expression": "1", "round": 11}"#,
        expect![[r#"
        round: `11` must be a whole number of digits from 0 to 10
    "#]],
    );
    check_config(
        r#"{"kind": "math", "expression": "1", "round": -1}"#,
        expect![[r#"
        round: `-1` must be a whole number of digits from 0 to 10
    "#]],
    );
    check_config(
        r#"{"kind": "math", "expression": "1", "round": 1.5}"#,
        expect![[r#"
        round: `1.5` must be a whole number of digits from 0 to 10
    "#]],
    );
    check_config(
        r#"{"kind": "math", "expression": "1", "digits": 2}"#,
        expect![[r#"
        digits: unknown field; math takes expression, round
    "#]],
    );
    check_config(
        r#"{"kind": "math", "expression": "{{ 1 +* 2 }}"}"#,
        expect![[r#"
        expression: line 1, column 7: unexpected `*`
    "#]],
    );
}
