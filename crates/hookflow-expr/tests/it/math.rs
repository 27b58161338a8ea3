//! Math expressions of the `math` formatter.

use expect_test::{expect, Expect};
use hookflow_expr::{eval_math, Templates};

use crate::utils::{json, EVENT};

/// Renders `expression` as a template over `EVENT` (as the math formatter
/// does), evaluates the text and prints the number or the error.
fn check(expression: &str, expect: Expect) {
    let rendered = Templates::new()
        .render_str(expression, &json(EVENT))
        .expect("template compiles");
    let actual = match eval_math(&rendered.text()) {
        Ok(value) => format!("{value}\n"),
        Err(e) => format!("error: {e}\n"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn precedence_and_associativity() {
    check(
        "1 + 2 * 3",
        expect![[r#"
        7
    "#]],
    );
    check(
        "(1 + 2) * 3",
        expect![[r#"
        9
    "#]],
    );
    check(
        "10 - 4 - 3",
        expect![[r#"
        3
    "#]],
    );
    check(
        "2 ^ 3 ^ 2",
        expect![[r#"
        512
    "#]],
    );
    check(
        "-2 ^ 2",
        expect![[r#"
        -4
    "#]],
    );
    check(
        "2 ^ -1",
        expect![[r#"
        0.5
    "#]],
    );
    check(
        "-(3 - 5) * +2",
        expect![[r#"
        4
    "#]],
    );
    check(
        "7 % 3 + -7 % 3 + 7 % -3",
        expect![[r#"
        1
    "#]],
    );
    check(
        "5.5 % 2",
        expect![[r#"
        1.5
    "#]],
    );
    check(
        "10 / 4",
        expect![[r#"
        2.5
    "#]],
    );
    check(
        "10 / 5",
        expect![[r#"
        2
    "#]],
    );
    check(
        "2.5 * 2",
        expect![[r#"
        5
    "#]],
    );
    check(
        "0.1 + 0.2",
        expect![[r#"
        0.30000000000000004
    "#]],
    );
    check(
        "1.5e3 + .5 + 5. + 2E-1",
        expect![[r#"
        1505.7
    "#]],
    );
    check(
        "9223372036854775807 + 1",
        expect![[r#"
        9.223372036854776e+18
    "#]],
    );
    check(
        "2 ^ 62",
        expect![[r#"
        4611686018427387904
    "#]],
    );
}

#[test]
fn functions_and_rounding() {
    check(
        "round(2.5) + round(-2.5)",
        expect![[r#"
        0
    "#]],
    );
    check(
        "round(2.675, 2)",
        expect![[r#"
        2.68
    "#]],
    );
    check(
        "round(1.005, 2)",
        expect![[r#"
        1.01
    "#]],
    );
    check(
        "round(10 / 3, 4)",
        expect![[r#"
        3.3333
    "#]],
    );
    check(
        "round(1234.5, -2)",
        expect![[r#"
        1200
    "#]],
    );
    check(
        "round(7, 2)",
        expect![[r#"
        7
    "#]],
    );
    check(
        "floor(-2.5) + ceil(2.1) + abs(-4)",
        expect![[r#"
        4
    "#]],
    );
    check(
        "floor(2.7)",
        expect![[r#"
        2
    "#]],
    );
    check(
        "min(3, 1.5, 2) + max(-1, -7)",
        expect![[r#"
        0.5
    "#]],
    );
    check(
        "sqrt(16) + sqrt(2)",
        expect![[r#"
        5.414213562373095
    "#]],
    );
    check(
        "max(4)",
        expect![[r#"
        4
    "#]],
    );
}

#[test]
fn templated_expressions() {
    check(
        "{{ item.quantity }} * {{ item.price }}",
        expect![[r#"
        7.5
    "#]],
    );
    check(
        "{{ event.body.order.total }} * 1.18",
        expect![[r#"
        176.41
    "#]],
    );
    check(
        "{% for li in event.body.order.line_items %}{{ li.quantity }} * {{ li.price }} + {% endfor %}0",
        expect![[r#"
            119.98
        "#]],
    );
    check(
        "{{ item.quantity }} * {{ item.missing }}",
        expect![[r#"
        error: column 5: unexpected end of expression, expected a number
    "#]],
    );
}

#[test]
fn errors() {
    check(
        "",
        expect![[r#"
        error: the expression is empty
    "#]],
    );
    check(
        "   ",
        expect![[r#"
        error: the expression is empty
    "#]],
    );
    check(
        "1 / 0",
        expect![[r#"
        error: column 3: division by zero
    "#]],
    );
    check(
        "5 % (2 - 2)",
        expect![[r#"
        error: column 3: division by zero
    "#]],
    );
    check(
        "2 * $3",
        expect![[r#"
        error: column 5: unexpected character `$`
    "#]],
    );
    check(
        "2 * abc",
        expect![[r#"
        error: column 5: unknown name `abc`
    "#]],
    );
    check(
        "foo(1)",
        expect![[r#"
        error: column 1: unknown function `foo`; functions: abs, ceil, floor, max, min, round, sqrt
    "#]],
    );
    check(
        "round(1, 2, 3)",
        expect![[r#"
        error: column 1: round() takes 1 or 2 arguments, got 3
    "#]],
    );
    check(
        "round(1.5, 0.5)",
        expect![[r#"
        error: column 1: round(): the number of digits must be a whole number, got 0.5
    "#]],
    );
    check(
        "sqrt(-1)",
        expect![[r#"
        error: column 1: sqrt() of a negative number (-1)
    "#]],
    );
    check(
        "min()",
        expect![[r#"
        error: column 1: min() needs at least 1 argument
    "#]],
    );
    check(
        "(1 + 2",
        expect![[r#"
        error: column 7: unexpected end of expression, expected `)`
    "#]],
    );
    check(
        "1 + 2)",
        expect![[r#"
        error: column 6: unexpected `)`, expected an operator
    "#]],
    );
    check(
        "1 2",
        expect![[r#"
        error: column 3: unexpected `2`, expected an operator
    "#]],
    );
    check(
        "1.2.3",
        expect![[r#"
        error: column 1: `1.2.3` is not a number
    "#]],
    );
    check(
        "10 ^ 400",
        expect![[r#"
        error: the result is not a finite number
    "#]],
    );
    check(
        "abs(1",
        expect![[r#"
        error: column 6: unexpected end of expression, expected `,` or `)`
    "#]],
    );
    check(
        &"(".repeat(300),
        expect![[r#"
        error: column 201: the expression is nested too deeply
    "#]],
    );
}
