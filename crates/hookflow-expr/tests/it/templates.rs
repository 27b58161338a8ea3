//! Templates: typed single expressions, text, missing attributes, errors.

use expect_test::{expect, Expect};
use hookflow_expr::Templates;

use crate::utils::{json, ARRAY_BODY, EVENT};

fn check(source: &str, expect: Expect) {
    check_in(EVENT, source, expect);
}

/// Compiles `source`, renders it twice over `ctx` (a compiled template is
/// reusable) and prints the value, its text, what was missing and the errors.
fn check_in(ctx: &str, source: &str, expect: Expect) {
    let templates = Templates::new();
    let actual = match templates.compile(source) {
        Err(e) => format!("compile error: {e}\n"),
        Ok(template) => {
            let ctx = json(ctx);
            let rendered = templates.render(&template, &ctx);
            assert_eq!(rendered, templates.render(&template, &ctx), "a second render differs");
            assert_eq!(Ok(rendered.clone()), templates.render_str(source, &ctx));
            let mut out = format!("value: {}\n", rendered.value);
            if !rendered.value.is_string() {
                out += &format!("text: {:?}\n", rendered.text());
            }
            if !rendered.missing.is_empty() {
                out += &format!("missing: {}\n", rendered.missing.join(", "));
            }
            for error in &rendered.errors {
                out += &format!("error: {error}\n");
            }
            out
        }
    };
    expect.assert_eq(&actual);
}

#[test]
fn plain_text() {
    check(
        "just text",
        expect![[r#"
        value: "just text"
    "#]],
    );
    check(
        "ends with a newline\n",
        expect![[r#"
        value: "ends with a newline\n"
    "#]],
    );
    check(
        "",
        expect![[r#"
        value: ""
    "#]],
    );
    check(
        "{ not a template }",
        expect![[r#"
        value: "{ not a template }"
    "#]],
    );
}

#[test]
fn single_expression_keeps_its_type() {
    check(
        "{{ event.body.order.id }}",
        expect![[r#"
            value: 1001
            text: "1001"
        "#]],
    );
    check(
        "{{ event.body.order.total }}",
        expect![[r#"
            value: 149.5
            text: "149.5"
        "#]],
    );
    check(
        "{{ event.body.order.big }}",
        expect![[r#"
            value: 12345678901234567890
            text: "12345678901234567890"
        "#]],
    );
    check(
        "{{ event.body.order.big_negative }}",
        expect![[r#"
            value: -9007199254740993
            text: "-9007199254740993"
        "#]],
    );
    check(
        "{{ event.body.order.paid }}",
        expect![[r#"
            value: true
            text: "true"
        "#]],
    );
    check(
        "{{ event.body.order.tags }}",
        expect![[r#"
            value: ["VIP","gift"]
            text: "[\"VIP\",\"gift\"]"
        "#]],
    );
    check(
        "{{ event.body.customer }}",
        expect![[r#"
            value: {"id":"c_42","name":"Ann Lee","email":"Ann@Example.com"}
            text: "{\"id\":\"c_42\",\"name\":\"Ann Lee\",\"email\":\"Ann@Example.com\"}"
        "#]],
    );
    check(
        "{{ event.body.order.note }}",
        expect![[r#"
            value: null
            text: ""
        "#]],
    );
    check(
        "{{ event.body.customer.name }}",
        expect![[r#"
        value: "Ann Lee"
    "#]],
    );
    check(
        "  {{- event.body.order.id -}}\n",
        expect![[r#"
            value: 1001
            text: "1001"
        "#]],
    );
    check(
        "{{ event.body.order.line_items[0] }}",
        expect![[r#"
            value: {"sku":"A-1","quantity":2,"price":9.99}
            text: "{\"sku\":\"A-1\",\"quantity\":2,\"price\":9.99}"
        "#]],
    );
    check(
        "{{ event.body.order.line_items[-1].sku }}",
        expect![[r#"
        value: "B-2"
    "#]],
    );
    check(
        r#"{{ event.body["smtp-id"] }}"#,
        expect![[r#"
        value: "<abc@mail.example>"
    "#]],
    );
    check(
        "{{ event.body.order.tags | length }}",
        expect![[r#"
            value: 2
            text: "2"
        "#]],
    );
    check(
        r#"{{ event.body.order.line_items | map(attribute="quantity") | sum }}"#,
        expect![[r#"
            value: 3
            text: "3"
        "#]],
    );
    check(
        "{{ item.quantity * item.price }}",
        expect![[r#"
            value: 7.5
            text: "7.5"
        "#]],
    );
    check(
        "{{ event.body.order.total * 2 }}",
        expect![[r#"
            value: 299.0
            text: "299.0"
        "#]],
    );
    check(
        r#"{{ event.body.order.id ~ "" }}"#,
        expect![[r#"
        value: "1001"
    "#]],
    );
    check(
        r#"{{ {"z": 1, "a": [true, none]} }}"#,
        expect![[r#"
            value: {"z":1,"a":[true,null]}
            text: "{\"z\":1,\"a\":[true,null]}"
        "#]],
    );
    check(
        "{{ index }}",
        expect![[r#"
            value: 0
            text: "0"
        "#]],
    );
    check(
        "{{ steps.crm }}",
        expect![[r#"
            value: {"status":200,"body":{"first_name":"Ann"}}
            text: "{\"status\":200,\"body\":{\"first_name\":\"Ann\"}}"
        "#]],
    );
}

#[test]
fn mixed_text() {
    check(
        "Order {{ event.body.order.id }} total {{ event.body.order.total }}",
        expect![[r#"
        value: "Order 1001 total 149.5"
    "#]],
    );
    check(
        "tags={{ event.body.order.tags }} paid={{ event.body.order.paid }} note={{ event.body.order.note }}.",
        expect![[r#"
            value: "tags=[\"VIP\",\"gift\"] paid=true note=."
        "#]],
    );
    check(
        r#"{"data": {{ event.body.customer }}, "id": {{ event.body.order.id }}}"#,
        expect![[r#"
        value: "{\"data\": {\"id\":\"c_42\",\"name\":\"Ann Lee\",\"email\":\"Ann@Example.com\"}, \"id\": 1001}"
    "#]],
    );
    check(
        r#"{{ event.body.order.id }} {{ event.body.order.id }}"#,
        expect![[r#"
        value: "1001 1001"
    "#]],
    );
    check(
        "Hi {{ steps.crm.body.first_name }}\n",
        expect![[r#"
        value: "Hi Ann\n"
    "#]],
    );
    check(
        r#"{% if event.body.order.paid %}paid{% else %}unpaid{% endif %}"#,
        expect![[r#"
            value: "paid"
        "#]],
    );
    check(
        r#"{% for li in event.body.order.line_items %}
{{ loop.index }}. {{ li.sku }} x{{ li.quantity }}
{%- endfor %}"#,
        expect![[r#"
            value: "\n1. A-1 x2\n2. B-2 x1"
        "#]],
    );
    check(
        "{% for i in range(3) %}{{ i }}{% endfor %}",
        expect![[r#"
        value: "012"
    "#]],
    );
    check(
        "{# a comment #}",
        expect![[r#"
        value: ""
    "#]],
    );
    check(
        r#"{% raw %}{{ not rendered | nosuch }}{% endraw %}"#,
        expect![[r#"
        value: "{{ not rendered | nosuch }}"
    "#]],
    );
}

#[test]
fn filters() {
    check(
        r#"{{ event.body.order.tags | join(", ") }}"#,
        expect![[r#"
        value: "VIP, gift"
    "#]],
    );
    check(
        "{{ event.body.customer.name | upper }}",
        expect![[r#"
        value: "ANN LEE"
    "#]],
    );
    check(
        "{{ event.body.customer.name | slugify }}",
        expect![[r#"
        value: "ann-lee"
    "#]],
    );
    check(
        r#"{{ "  Hello, World! Grüße --" | slugify }}"#,
        expect![[r#"
        value: "hello-world-grüße"
    "#]],
    );
    check(
        r#"{{ "hi there" | b64encode }}"#,
        expect![[r#"
        value: "aGkgdGhlcmU="
    "#]],
    );
    check(
        r#"{{ "aGkgdGhlcmU" | b64decode }}"#,
        expect![[r#"
        value: "hi there"
    "#]],
    );
    check(
        r#"{{ "aGkgdGhlcmU=" | b64decode }}"#,
        expect![[r#"
        value: "hi there"
    "#]],
    );
    check(
        r#"{{ "abc" | sha256 }}"#,
        expect![[r#"
        value: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    "#]],
    );
    check(
        "{{ event.body.order.id | sha256 }}",
        expect![[r#"
        value: "fe675fe7aaee830b6fed09b64e034f84dcbdaeb429d9cccd4ebb90e15af8dd71"
    "#]],
    );
    check(
        "{{ event.body.customer.email | urlencode }}",
        expect![[r#"
        value: "Ann%40Example.com"
    "#]],
    );
    check(
        "{{ event.body.customer | json }}",
        expect![[r#"
        value: "{\"id\":\"c_42\",\"name\":\"Ann Lee\",\"email\":\"Ann@Example.com\"}"
    "#]],
    );
    check(
        "{{ event.body.order.line_items[0] | json(2) }}",
        expect![[r#"
        value: "{\n  \"sku\": \"A-1\",\n  \"quantity\": 2,\n  \"price\": 9.99\n}"
    "#]],
    );
    check(
        r#"{{ {"html": "<a href='x'>"} | json }} {{ {"html": "<a href='x'>"} | tojson }}"#,
        expect![[r#"
        value: "{\"html\":\"<a href='x'>\"} {\"html\":\"\\u003ca href=\\u0027x\\u0027\\u003e\"}"
    "#]],
    );
    check(
        "{{ event.body.customer | tojson }}",
        expect![[r#"
        value: "{\"id\":\"c_42\",\"name\":\"Ann Lee\",\"email\":\"Ann@Example.com\"}"
    "#]],
    );
    check(
        r#"{{ event.body.nickname | default("friend") }}"#,
        expect![[r#"
        value: "friend"
        missing: event.body.nickname
    "#]],
    );
    check(
        "{{ event.body.amount_text | float + 1 }}",
        expect![[r#"
            value: 101.5
            text: "101.5"
        "#]],
    );
}

#[test]
fn missing_attributes() {
    check(
        "{{ event.body.customer.phone }}",
        expect![[r#"
            value: null
            text: ""
            missing: event.body.customer.phone
        "#]],
    );
    check(
        "Call {{ event.body.customer.phone }} now",
        expect![[r#"
        value: "Call  now"
        missing: event.body.customer.phone
    "#]],
    );
    check(
        "{{ event.body.shipping.address.city }}",
        expect![[r#"
            value: null
            text: ""
            missing: event.body.shipping.address.city
        "#]],
    );
    check(
        "{{ event.body.shipping.address.city }} {{ event.body.shipping.address.zip }}",
        expect![[r#"
            value: " "
            missing: event.body.shipping.address.city, event.body.shipping.address.zip
        "#]],
    );
    check(
        "{{ nosuchroot.x }}",
        expect![[r#"
            value: null
            text: ""
            missing: nosuchroot.x
        "#]],
    );
    check(
        r#"{{ event.body["x-missing"] }}"#,
        expect![[r#"
            value: null
            text: ""
            missing: event.body["x-missing"]
        "#]],
    );
    check(
        "{{ event.body.order.line_items[5].sku }}",
        expect![[r#"
            value: null
            text: ""
            missing: event.body.order.line_items[5]
        "#]],
    );
    check(
        "{{ [event.body.order.id, event.body.missing] }}",
        expect![[r#"
            value: [1001,null]
            text: "[1001,null]"
            missing: event.body.missing
        "#]],
    );
    check(
        "{% if event.body.shipping %}{{ event.body.shipping.city }}{% else %}no shipping{% endif %}",
        expect![[r#"
            value: "no shipping"
            missing: event.body.shipping
        "#]],
    );
    check(
        "{% if event.body.order.paid %}{{ event.body.order.paid_at }}{% else %}{{ event.body.order.due_at }}{% endif %}",
        expect![[r#"
            value: ""
            missing: event.body.order.paid_at
        "#]],
    );
    check(
        "{% for li in event.body.order.line_items %}[{{ li.discount }}]{% endfor %}",
        expect![[r#"
            value: "[][]"
            missing: event.body.order.line_items[0].discount, event.body.order.line_items[1].discount
        "#]],
    );
    check(
        r#"{{ event.body.customer.name | replace("Ann", event.body.customer.nickname) }}"#,
        expect![[r#"
            value: " Lee"
            missing: event.body.customer.nickname
        "#]],
    );
    check(
        r#"{{ event.body.customer.name | default(event.body.customer.nickname) }}"#,
        expect![[r#"
        value: "Ann Lee"
        missing: event.body.customer.nickname
    "#]],
    );
    check(
        "{% if event.body.customer.phone is defined %}yes{% else %}no{% endif %}",
        expect![[r#"
            value: "no"
            missing: event.body.customer.phone
        "#]],
    );
    // FIXME: an attribute of a string or number is not recorded as missing;
    // minijinja answers such lookups without asking the context.
    check(
        "{{ event.body.order.tags[0].name }}",
        expect![[r#"
            value: null
            text: ""
        "#]],
    );
}

#[test]
fn array_body() {
    check_in(
        ARRAY_BODY,
        "{{ event.body[0].email }}",
        expect![[r#"
        value: "a@example.com"
    "#]],
    );
    check_in(
        ARRAY_BODY,
        "{{ event.body[2].email }}",
        expect![[r#"
            value: null
            text: ""
            missing: event.body[2]
        "#]],
    );
    check_in(
        ARRAY_BODY,
        "{{ event.body | map(attribute='email') | join(';') }}",
        expect![[r#"
        value: "a@example.com;b@example.com"
    "#]],
    );
    check_in(
        "null",
        "{{ event.id }}",
        expect![[r#"
            value: null
            text: ""
        "#]],
    );
}

#[test]
fn runtime_errors_are_diagnostics() {
    check(
        "{{ event.body.customer.name | round }}",
        expect![[r#"
            value: null
            text: ""
            error: line 1, column 31: cannot round value (string)
        "#]],
    );
    check(
        "Total: {{ event.body.order.total / 0 }}",
        expect![[r#"
        value: ""
        error: line 1, column 11: inf is not a finite number (division by zero?)
    "#]],
    );
    check(
        "{{ 10 / 0 }}",
        expect![[r#"
            value: null
            text: ""
            error: line 1, column 4: inf is not a finite number (division by zero?)
        "#]],
    );
    check(
        "{{ 7 // 0 }}",
        expect![[r#"
            value: null
            text: ""
            error: line 1, column 4: unable to calculate 7 // 0
        "#]],
    );
    check(
        "{{ event.body.missing + 1 }}",
        expect![[r#"
            value: null
            text: ""
            missing: event.body.missing
            error: line 1, column 4: tried to use + operator on unsupported types undefined and number
        "#]],
    );
    check(
        r#"{{ "%%%" | b64decode }}"#,
        expect![[r#"
            value: null
            text: ""
            error: line 1, column 12: b64decode: not base64: Invalid symbol 37, offset 0.
        "#]],
    );
    check(
        "{{ nofunc(1) }}",
        expect![[r#"
            value: null
            text: ""
            missing: nofunc
            error: line 1, column 4: unknown function: nofunc is unknown
        "#]],
    );
    check(
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        expect![[r#"
            value: ""
            missing: f
            error: line 1, column 20: recursion limit exceeded
        "#]],
    );
}

#[test]
fn compile_errors_have_line_and_column() {
    check(
        "{{ event.body.order.id }",
        expect![[r#"
        compile error: line 1, column 24: unexpected `}`, expected end of variable block
    "#]],
    );
    check(
        "Hi {{ event.body.name | }}",
        expect![[r#"
        compile error: line 1, column 25: unexpected end of variable block, expected identifier
    "#]],
    );
    check(
        "Grüße {{ ) }}",
        expect![[r#"
        compile error: line 1, column 10: unexpected `)`
    "#]],
    );
    check(
        "Hello\n{% if event.body.x %}\nno end",
        expect![[r#"
        compile error: line 2, column 22: unexpected end of input, expected end of block
    "#]],
    );
    check(
        "{{ }}",
        expect![[r#"
        compile error: line 1, column 4: unexpected end of variable block
    "#]],
    );
    check(
        "{{ event.body.customer | upcase }}",
        expect![[r#"
        compile error: line 1, column 26: unknown filter `upcase`
    "#]],
    );
    check(
        "line 1\n  {{ x | trim | nosuch(1) }}",
        expect![[r#"
        compile error: line 2, column 17: unknown filter `nosuch`
    "#]],
    );
    check(
        "{% if event.body.x is nosuchtest %}{% endif %}",
        expect![[r#"
        compile error: line 1, column 23: unknown test `nosuchtest`
    "#]],
    );
    check(
        r#"{% include "other.txt" %}"#,
        expect![[r#"
        compile error: line 1, column 4: `include` is not supported: a template stands alone
    "#]],
    );
    check(
        "{% filter shout %}x{% endfilter %}",
        expect![[r#"
        compile error: line 1, column 11: unknown filter `shout`
    "#]],
    );
    check(
        r#"{{ "a | nosuch" ~ x.is }} {{ x is not none }} {{ {"a": {"b": 1}} | json }}"#,
        expect![[r#"
        value: "a | nosuch true {\"a\":{\"b\":1}}"
        missing: x
    "#]],
    );
}
