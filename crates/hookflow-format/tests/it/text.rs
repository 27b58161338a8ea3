//! The `text` kind.

use expect_test::expect;

use crate::utils::{check, check_config, EVENT};

#[test]
fn case_and_trim() {
    check(
        r#"{"kind": "text", "operation": "upper", "input": "{{ event.body.customer.name }} straße"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"ann LEE straße"}
            output: {"value":"ANN LEE STRASSE"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "lower", "input": "{{ event.body.customer.email }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Ann@Example.com"}
            output: {"value":"ann@example.com"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "title", "input": "{{ event.body.customer.name }} jean-luc (o'neil) ÉLAN"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"ann LEE jean-luc (o'neil) ÉLAN"}
            output: {"value":"Ann Lee Jean-Luc (O'neil) Élan"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "capitalize", "input": "élan vital, SO it goes"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"élan vital, SO it goes"}
            output: {"value":"Élan vital, SO it goes"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "trim", "input": "{{ event.body.order.note }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"  Gift wrap, please  "}
            output: {"value":"Gift wrap, please"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "upper", "input": "{{ event.body.order.total }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":149.5}
            output: {"value":"149.5"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "upper", "input": "{{ event.body.nope }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":null}
            output: {"value":""}
            missing: event.body.nope
        "#]],
    );
}

#[test]
fn replace() {
    check(
        r#"{"kind": "text", "operation": "replace", "input": "a.b.c", "find": ".", "replace_with": "-"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a.b.c","find":".","replace_with":"-"}
            output: {"value":"a-b-c"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "replace", "input": "Paid, PAID, paid", "find": "paid", "replace_with": "$1 done", "case_insensitive": true}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Paid, PAID, paid","find":"paid","replace_with":"$1 done","case_insensitive":true}
            output: {"value":"$1 done, $1 done, $1 done"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "replace", "input": "+1 (555) 010-0100", "find": "[^0-9+]", "regex": true}"#,
        EVENT,
        expect![[r#"
            input: {"input":"+1 (555) 010-0100","find":"[^0-9+]","regex":true}
            output: {"value":"+15550100100"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "replace", "input": "2026-11-22", "find": "(?P<y>\\d+)-(\\d+)-(\\d+)", "replace_with": "$3/$2/${y}", "regex": true}"#,
        EVENT,
        expect![[r#"
            input: {"input":"2026-11-22","find":"(?P<y>\\d+)-(\\d+)-(\\d+)","replace_with":"$3/$2/${y}","regex":true}
            output: {"value":"22/11/2026"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "replace", "input": "ab", "find": "{{ event.custom_variables.pattern }}", "regex": true}"#,
        EVENT,
        expect![[r#"
            input: {"input":"ab","find":"(","regex":true}
            error: find `(` is not a valid regex: unclosed group
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "replace", "input": "ab(", "find": "{{ event.custom_variables.pattern }}", "replace_with": ")"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"ab(","find":"(","replace_with":")"}
            output: {"value":"ab)"}
        "#]],
    );
}

#[test]
fn split() {
    check(
        r#"{"kind": "text", "operation": "split", "input": "{{ event.body.order.tags }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"vip, gift ,repeat"}
            output: {"value":["vip"," gift ","repeat"],"count":3}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "split", "input": "Ann Lee Smith", "separator": " ", "index": 0}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Ann Lee Smith","separator":" ","index":0}
            output: {"value":"Ann","count":3}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "split", "input": "Ann Lee Smith", "separator": " ", "index": -1}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Ann Lee Smith","separator":" ","index":-1}
            output: {"value":"Smith","count":3}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "split", "input": "a|b", "separator": "|", "index": "{{ 5 }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a|b","separator":"|","index":5}
            output: {"value":null,"count":2}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "split", "input": "a|b", "separator": "|", "index": "{{ event.body.order.status }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a|b","separator":"|","index":"PAID"}
            error: index `PAID` is not a whole number
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "split", "input": ""}"#,
        EVENT,
        expect![[r#"
        input: {"input":""}
        output: {"value":[""],"count":1}
    "#]],
    );
}

#[test]
fn truncate() {
    check(
        r#"{"kind": "text", "operation": "truncate", "input": "Hello wonderful world", "length": 12}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Hello wonderful world","length":12}
            output: {"value":"Hello wonde…"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "truncate", "input": "Hello wonderful world", "length": 8, "suffix": "..."}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Hello wonderful world","length":8,"suffix":"..."}
            output: {"value":"Hello..."}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "truncate", "input": "Hello wonderful world", "length": 5, "suffix": ""}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Hello wonderful world","length":5,"suffix":""}
            output: {"value":"Hello"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "truncate", "input": "Hello", "length": 5}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Hello","length":5}
            output: {"value":"Hello"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "truncate", "input": "Hello", "length": 2, "suffix": "..."}"#,
        EVENT,
        expect![[r#"
            input: {"input":"Hello","length":2,"suffix":"..."}
            output: {"value":"He"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "truncate", "input": "héllo wörld", "length": "{{ 7 }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"héllo wörld","length":7}
            output: {"value":"héllo…"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "truncate", "input": "x", "length": "{{ -1 }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"x","length":-1}
            error: length `-1` must be a whole number of characters, 0 or more
        "#]],
    );
}

#[test]
fn extract() {
    check(
        r##"{"kind": "text", "operation": "extract", "input": "Order #123 and #456", "pattern": "#(\\d+)"}"##,
        EVENT,
        expect![[r##"
            input: {"input":"Order #123 and #456","pattern":"#(\\d+)"}
            output: {"value":"#123","matches":["#123","#456"]}
        "##]],
    );
    check(
        r##"{"kind": "text", "operation": "extract", "input": "Order #123 and #456", "pattern": "#(\\d+)", "group": 1}"##,
        EVENT,
        expect![[r##"
            input: {"input":"Order #123 and #456","pattern":"#(\\d+)","group":1}
            output: {"value":"123","matches":["123","456"]}
        "##]],
    );
    check(
        r#"{"kind": "text", "operation": "extract", "input": "mail ann@example.com or BOB@example.org", "pattern": "(?P<user>[a-z]+)@(?P<host>[a-z.]+)", "group": "host", "case_insensitive": true}"#,
        EVENT,
        expect![[r#"
            input: {"input":"mail ann@example.com or BOB@example.org","pattern":"(?P<user>[a-z]+)@(?P<host>[a-z.]+)","group":"host","case_insensitive":true}
            output: {"value":"example.com","matches":["example.com","example.org"]}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "extract", "input": "no digits", "pattern": "\\d+"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"no digits","pattern":"\\d+"}
            output: {"value":null,"matches":[]}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "extract", "input": "ab", "pattern": "(a)|(b)", "group": 2}"#,
        EVENT,
        expect![[r#"
            input: {"input":"ab","pattern":"(a)|(b)","group":2}
            output: {"value":null,"matches":[null,"b"]}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "extract", "input": "ab", "pattern": "{{ event.custom_variables.pattern }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"ab","pattern":"("}
            error: pattern `(` is not a valid regex: unclosed group
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "extract", "input": "ab", "pattern": "{{ 'a' }}", "group": 1}"#,
        EVENT,
        expect![[r#"
            input: {"input":"ab","pattern":"a","group":1}
            error: group `1` is not a group of the pattern (it has 0)
        "#]],
    );
}

#[test]
fn url_encoding_slugs_length_default() {
    check(
        r#"{"kind": "text", "operation": "url_encode", "input": "a b&c=d/é~_.-"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a b&c=d/é~_.-"}
            output: {"value":"a%20b%26c%3Dd%2F%C3%A9~_.-"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "url_decode", "input": "a+b%20c%26d%3D%C3%A9 %zz 100%"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"a+b%20c%26d%3D%C3%A9 %zz 100%"}
            output: {"value":"a b c&d=é %zz 100%"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "url_decode", "input": "%FF"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"%FF"}
            output: {"value":"�"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "slugify", "input": "  Hello, World! Crème brûlée -- 2026 "}"#,
        EVENT,
        expect![[r#"
            input: {"input":"  Hello, World! Crème brûlée -- 2026 "}
            output: {"value":"hello-world-crème-brûlée-2026"}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "length", "input": "héllo 👋"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"héllo 👋"}
            output: {"value":7}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "length", "input": "{{ event.body.nope }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":null}
            output: {"value":0}
            missing: event.body.nope
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "default", "input": "{{ contact.name }}", "fallback": "there"}"#,
        EVENT,
        expect![[r#"
            input: {"input":null,"fallback":"there"}
            output: {"value":"there"}
            missing: contact.name
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "default", "input": "   ", "fallback": "{{ event.body.order.skus }}"}"#,
        EVENT,
        expect![[r#"
            input: {"input":"   ","fallback":["A-1","B-2","C-3"]}
            output: {"value":["A-1","B-2","C-3"]}
        "#]],
    );
    check(
        r#"{"kind": "text", "operation": "default", "input": "{{ event.body.zero }}", "fallback": "none"}"#,
        EVENT,
        expect![[r#"
            input: {"input":0,"fallback":"none"}
            output: {"value":"0"}
        "#]],
    );
}

#[test]
fn bad_config() {
    check_config(
        r#"{"kind": "text", "operation": "upper"}"#,
        expect![[r#"
        input: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "replace", "input": "a"}"#,
        expect![[r#"
        find: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "replace", "input": "a", "find": ""}"#,
        expect![[r#"
        find: is empty
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "replace", "input": "a", "find": "(", "regex": true}"#,
        expect![[r#"
            find: `(` is not a valid regex: unclosed group
        "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "replace", "input": "a", "find": "(", "regex": "maybe"}"#,
        expect![[r#"
            regex: `maybe` is not true or false
        "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "replace", "input": "a", "find": "a", "replace": "b"}"#,
        expect![[r#"
            replace: unknown field; text `replace` takes input, find, replace_with, regex, case_insensitive
        "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "split", "input": "a", "index": "first"}"#,
        expect![[r#"
        index: `first` is not a whole number
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "truncate", "input": "a"}"#,
        expect![[r#"
        length: missing required field
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "truncate", "input": "a", "length": -3}"#,
        expect![[r#"
        length: `-3` must be a whole number of characters, 0 or more
    "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "extract", "input": "a", "pattern": "[a-"}"#,
        expect![[r#"
            pattern: `[a-` is not a valid regex: unclosed character class
        "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "extract", "input": "a", "pattern": "(a)", "group": 2}"#,
        expect![[r#"
            group: `2` is not a group of the pattern (it has 1)
        "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "extract", "input": "a", "pattern": "(a)", "group": "name"}"#,
        expect![[r#"
            group: `name` is not a named group of the pattern
        "#]],
    );
    check_config(
        r#"{"kind": "text", "operation": "default", "input": "a"}"#,
        expect![[r#"
        fallback: missing required field
    "#]],
    );
}
