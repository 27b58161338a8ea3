//! Fuzzing that keeps the limits so: random templates, conditions and math built from the
//! pieces attackers use, run on worker-sized stacks. Every input must come back as a value or
//! an error, never a panic, a stack overflow or an allocation failure. `PROPTEST_CASES` sets
//! how many inputs each property tries (256 by default; CI runs more).

use hookflow_expr::{compile_condition, eval_math, evaluate, Templates};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Runs `f` on a thread with a tokio worker's 2 MiB stack.
fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic")
}

const PIECES: &[&str] = &[
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "for i in range(",
    "1000",
    "100000",
    ")",
    "endfor",
    "if ",
    "else",
    "endif",
    "set ns = namespace(x=[])",
    "set ns.x = ",
    "[ns.x]",
    "ns.x",
    "{'a': ns.x}",
    "dict(a=ns.x)",
    "'x'",
    " * ",
    " ~ ",
    " + ",
    "ns.x ~ ns.x",
    "(",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "|join",
    "|replace('', 'yy')",
    "|indent(",
    "|tojson",
    "|list",
    "|length",
    "|upper",
    "|format(",
    "'%9999s'",
    "event.body.a",
    "event.body.items",
    "macro f(n)",
    "endmacro",
    "f(n + 1)",
    "f(0)",
    "loop",
    "recursive",
    "set a = ",
    "a ~ a",
    "a",
    "b",
    "1",
    "-1",
    "0",
    "none",
    "true",
    " and ",
    " or ",
    " not ",
    " in ",
    "==",
    "|default(",
    "range(1, 5, 0)",
];

fn source() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..48).prop_map(|parts| parts.concat())
}

/// Whole hostile shapes with random sizes: loops that nest or grow values.
fn hostile() -> impl Strategy<Value = String> {
    let n = 0u32..200_000;
    prop_oneof![
        n.clone().prop_map(|n| format!(
            "{{% set ns = namespace(x=[]) %}}{{% for i in range({n}) %}}{{% set ns.x = [ns.x, i] %}}{{% endfor %}}{{{{ ns.x|length }}}}"
        )),
        (0u32..80).prop_map(|n| format!(
            "{{% set ns = namespace(s='ab') %}}{{% for i in range({n}) %}}{{% set ns.s = ns.s ~ ns.s %}}{{% endfor %}}{{{{ ns.s|length }}}}"
        )),
        n.clone().prop_map(|n| format!("{{{{ ('x' * {n}) | replace('', 'yyyy') | length }}}}")),
        n.prop_map(|n| format!("{{{{ (['abc'] * {n}) | join | length }}}}")),
        (1usize..400).prop_map(|n| format!("{{{{ {}1{} }}}}", "[".repeat(n), "]".repeat(n))),
        (1usize..400).prop_map(|n| format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n))),
    ]
}

fn event() -> Value {
    json!({"event": {"body": {"a": "Ann", "items": [1, 2, {"b": [3]}]}}, "steps": {}})
}

proptest! {
    #[test]
    fn templates_never_crash(source in prop_oneof![source(), hostile()]) {
        on_worker_stack(move || {
            let templates = Templates::new();
            if let Ok(template) = templates.compile(&source) {
                let rendered = templates.render(&template, &event());
                assert!(rendered.text().len() <= hookflow_expr::TEMPLATE_MAX_OUTPUT, "{source}");
            }
        });
    }

    #[test]
    fn conditions_never_crash(left in source(), right in source(), op in prop::sample::select(&[
        "equals", "not_equals", "contains", "gt", "lt", "ge", "le", "matches", "exists", "is_empty", "in", "bogus",
    ][..]), depth in 0usize..40) {
        on_worker_stack(move || {
            let mut node = json!({"left": left, "op": op, "right": right});
            for _ in 0..depth {
                node = json!({"match": "any", "conditions": [node]});
            }
            let templates = Templates::new();
            if let Ok(compiled) = compile_condition(&templates, &node) {
                let _ = evaluate(&templates, &compiled, &event());
            }
        });
    }

    #[test]
    fn math_never_crashes(parts in prop::collection::vec(prop::sample::select(&[
        "1", "2.5", "-", "+", "*", "/", "%", "^", "(", ")", " ", "1e308", "0", "abs(", "round(", ",", "x",
    ][..]), 0..64), depth in 0usize..5000) {
        on_worker_stack(move || {
            let _ = eval_math(&parts.concat());
            let _ = eval_math(&format!("{}1{}", "(".repeat(depth), ")".repeat(depth)));
        });
    }
}
