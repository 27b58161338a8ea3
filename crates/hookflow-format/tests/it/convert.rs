//! The `convert` kind.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn base64() {
    check(
        r#"{"kind": "convert", "operation": "base64_encode", "input": "héllo?>"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"héllo?>"}
            output: {"value":"aMOpbGxvPz4="}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_encode", "input": "héllo?>", "url_safe": true}"#,
        EVENT,
        expect![[r#"
            input: {"input":"héllo?>","url_safe":true}
            output: {"value":"aMOpbGxvPz4"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_encode", "input": "héllo", "encoding": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"héllo","encoding":"latin1"}
            output: {"value":"aOlsbG8="}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_encode", "input": "€", "encoding": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"€","encoding":"latin1"}
            error: the text has `€`, which latin1 cannot encode
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "{{ event.body.b64 }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"aGVsbG8gd29ybGQ="}
            output: {"value":"hello world"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "aMOpbGxvPz4\n"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"aMOpbGxvPz4\n"}
            output: {"value":"héllo?>"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "aMOpbGxvPz4_"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"aMOpbGxvPz4_"}
            output: {"value":"héllo?>?"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "6Q=="}"#,
        EVENT,
        expect![[r#"
            input: {"input":"6Q=="}
            error: the decoded bytes are not UTF-8 text (set encoding to latin1 to read them as ISO-8859-1)
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "6Q==", "encoding": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"6Q==","encoding":"latin1"}
            output: {"value":"é"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "not base64!"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"not base64!"}
            error: input `not base64!` is not base64: Invalid symbol 33, offset 9.
        "#]],
    );
}

#[test]
fn hex() {
    check(
        r#"{"kind": "convert", "operation": "hex_encode", "input": "hé"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"hé"}
            output: {"value":"68c3a9"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "hex_encode", "input": "hé", "encoding": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"hé","encoding":"latin1"}
            output: {"value":"68e9"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "hex_decode", "input": "68 C3 A9"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"68 C3 A9"}
            output: {"value":"hé"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "hex_decode", "input": "0x68e9", "encoding": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"0x68e9","encoding":"latin1"}
            output: {"value":"hé"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "hex_decode", "input": "6"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"6"}
            error: input `6` is not hex: Odd number of digits
        "#]],
    );
}

#[test]
fn csv() {
    check(
        r#"{"kind": "convert", "operation": "csv_to_json", "input": "{{ event.body.csv }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"sku,qty\nA-1,2\nB-2,1\n"}
            output: {"value":[{"sku":"A-1","qty":"2"},{"sku":"B-2","qty":"1"}]}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "csv_to_json", "input": "a;b\n1;2", "delimiter": ";", "header": false}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a;b\n1;2","delimiter":";","header":false}
            output: {"value":[["a","b"],["1","2"]]}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "json_to_csv", "input": "{{ event.body.order.items }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gift":true}]}
            output: {"value":"sku,qty,price,gift\nA-1,2,9.99,\nB-2,1,,true"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "json_to_csv", "input": "[{\"name\": \"Lee, Ann\", \"note\": \"said \\\"hi\\\"\\nbye\"}, {\"name\": null, \"extra\": [1]}]", "header": false}"#,
        EVENT,
        expect![[r#"
            input: {"input":"[{\"name\": \"Lee, Ann\", \"note\": \"said \\\"hi\\\"\\nbye\"}, {\"name\": null, \"extra\": [1]}]","header":false}
            output: {"value":"\"Lee, Ann\",\"said \"\"hi\"\"\nbye\",\n,,[1]"}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "json_to_csv", "input": "{{ event.body.order.skus }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":["A-1","B-2","C-3"]}
            error: input element 0 is `A-1`, not an object
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "json_to_csv", "input": "{\"a\": 1}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"a\": 1}"}
            error: input `{"a":1}` is not an array of objects
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "json_to_csv", "input": "not json"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"not json"}
            error: input `not json` is not JSON: expected ident at line 1 column 2
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "json_to_csv", "input": "[]", "delimiter": ";"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"[]","delimiter":";"}
            output: {"value":""}
        "#]],
    );
}

#[test]
fn text_encoding() {
    check(
        r#"{"kind": "convert", "operation": "text_encoding", "input": "6Q==", "from": "latin1", "to": "utf8"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"6Q==","from":"latin1","to":"utf8"}
            output: {"value":"w6k="}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "text_encoding", "input": "w6k=", "from": "utf8", "to": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"w6k=","from":"utf8","to":"latin1"}
            output: {"value":"6Q=="}
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "text_encoding", "input": "6Q==", "from": "utf8", "to": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"6Q==","from":"utf8","to":"latin1"}
            error: the decoded bytes are not UTF-8 text (from is utf8)
        "#]],
    );
    check(
        r#"{"kind": "convert", "operation": "text_encoding", "input": "4oKs", "from": "utf8", "to": "latin1"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"4oKs","from":"utf8","to":"latin1"}
            error: the text has `€`, which latin1 cannot encode
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "convert", "operation": "rot13", "input": "a"}"#,
        expect![[r#"
        operation: unknown operation `rot13`; operations of convert: base64_encode, base64_decode, hex_encode, hex_decode, csv_to_json, json_to_csv, text_encoding
    "#]],
    );
    check_config(
        r#"{"kind": "convert", "operation": "base64_encode"}"#,
        expect![[r#"
        input: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "a", "encoding": "utf16"}"#,
        expect![[r#"
            encoding: `utf16` is not an encoding; encodings: utf8, latin1
        "#]],
    );
    check_config(
        r#"{"kind": "convert", "operation": "base64_decode", "input": "a", "url_safe": true}"#,
        expect![[r#"
            url_safe: unknown field; convert `base64_decode` takes input, encoding
        "#]],
    );
    check_config(
        r#"{"kind": "convert", "operation": "text_encoding", "input": "a", "from": "latin1"}"#,
        expect![[r#"
        to: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "convert", "operation": "text_encoding", "input": "a", "from": "ascii", "to": "utf8"}"#,
        expect![[r#"
            from: `ascii` is not an encoding; encodings: utf8, latin1
        "#]],
    );
    check_config(
        r#"{"kind": "convert", "operation": "json_to_csv", "input": "a", "delimiter": ";;"}"#,
        expect![[r#"
            delimiter: `;;` must be exactly one character
        "#]],
    );
}
