//! The attribute list of a JSON value, for pickers.

use serde::Serialize;
use serde_json::Value;

/// One value a template can use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribute {
    /// Template expression relative to `event`: `body.order.id`, `body["smtp-id"]`, `body[0]`.
    pub path: String,
    /// `{{ event.<path> }}`.
    pub template: String,
    /// `string`, `integer`, `number`, `boolean`, `null`, `object` or `array`.
    pub kind: &'static str,
    /// The value of a leaf; `null` for objects and arrays.
    pub sample: Value,
}

/// Words that cannot follow a dot in a template path because the template language reads them
/// as keywords or literals.
const RESERVED: &[&str] = &[
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else", "loop",
];

/// Lists every node of `value` below the root, depth first in document order: objects, arrays
/// and leaves. Only the first `max_array_items` elements of each array are listed (the array
/// itself always is). A root that is not an object or array is listed itself, with path
/// `prefix`, as the body of a plain text request has nothing else to pick.
///
/// `prefix` is the path of `value` under `event` (`body`, `custom_variables`, `headers`); it is
/// used as given.
pub fn attributes(prefix: &str, value: &Value, max_array_items: usize) -> Vec<Attribute> {
    let mut out = Vec::new();
    if !matches!(value, Value::Object(_) | Value::Array(_)) {
        out.push(attribute(prefix.to_owned(), value));
        return out;
    }
    // An explicit stack rather than recursion: values may be nested arbitrarily deep.
    let mut stack: Vec<(String, &Value)> = Vec::new();
    push_children(&mut stack, prefix, value, max_array_items);
    while let Some((path, node)) = stack.pop() {
        push_children(&mut stack, &path, node, max_array_items);
        out.push(attribute(path, node));
    }
    out
}

/// Pushes the children of `node` so that the first child is popped first.
fn push_children<'a>(stack: &mut Vec<(String, &'a Value)>, path: &str, node: &'a Value, max_array_items: usize) {
    match node {
        Value::Object(map) => {
            let children: Vec<_> = map.iter().map(|(k, v)| (key_path(path, k), v)).collect();
            stack.extend(children.into_iter().rev());
        }
        Value::Array(items) => {
            let children = items.iter().take(max_array_items).enumerate();
            let children: Vec<_> = children.map(|(i, v)| (format!("{path}[{i}]"), v)).collect();
            stack.extend(children.into_iter().rev());
        }
        _ => {}
    }
}

fn attribute(path: String, value: &Value) -> Attribute {
    let (kind, sample) = match value {
        Value::Null => ("null", Value::Null),
        Value::Bool(_) => ("boolean", value.clone()),
        Value::Number(n) if n.is_f64() => ("number", value.clone()),
        Value::Number(_) => ("integer", value.clone()),
        Value::String(_) => ("string", value.clone()),
        Value::Array(_) => ("array", Value::Null),
        Value::Object(_) => ("object", Value::Null),
    };
    Attribute {
        template: format!("{{{{ event.{path} }}}}"),
        path,
        kind,
        sample,
    }
}

/// `parent.key` for plain identifiers, `parent["key"]` for anything else.
fn key_path(parent: &str, key: &str) -> String {
    if is_plain_identifier(key) {
        format!("{parent}.{key}")
    } else {
        let quoted = Value::String(key.to_owned()).to_string();
        format!("{parent}[{quoted}]")
    }
}

fn is_plain_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !RESERVED.contains(&key)
}
