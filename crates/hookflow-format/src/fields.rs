//! Step fields: JSON whose strings are templates, compiled once and rendered
//! for each event, and the typed readings of rendered values.

use std::borrow::Cow;
use std::sync::Arc;

use hookflow_expr::{Template, Templates};
use serde_json::{Map, Value};

use crate::ConfigError;

/// One field value of a step: JSON in which every string is a template.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// A number, boolean or null.
    Const(Value),
    /// A string, compiled as a template (plain text compiles to a plain template).
    Template(Template),
    Array(Vec<Arg>),
    Object(Vec<(String, Arg)>),
}

impl Arg {
    /// Compiles every string of `value`; template errors are reported at `path`.
    pub(crate) fn compile(templates: &Templates, path: &str, value: &Value, errors: &mut Vec<ConfigError>) -> Arg {
        match value {
            Value::String(source) => match templates.compile(source) {
                Ok(template) => Arg::Template(template),
                Err(e) => {
                    errors.push(ConfigError::new(path, e.to_string()));
                    Arg::Const(Value::Null)
                }
            },
            Value::Array(items) => Arg::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Arg::compile(templates, &format!("{path}[{i}]"), item, errors))
                    .collect(),
            ),
            Value::Object(map) => Arg::Object(
                map.iter()
                    .map(|(key, item)| {
                        let path = child_path(path, key);
                        (key.clone(), Arg::compile(templates, &path, item, errors))
                    })
                    .collect(),
            ),
            other => Arg::Const(other.clone()),
        }
    }

    /// The value, when it holds no template syntax.
    pub(crate) fn static_value(&self) -> Option<Value> {
        match self {
            Arg::Const(value) => Some(value.clone()),
            Arg::Template(t) if t.is_plain() => Some(Value::String(t.source().to_string())),
            Arg::Template(_) => None,
            Arg::Array(items) => items
                .iter()
                .map(Arg::static_value)
                .collect::<Option<_>>()
                .map(Value::Array),
            Arg::Object(entries) => entries
                .iter()
                .map(|(k, v)| Some((k.clone(), v.static_value()?)))
                .collect::<Option<Map<_, _>>>()
                .map(Value::Object),
        }
    }

    /// Renders every template; strings keep the type of a single-expression template.
    pub(crate) fn render(&self, templates: &Templates, ctx: &Arc<Value>, path: &str, out: &mut Renders) -> Value {
        match self {
            Arg::Const(value) => value.clone(),
            Arg::Template(template) => {
                let rendered = templates.render_shared(template, ctx);
                for miss in rendered.missing {
                    if !out.missing.contains(&miss) {
                        out.missing.push(miss);
                    }
                }
                for error in rendered.errors {
                    out.errors.push(format!("{path}: {error}"));
                }
                rendered.value
            }
            Arg::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| item.render(templates, ctx, &format!("{path}[{i}]"), out))
                    .collect(),
            ),
            Arg::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, item)| {
                        let value = item.render(templates, ctx, &child_path(path, key), out);
                        (key.clone(), value)
                    })
                    .collect(),
            ),
        }
    }
}

/// `parent.key`, or `parent["key"]` when the key is not a plain name.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", Value::String(key.to_string()))
    }
}

/// What the renders of one run reported besides their values.
#[derive(Debug, Default)]
pub(crate) struct Renders {
    /// Missing attributes, merged, in the order they were found.
    pub(crate) missing: Vec<String>,
    /// Runtime errors, each prefixed with the field's path.
    pub(crate) errors: Vec<String>,
}

/// The fields of a step other than `id`, `type`, `kind` and the operation, in the step's order.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    list: Vec<(String, Arg)>,
}

impl Fields {
    pub(crate) fn new(list: Vec<(String, Arg)>) -> Fields {
        Fields { list }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arg> {
        self.list.iter().find(|(n, _)| n == name).map(|(_, arg)| arg)
    }

    /// The static values of `names` (those given), when none of them holds a template.
    pub(crate) fn all_static(&self, names: &[&str]) -> Option<Map<String, Value>> {
        let mut map = Map::new();
        for name in names {
            if let Some(arg) = self.get(name) {
                map.insert(name.to_string(), arg.static_value()?);
            }
        }
        Some(map)
    }

    /// Renders every field but those in `skip`, in order.
    pub(crate) fn render(
        &self,
        templates: &Templates,
        ctx: &Arc<Value>,
        skip: &[&str],
        out: &mut Renders,
    ) -> Map<String, Value> {
        self.list
            .iter()
            .filter(|(name, _)| !skip.contains(&name.as_str()))
            .map(|(name, arg)| (name.clone(), arg.render(templates, ctx, name, out)))
            .collect()
    }
}

/// A field problem: the field's name and a message that reads after it
/// ("timezone" + "`Mars/Base` is not a known time zone").
pub(crate) type Built<T> = Result<T, (&'static str, String)>;

/// Something built from fields (a regex, a time zone): once at compile time
/// when the fields are static, else for each run from the rendered values.
#[derive(Debug, Clone)]
pub(crate) enum Pre<T> {
    Static(T),
    Dynamic,
}

impl<T: Clone> Pre<T> {
    /// Builds from the static values of `names`, or defers to run time when
    /// one of them is a template. A static mistake is a config error.
    pub(crate) fn new(
        fields: &Fields,
        names: &[&str],
        errors: &mut Vec<ConfigError>,
        build: impl Fn(&Map<String, Value>) -> Built<T>,
    ) -> Pre<T> {
        match fields.all_static(names) {
            Some(values) => match build(&values) {
                Ok(built) => Pre::Static(built),
                Err((field, message)) => {
                    errors.push(ConfigError::new(field, message));
                    Pre::Dynamic
                }
            },
            None => Pre::Dynamic,
        }
    }

    /// The static value, or one built from the rendered values.
    pub(crate) fn get(
        &self,
        values: &Map<String, Value>,
        build: impl Fn(&Map<String, Value>) -> Built<T>,
    ) -> Result<Cow<'_, T>, String> {
        match self {
            Pre::Static(built) => Ok(Cow::Borrowed(built)),
            Pre::Dynamic => build(values)
                .map(Cow::Owned)
                .map_err(|(field, message)| format!("{field} {message}")),
        }
    }
}

/// A value as text: strings as they are, null as nothing, anything else as compact JSON.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A value quoted for a message, shortened when long.
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::String(s) => show_text(s),
        other => show_text(&other.to_string()),
    }
}

/// Text quoted for a message, shortened when long.
pub(crate) fn show_text(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("`{cut}…`")
    } else {
        format!("`{text}`")
    }
}

/// Whether a value counts as not given: null or an empty string.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// An optional field: `None` when absent, null or an empty string.
pub(crate) fn opt<'a>(values: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    values.get(name).filter(|v| !is_empty(v))
}

/// An optional text field.
pub(crate) fn opt_text(values: &Map<String, Value>, name: &str) -> Option<String> {
    opt(values, name).map(text)
}

/// A required field rendered to text (empty when absent).
pub(crate) fn req_text(values: &Map<String, Value>, name: &str) -> String {
    values.get(name).map(text).unwrap_or_default()
}

/// A number: a JSON number or a string holding one.
pub(crate) fn number(value: &Value) -> Result<f64, String> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() => Ok(n),
        _ => Err(format!("{} is not a number", show(value))),
    }
}

/// A whole number: a JSON integer, an integral float, or a string holding one.
pub(crate) fn integer(value: &Value) -> Result<i64, String> {
    if let Some(i) = value.as_i64() {
        return Ok(i);
    }
    match number(value) {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(format!("{} is not a whole number", show(value))),
    }
}

/// A boolean: `true`/`false`, as JSON or as text.
pub(crate) fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!("{} is not true or false", show(value))),
    }
}

/// An optional boolean field with its default.
pub(crate) fn opt_bool(values: &Map<String, Value>, name: &'static str, default: bool) -> Built<bool> {
    match opt(values, name) {
        None => Ok(default),
        Some(v) => boolean(v).map_err(|m| (name, m)),
    }
}

/// An optional single-character field (a delimiter) with its default.
pub(crate) fn opt_char(values: &Map<String, Value>, name: &'static str, default: char) -> Built<char> {
    match opt_text(values, name) {
        None => Ok(default),
        Some(s) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err((name, format!("{} must be exactly one character", show_text(&s)))),
            }
        }
    }
}
