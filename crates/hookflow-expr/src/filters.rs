//! Filters added to minijinja's builtins, the ones Zapier and n8n users reach for.

use base64::Engine as _;
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};
use sha2::{Digest, Sha256};

use crate::track::{to_json, value_text};

/// Filters this crate adds.
pub(crate) const CUSTOM_FILTERS: &[&str] = &["b64decode", "b64encode", "json", "sha256", "slugify"];

/// Filters minijinja registers with the features this crate enables.
pub(crate) const BUILTIN_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
];

/// Tests minijinja registers with the features this crate enables.
pub(crate) const BUILTIN_TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("json", json);
    env.add_filter("slugify", slugify);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("sha256", sha256);
}

/// `value | json` or `value | json(2)`: JSON text, compact unless an indent is given.
///
/// Unlike `tojson` it does not escape `<`, `>`, `&` and `'`, as its output goes
/// into JSON bodies and logs, not HTML.
fn json(value: &Value, indent: Option<usize>) -> Result<String, Error> {
    let json = to_json(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?;
    let text = match indent {
        None => serde_json::to_string(&json),
        Some(n) => {
            let indent = " ".repeat(n);
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(&json, &mut ser).map(|()| String::from_utf8_lossy(&out).into_owned())
        }
    };
    text.map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("cannot serialize to JSON: {e}")))
}

/// `"Hello, World!" | slugify` is `hello-world`: lowercase letters and digits,
/// every other run of characters one dash, no dash at either end.
fn slugify(value: &Value) -> Result<String, Error> {
    Ok(crate::text::slugify(&text(value)?))
}

/// Standard base64 (with padding) of the text's UTF-8 bytes.
fn b64encode(value: &Value) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(text(value)?))
}

/// Decodes standard or URL-safe base64, padded or not; the result must be UTF-8 text.
fn b64decode(value: &Value) -> Result<String, Error> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let value = text(value)?;
    let trimmed = value.trim().trim_end_matches('=');
    let bytes = STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("b64decode: not base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            "b64decode: the decoded bytes are not UTF-8 text",
        )
    })
}

/// Lowercase hex SHA-256 of the text's UTF-8 bytes.
fn sha256(value: &Value) -> Result<String, Error> {
    Ok(hex::encode(Sha256::digest(text(value)?.as_bytes())))
}

/// The filter input as text, the way `{{ value }}` would print it.
fn text(value: &Value) -> Result<String, Error> {
    value_text(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names `Environment`'s debug output lists under `label`.
    fn registered(label: &str) -> Vec<String> {
        let env = crate::template::Templates::new().environment_debug();
        let start = env.find(&format!("{label}: [")).expect("label present") + label.len() + 3;
        let end = start + env[start..].find(']').expect("list closes");
        env[start..end]
            .split(", ")
            .map(|name| name.trim_matches('"').to_string())
            .filter(|name| name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()))
            .collect()
    }

    #[test]
    fn name_lists_match_the_environment() {
        let mut known: Vec<&str> = BUILTIN_FILTERS.iter().chain(CUSTOM_FILTERS).copied().collect();
        known.sort_unstable();
        assert_eq!(registered("filters"), known);
        assert_eq!(registered("tests"), BUILTIN_TESTS);
    }
}
