//! The `line_items` kind: build an array of objects from parallel lists, and back.

use serde_json::{json, Map, Value};

use crate::fields::{opt_text, show, text, Arg, Fields};
use crate::ConfigError;

#[derive(Debug, Clone)]
pub(crate) struct Step {
    to_items: bool,
}

impl Step {
    pub(crate) fn compile(op: &str, fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        let to_items = op == "to_items";
        match (to_items, fields.get("fields")) {
            (_, None) => {}
            (true, Some(Arg::Object(entries))) if !entries.is_empty() => {}
            (true, Some(_)) => errors.push(ConfigError::new(
                "fields",
                "must be an object of item field names to templates, with at least one entry",
            )),
            (false, Some(Arg::Array(_) | Arg::Template(_))) => {}
            (false, Some(_)) => errors.push(ConfigError::new("fields", "must be an array of field names")),
        }
        Step { to_items }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>) -> Result<Value, String> {
        let separator = opt_text(values, "separator").unwrap_or_else(|| ",".to_string());
        if self.to_items {
            to_items(values, &separator)
        } else {
            to_text(values, &separator)
        }
    }
}

/// Zips lists by position into objects; shorter lists are padded with null.
fn to_items(values: &Map<String, Value>, separator: &str) -> Result<Value, String> {
    let Some(Value::Object(fields)) = values.get("fields") else {
        return Err("fields must be an object".to_string());
    };
    let lists: Vec<(&String, Vec<Value>)> = fields
        .iter()
        .map(|(name, value)| (name, list(value, separator)))
        .collect();
    let count = lists.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    let items: Vec<Value> = (0..count)
        .map(|i| {
            let obj: Map<String, Value> = lists
                .iter()
                .map(|(name, l)| ((*name).clone(), l.get(i).cloned().unwrap_or(Value::Null)))
                .collect();
            Value::Object(obj)
        })
        .collect();
    Ok(json!({"value": items, "count": count}))
}

/// An array as it is; text split at the separator, each part trimmed; null
/// or blank text is an empty list; any other value a list of itself.
fn list(value: &Value, separator: &str) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        Value::String(s) if s.trim().is_empty() => Vec::new(),
        Value::String(s) => s.split(separator).map(|p| json!(p.trim())).collect(),
        other => vec![other.clone()],
    }
}

/// Joins each field of an array of objects into one text.
fn to_text(values: &Map<String, Value>, separator: &str) -> Result<Value, String> {
    let given = values.get("input").unwrap_or(&Value::Null);
    let parsed;
    let items = match given {
        Value::Array(items) => items,
        Value::Null => return Ok(json!({"value": {}, "count": 0})),
        Value::String(s) if s.trim().is_empty() => return Ok(json!({"value": {}, "count": 0})),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => {
                parsed = items;
                &parsed
            }
            _ => return Err(format!("input {} is not an array of objects", show(given))),
        },
        other => return Err(format!("input {} is not an array of objects", show(other))),
    };
    let mut names: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(format!("input element {i} is {}, not an object", show(item)));
        };
        for key in obj.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    match values.get("fields") {
        None => {}
        Some(Value::Array(wanted)) => names = wanted.iter().map(text).collect(),
        Some(Value::String(s)) if s.trim().is_empty() => {}
        Some(Value::String(s)) => names = s.split(',').map(|n| n.trim().to_string()).collect(),
        Some(other) => return Err(format!("fields {} is not a list of names", show(other))),
    }
    let joined: Map<String, Value> = names
        .into_iter()
        .map(|name| {
            let parts: Vec<String> = items
                .iter()
                .map(|item| item.get(&name).map(text).unwrap_or_default())
                .collect();
            (name, json!(parts.join(separator)))
        })
        .collect();
    Ok(json!({"value": joined, "count": items.len()}))
}
