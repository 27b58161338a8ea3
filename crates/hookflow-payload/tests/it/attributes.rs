use expect_test::{expect, Expect};

/// Lists the attributes of a JSON document, one per line: path, kind, sample; and the template
/// of the first one. Every path must evaluate, in minijinja, to its sample.
fn check(prefix: &str, json: &str, max_array_items: usize, expect: Expect) {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let attributes = hookflow_payload::attributes(prefix, &value, max_array_items);
    let event = serde_json::json!({ prefix: value });
    let problems = crate::utils::verify_paths(&attributes, &event);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let mut out = String::new();
    if let Some(first) = attributes.first() {
        out.push_str(&format!("template of the first: {}\n", first.template));
    }
    for attribute in &attributes {
        out.push_str(&format!("{} {} {}\n", attribute.path, attribute.kind, attribute.sample));
    }
    expect.assert_eq(&out);
}

#[test]
fn nested_objects_and_arrays_in_document_order() {
    check(
        "body",
        r#"{"order": {"id": 820982911946154508, "total": 9.5, "paid": true, "note": null,
            "line_items": [{"sku": "A", "price": "1.00"}, {"sku": "B"}, {"sku": "C"}]},
            "tags": [], "z": "last"}"#,
        2,
        expect![[r#"
            template of the first: {{ event.body.order }}
            body.order object null
            body.order.id integer 820982911946154508
            body.order.total number 9.5
            body.order.paid boolean true
            body.order.note null null
            body.order.line_items array null
            body.order.line_items[0] object null
            body.order.line_items[0].sku string "A"
            body.order.line_items[0].price string "1.00"
            body.order.line_items[1] object null
            body.order.line_items[1].sku string "B"
            body.tags array null
            body.z string "last"
        "#]],
    );
}

#[test]
fn top_level_array() {
    check(
        "body",
        r#"[{"email": "a@b.c"}, [1, [2]]]"#,
        10,
        expect![[r#"
        template of the first: {{ event.body[0] }}
        body[0] object null
        body[0].email string "a@b.c"
        body[1] array null
        body[1][0] integer 1
        body[1][1] array null
        body[1][1][0] integer 2
    "#]],
    );
}

#[test]
fn awkward_keys_use_brackets() {
    check(
        "body",
        r#"{"smtp-id": "<x@y>", "true": 1, "none": 2, "and": 3, "loop": 4, "in": 5,
            "with space": 6, "a.b": 7, "0": 8, "1st": 9, "": 10, "café": 11, "日本": 12,
            "quote\"back\\slash": 13, "_ok": 14, "Ok_2": 15, "from": 16, "True": 17}"#,
        10,
        expect![[r#"
            template of the first: {{ event.body["smtp-id"] }}
            body["smtp-id"] string "<x@y>"
            body["true"] integer 1
            body["none"] integer 2
            body["and"] integer 3
            body["loop"] integer 4
            body["in"] integer 5
            body["with space"] integer 6
            body["a.b"] integer 7
            body["0"] integer 8
            body["1st"] integer 9
            body[""] integer 10
            body["café"] integer 11
            body["日本"] integer 12
            body["quote\"back\\slash"] integer 13
            body._ok integer 14
            body.Ok_2 integer 15
            body.from integer 16
            body["True"] integer 17
        "#]],
    );
}

#[test]
fn other_prefixes_and_zero_array_items() {
    check(
        "custom_variables",
        r#"{"id": ["1", "2"]}"#,
        0,
        expect![[r#"
        template of the first: {{ event.custom_variables.id }}
        custom_variables.id array null
    "#]],
    );
    check(
        "headers",
        r#"{"x-github-event": "push"}"#,
        0,
        expect![[r#"
        template of the first: {{ event.headers["x-github-event"] }}
        headers["x-github-event"] string "push"
    "#]],
    );
}

#[test]
fn xml_attribute_and_text_keys() {
    check(
        "body",
        r##"{"activity": {"id": {"@type": "integer", "#text": "7"}}}"##,
        10,
        expect![[r##"
            template of the first: {{ event.body.activity }}
            body.activity object null
            body.activity.id object null
            body.activity.id["@type"] string "integer"
            body.activity.id["#text"] string "7"
        "##]],
    );
}

#[test]
fn a_scalar_root_is_its_own_attribute() {
    check(
        "body",
        r#""plain text body""#,
        10,
        expect![[r#"
        template of the first: {{ event.body }}
        body string "plain text body"
    "#]],
    );
    check("body", "{}", 10, expect![[""]]);
    check("body", "[]", 10, expect![[""]]);
}
