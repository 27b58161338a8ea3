//! Hard limits: no template crashes the process, holds unbounded memory or
//! returns a value no later reader can take. Each render runs on a thread
//! with a 2 MiB stack, the size of a tokio worker's, where an unbounded
//! nesting used to overflow the stack and abort the process.

use hookflow_expr::{Rendered, Templates, TEMPLATE_MAX_OUTPUT};
use serde_json::json;

/// Renders `source` over an empty event on a worker-sized thread.
fn render(source: &str) -> Rendered {
    let source = source.to_string();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let templates = Templates::new();
            let template = templates.compile(&source).expect("compiles");
            templates.render(&template, &json!({"event": {"body": {"n": 3}}}))
        })
        .expect("thread")
        .join()
        .expect("the render did not panic")
}

fn error_of(source: &str) -> String {
    let rendered = render(source);
    assert_eq!(rendered.errors.len(), 1, "{source}: {rendered:?}");
    rendered.errors[0].clone()
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}";
    for source in [format!("{deep}{{{{ ns.x | length }}}}"), format!("{deep}done")] {
        let error = error_of(&source);
        assert!(error.contains("nested deeper than 32 levels"), "{error}");
    }
    let maps = "{% set ns = namespace(x={}) %}{% for i in range(1000) %}{% set ns.x = {'a': ns.x} %}{% endfor %}";
    assert!(error_of(maps).contains("nested deeper than 32 levels"));
    let dicts = "{% set ns = namespace(x=1) %}{% for i in range(1000) %}{% set ns.x = dict(a=ns.x) %}{% endfor %}";
    assert!(error_of(dicts).contains("nested deeper than 32 levels"));
}

#[test]
fn shallow_nesting_still_works() {
    let source =
        "{% set ns = namespace(x=[]) %}{% for i in range(10) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | length }}";
    let rendered = render(source);
    assert!(rendered.errors.is_empty(), "{rendered:?}");
    assert_eq!(rendered.value, json!("1"));
}

#[test]
fn doubling_strings_stop_at_the_string_limit() {
    let error = error_of("{% set a = 'x' * 100000000 %}{% set b = a ~ a %}{{ b | length }}");
    assert!(error.contains("repeated string is too large"), "{error}");
    let doubling = "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}";
    assert!(error_of(doubling).contains("string over the 1 MiB limit"));
    let chained = "{% set a = 'x' * 1000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c | length }}";
    assert!(error_of(chained).contains("string over the 1 MiB limit"));
}

#[test]
fn many_strings_stop_at_the_memory_limit() {
    // Each string is under the string limit; together they pass the memory limit.
    let mut source = String::from("{% set a = 'x' * 1000000 %}");
    for i in 0..40 {
        source += &format!("{{% set v{i} = a ~ '{i}' %}}");
    }
    source += "done";
    let error = error_of(&source);
    assert!(error.contains("exceeded the 32 MiB memory limit"), "{error}");
}

#[test]
fn lazy_repeats_count_as_what_they_would_become() {
    let error = error_of("{% set a = 'x' * 1000000 %}{{ ([a] * 10000) | join }}");
    assert!(error.contains("more than 4 MiB of text"), "{error}");
    let error = error_of("{{ ([1] * 20000) | list | length }}");
    assert!(error.contains("more than 10000 items"), "{error}");
}

#[test]
fn multiplying_filters_check_before_building() {
    let error = error_of("{% set a = 'x' * 1000000 %}{{ a | replace('', 'yyyy') | length }}");
    assert!(error.contains("string over the 1 MiB limit"), "{error}");
    assert!(error_of("{{ 'a\nb' | indent(10000000000) }}").contains("1 MiB"));
    assert!(error_of("{{ 'a\nb' | indent(width=1000000) }}").contains("1 MiB"));
    assert!(error_of("{{ [1] | tojson(indent=100000000) }}").contains("1 MiB"));
    assert!(error_of("{{ '%1000000000s' | format('x') }}").contains("1 MiB"));
    assert_eq!(render("{{ 'a\nb' | indent(2, true) }}").value, json!("  a\n  b"));
    assert_eq!(render("{{ 'a-b' | replace('-', '+') }}").value, json!("a+b"));
    assert_eq!(render("{{ '%5s|' | format('x') }}").value, json!("    x|"));
    assert_eq!(render("{{ {'a': 1} | tojson }}").value, json!("{\"a\":1}"));
}

#[test]
fn output_is_cut_at_the_output_limit() {
    let source = "{% for i in range(3000) %}{{ 'x' * 1000 }}{% endfor %}";
    let rendered = render(source);
    assert_eq!(rendered.value, json!(""));
    assert_eq!(
        rendered.errors,
        vec![format!(
            "template exceeded the {} MiB output limit",
            TEMPLATE_MAX_OUTPUT >> 20
        )]
    );
    let under = render("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}");
    assert_eq!(under.text().len(), 1_000_000);
}

#[test]
fn recursion_is_shallow_and_does_not_overflow() {
    let source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
    let error = error_of(source);
    assert!(error.contains("recursion limit exceeded"), "{error}");
}

#[test]
fn nested_loops_run_out_of_fuel() {
    // With the clock far away (a debug build runs 5,000,000 instructions in more than a second).
    let templates = Templates::new().with_time_limit(std::time::Duration::from_secs(600));
    let source = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}";
    let rendered = templates.render_str(source, &json!({})).expect("compiles");
    assert_eq!(
        rendered.errors,
        ["line 1: the template ran too long (more than 5000000 steps) and was stopped"]
    );
    // With the default clock, whichever limit comes first stops it.
    let error = error_of(source);
    assert!(
        error.contains("ran too long") || error.contains("time limit"),
        "{error}"
    );
}

#[test]
fn range_keeps_minijinja_semantics() {
    assert_eq!(render("{{ range(3) | list }}").value, json!([0, 1, 2]));
    assert_eq!(render("{{ range(1, 7, 2) | list }}").value, json!([1, 3, 5]));
    assert_eq!(render("{{ range(5, 0, -2) | list }}").value, json!([5, 3, 1]));
    assert_eq!(render("{{ range(3, 1) | list }}").value, json!([]));
    assert!(error_of("{{ range(1, 5, 0) | list }}").contains("step of 0"));
    assert!(error_of("{{ range(200000) | list }}").contains("too many elements"));
    assert_eq!(render("{% for i in range(50000) %}{% endfor %}ok").value, json!("ok"));
}

#[test]
fn event_values_are_not_measured_as_template_values() {
    // A large event attribute passes through; only what the template builds is measured.
    let big: Vec<u32> = (0..50_000).collect();
    let templates = Templates::new();
    let template = templates.compile("{{ event.body.items }}").expect("compiles");
    let rendered = templates.render(&template, &json!({"event": {"body": {"items": big}}}));
    assert!(rendered.errors.is_empty());
    assert_eq!(rendered.value.as_array().map(Vec::len), Some(50_000));
}

#[test]
fn heavy_instructions_stop_at_the_time_limit() {
    // Few instructions, each working on a megabyte: fuel alone would let this run for minutes.
    let source =
        "{% set s = 'x' * 1000000 %}{% for i in range(100000) %}{% set y = s | replace('x', 'y') %}{% endfor %}done";
    let started = std::time::Instant::now();
    let error = error_of(source);
    assert!(error.contains("ran past its time limit"), "{error}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
