//! Rendering shared by the `check` helpers.

use hookflow_payload::{Attribute, ParseError, Parsed};
use serde_json::{Map, Value};

/// Renders a parse result for a snapshot: the kind, the body as pretty JSON, one line per file;
/// or the error's message.
pub(crate) fn render(result: Result<Parsed, ParseError>) -> String {
    match result {
        Ok(parsed) => {
            let mut out = format!(
                "{}\n{}\n",
                parsed.kind.as_str(),
                serde_json::to_string_pretty(&parsed.body).unwrap()
            );
            for file in &parsed.files {
                out.push_str(&format!(
                    "file field={:?} filename={:?} content_type={:?} size={} sha256={}\n",
                    file.field, file.filename, file.content_type, file.size, file.sha256
                ));
            }
            out
        }
        Err(error) => format!("error ({}): {error}\n", error.code()),
    }
}

pub(crate) fn no_query() -> Map<String, Value> {
    Map::new()
}

/// Checks that every attribute's path, evaluated by minijinja against `event`, gives back the
/// attribute's sample (leaves) or a value of its kind (objects and arrays). Returns the problems.
pub(crate) fn verify_paths(attributes: &[Attribute], event: &Value) -> Vec<String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let context = minijinja::context! { event => minijinja::Value::from_serialize(event) };
    let mut problems = Vec::new();
    for attribute in attributes {
        if attribute.template != format!("{{{{ event.{} }}}}", attribute.path) {
            problems.push(format!("{}: template {}", attribute.path, attribute.template));
        }
        let got = env
            .compile_expression(&format!("event.{}", attribute.path))
            .and_then(|expression| expression.eval(&context))
            .map(|value| serde_json::to_value(value).unwrap());
        let ok = match (&got, attribute.kind) {
            (Ok(Value::Object(_)), "object") | (Ok(Value::Array(_)), "array") => true,
            (Ok(value), _) => *value == attribute.sample,
            (Err(_), _) => false,
        };
        if !ok {
            problems.push(format!("{}: evaluates to {got:?}", attribute.path));
        }
    }
    problems
}
