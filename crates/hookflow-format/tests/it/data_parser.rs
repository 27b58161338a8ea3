//! The `data_parser` kind.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn json() {
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{{ event.body.json_text }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"a\": {\"b\": [1, 2]}, \"smtp-id\": \"<x@y>\"}"}
            output: {"value":{"a":{"b":[1,2]},"smtp-id":"<x@y>"}}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{{ event.body.json_text }}", "path": "a.b[-1]"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"a\": {\"b\": [1, 2]}, \"smtp-id\": \"<x@y>\"}","path":"a.b[-1]"}
            output: {"value":2}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{{ event.body.json_text }}", "path": "[\"smtp-id\"]"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"a\": {\"b\": [1, 2]}, \"smtp-id\": \"<x@y>\"}","path":"[\"smtp-id\"]"}
            output: {"value":"<x@y>"}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{{ event.body.json_text }}", "path": "a.c.d"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"a\": {\"b\": [1, 2]}, \"smtp-id\": \"<x@y>\"}","path":"a.c.d"}
            output: {"value":null}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "[1, 2"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"[1, 2"}
            error: input is not valid JSON: EOF while parsing a list at line 1 column 5
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{{ event.body.order.items }}", "path": "[1].sku"}"#,
        EVENT,
        expect![[r#"
            input: {"input":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"gift":true}],"path":"[1].sku"}
            output: {"value":"B-2"}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{{ event.body.nope }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":null}
            output: {"value":null}
            missing: event.body.nope
        "#]],
    );
}

#[test]
fn csv() {
    check(
        r#"{"kind": "data_parser", "format": "csv", "input": "{{ event.body.csv }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"sku,qty\nA-1,2\nB-2,1\n"}
            output: {"value":[{"sku":"A-1","qty":"2"},{"sku":"B-2","qty":"1"}]}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "csv", "input": "{{ event.body.csv }}", "path": "[0].qty"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"sku,qty\nA-1,2\nB-2,1\n","path":"[0].qty"}
            output: {"value":"2"}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "csv", "input": "name;note\r\n\"Lee; Ann\";\"said \"\"hi\"\"\nthen left\"\r\nBob\r\nCy;x;extra\r\n", "delimiter": ";"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"name;note\r\n\"Lee; Ann\";\"said \"\"hi\"\"\nthen left\"\r\nBob\r\nCy;x;extra\r\n","delimiter":";"}
            output: {"value":[{"name":"Lee; Ann","note":"said \"hi\"\nthen left"},{"name":"Bob","note":null},{"name":"Cy","note":"x","column_3":"extra"}]}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "csv", "input": "a\tb\n1\t2", "delimiter": "\t", "header": false}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a\tb\n1\t2","delimiter":"\t","header":false}
            output: {"value":[["a","b"],["1","2"]]}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "csv", "input": "a,b\n\"1,2"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a,b\n\"1,2"}
            error: input is not valid CSV: the quoted field starting on line 2 is not closed
        "#]],
    );
}

#[test]
fn xml() {
    check(
        r#"{"kind": "data_parser", "format": "xml", "input": "{{ event.body.xml }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"<order><id>7</id><item>a</item><item>b</item></order>"}
            output: {"value":{"order":{"id":"7","item":["a","b"]}}}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "xml", "input": "{{ event.body.xml }}", "path": "order.item[1]"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"<order><id>7</id><item>a</item><item>b</item></order>","path":"order.item[1]"}
            output: {"value":"b"}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "xml", "input": "<a><b></a>"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"<a><b></a>"}
            error: input is not valid XML: invalid XML at byte 6: ill-formed document: expected `</b>`, but `</a>` was found
        "#]],
    );
}

#[test]
fn kv_and_form() {
    check(
        r#"{"kind": "data_parser", "format": "kv", "input": "name = Ann Lee\ncity=Paris\n\ntag=a\ntag=b\nflag"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"name = Ann Lee\ncity=Paris\n\ntag=a\ntag=b\nflag"}
            output: {"value":{"name":"Ann Lee","city":"Paris","tag":["a","b"],"flag":""}}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "kv", "input": "a=1%202&b=x+y", "decode": true, "path": "a"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a=1%202&b=x+y","decode":true,"path":"a"}
            output: {"value":"1 2"}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "kv", "input": "a=1%202;b=2=3", "separator": ";"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a=1%202;b=2=3","separator":";"}
            output: {"value":{"a":"1%202","b":"2=3"}}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "form", "input": "name=Ann+Lee&email=ann%40example.com&tag=a&tag=b"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"name=Ann+Lee&email=ann%40example.com&tag=a&tag=b"}
            output: {"value":{"name":"Ann Lee","email":"ann@example.com","tag":["a","b"]}}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "form", "input": "data[name]=x", "path": "[\"data[name]\"]"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"data[name]=x","path":"[\"data[name]\"]"}
            output: {"value":"x"}
        "#]],
    );
}

#[test]
fn paths() {
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{\"items\": [{\"sku\": \"A\"}], \"a.b\": 1, \"0\": \"zero\"}", "path": "items.0.sku"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"items\": [{\"sku\": \"A\"}], \"a.b\": 1, \"0\": \"zero\"}","path":"items.0.sku"}
            output: {"value":"A"}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{\"a.b\": {\"c]\": 2}}", "path": "['a.b'][\"c]\"]"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"a.b\": {\"c]\": 2}}","path":"['a.b'][\"c]\"]"}
            output: {"value":2}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "{\"0\": \"zero\"}", "path": "[0]"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"{\"0\": \"zero\"}","path":"[0]"}
            output: {"value":"zero"}
        "#]],
    );
    check(
        r#"{"kind": "data_parser", "format": "json", "input": "[1]", "path": "{{ event.body.order.status }}["}"#,
        EVENT,
        expect![[r#"
            input: {"input":"[1]","path":"PAID["}
            error: path `PAID[` is not a valid path: brackets hold an index like [0] or a quoted key like ["a-b"]
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "data_parser", "format": "yaml", "input": "a"}"#,
        expect![[r#"
        format: unknown format `yaml`; formats of data_parser: json, csv, xml, kv, form
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "json"}"#,
        expect![[r#"
        input: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "json", "input": "a", "delimiter": ";"}"#,
        expect![[r#"
        delimiter: unknown field; data_parser `json` takes input, path
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "csv", "input": "a", "delimiter": ";;"}"#,
        expect![[r#"
        delimiter: `;;` must be exactly one character
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "csv", "input": "a", "header": "yes"}"#,
        expect![[r#"
        header: `yes` is not true or false
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "json", "input": "a", "path": "a..b"}"#,
        expect![[r#"
        path: `a..b` is not a valid path: two dots in a row
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "json", "input": "a", "path": "a[x]"}"#,
        expect![[r#"
        path: `a[x]` is not a valid path: brackets hold an index like [0] or a quoted key like ["a-b"]
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "json", "input": "a", "path": "a[0]b"}"#,
        expect![[r#"
        path: `a[0]b` is not a valid path: a name must follow a dot
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "format": "json", "input": "a", "path": "a."}"#,
        expect![[r#"
        path: `a.` is not a valid path: it ends with a dot
    "#]],
    );
    check_config(
        r#"{"kind": "data_parser", "operation": "json", "input": "a"}"#,
        expect![[r#"
        format: missing required field; formats of data_parser: json, csv, xml, kv, form
    "#]],
    );
}
