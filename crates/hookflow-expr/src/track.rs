//! The render context: a JSON document seen through minijinja objects that
//! record every failed lookup, and conversions back from minijinja values.
//!
//! Invariant: a `Tracked` object always points at an object or array that
//! exists in its root document; scalars are handed to minijinja as plain
//! values.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use serde_json::Value as Json;

/// One step from a parent to a child.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Failed lookups of one render, as attribute paths, in the order they happened.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    misses: Mutex<Vec<String>>,
}

impl Recorder {
    fn record(&self, path: String) {
        // A poisoned lock only means another lookup panicked; the list is still usable.
        let mut misses = self.misses.lock().unwrap_or_else(|e| e.into_inner());
        if !misses.contains(&path) {
            misses.push(path);
        }
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.misses.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// An object or array of the context document, with the path it was reached by.
pub(crate) struct Tracked {
    root: Arc<Json>,
    segs: Vec<Seg>,
    path: String,
    recorder: Arc<Recorder>,
    /// Root names that must not be reported (the environment's globals, like `range`).
    ignored_roots: Arc<HashSet<String>>,
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked").field("path", &self.path).finish()
    }
}

impl Tracked {
    pub(crate) fn root(root: Arc<Json>, recorder: Arc<Recorder>, ignored_roots: Arc<HashSet<String>>) -> Value {
        Value::from_object(Tracked {
            root,
            segs: Vec::new(),
            path: String::new(),
            recorder,
            ignored_roots,
        })
    }

    /// The JSON this object stands for.
    pub(crate) fn json(&self) -> &Json {
        let mut node = &*self.root;
        for seg in &self.segs {
            node = match (seg, node) {
                (Seg::Key(k), Json::Object(map)) => map.get(k).unwrap_or(&Json::Null),
                (Seg::Index(i), Json::Array(items)) => items.get(*i).unwrap_or(&Json::Null),
                _ => &Json::Null,
            };
        }
        node
    }

    fn child(&self, seg: Seg, path: String, json: &Json) -> Value {
        match json {
            Json::Object(_) | Json::Array(_) => {
                let mut segs = self.segs.clone();
                segs.push(seg);
                Value::from_object(Tracked {
                    root: self.root.clone(),
                    segs,
                    path,
                    recorder: self.recorder.clone(),
                    ignored_roots: self.ignored_roots.clone(),
                })
            }
            scalar => scalar_value(scalar),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else if is_identifier(key) {
            format!("{}.{key}", self.path)
        } else {
            format!("{}[{}]", self.path, Json::String(key.to_string()))
        }
    }

    fn miss(&self, path: String) -> Option<Value> {
        if !(self.segs.is_empty() && self.ignored_roots.contains(&path)) {
            self.recorder.record(path);
        }
        None
    }
}

impl Object for Tracked {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.json() {
            Json::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.json() {
            Json::Object(map) => {
                let name = match key.as_str() {
                    Some(s) => s.to_string(),
                    None if key.is_number() => key.to_string(),
                    None => return None,
                };
                let path = self.key_path(&name);
                match map.get(&name) {
                    Some(json) => Some(self.child(Seg::Key(name), path, json)),
                    None => self.miss(path),
                }
            }
            Json::Array(items) => {
                let Some(index) = key.as_i64() else {
                    return match key.as_str() {
                        Some(name) => self.miss(self.key_path(name)),
                        None => None,
                    };
                };
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let resolved = if index < 0 { index + len } else { index };
                let path = format!("{}[{index}]", self.path);
                match usize::try_from(resolved)
                    .ok()
                    .and_then(|i| items.get(i).map(|j| (i, j)))
                {
                    Some((i, json)) => Some(self.child(Seg::Index(i), path, json)),
                    None => self.miss(path),
                }
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.json() {
            Json::Object(map) => Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect()),
            Json::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.json() {
            Json::Object(map) => Some(map.len()),
            Json::Array(items) => Some(items.len()),
            _ => Some(0),
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.enumerator_len().unwrap_or(0) > 0
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json().to_string())
    }
}

/// A JSON scalar as a minijinja value; integers stay integers.
fn scalar_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::from(s.as_str()),
        // Not reached: compound values become `Tracked` objects.
        other => Value::from_serialize(other),
    }
}

/// Converts a minijinja value back into JSON.
///
/// Undefined becomes null. Fails on numbers JSON can't hold (infinity, NaN).
pub(crate) fn to_json(value: &Value) -> Result<Json, String> {
    if let Some(tracked) = value.downcast_object_ref::<Tracked>() {
        return Ok(tracked.json().clone());
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(Json::Null),
        ValueKind::Bool => Ok(Json::Bool(value.is_true())),
        ValueKind::String => Ok(Json::String(value.as_str().unwrap_or_default().to_string())),
        ValueKind::Number => number_to_json(value),
        ValueKind::Seq | ValueKind::Iterable => {
            let items = value.try_iter().map_err(|e| e.to_string())?;
            items
                .map(|v| to_json(&v))
                .collect::<Result<Vec<_>, _>>()
                .map(Json::Array)
        }
        ValueKind::Map => {
            let mut map = serde_json::Map::new();
            let keys = value.try_iter().map_err(|e| e.to_string())?;
            for key in keys {
                let item = value.get_item(&key).map_err(|e| e.to_string())?;
                let key = match key.as_str() {
                    Some(s) => s.to_string(),
                    None => key.to_string(),
                };
                map.insert(key, to_json(&item)?);
            }
            Ok(Json::Object(map))
        }
        ValueKind::Bytes => Ok(Json::String(
            String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned(),
        )),
        _ => Ok(Json::String(value.to_string())),
    }
}

fn number_to_json(value: &Value) -> Result<Json, String> {
    if value.is_integer() {
        if let Ok(i) = i64::try_from(value.clone()) {
            return Ok(Json::from(i));
        }
        if let Ok(u) = u64::try_from(value.clone()) {
            return Ok(Json::from(u));
        }
    }
    let f = f64::try_from(value.clone()).map_err(|e| e.to_string())?;
    serde_json::Number::from_f64(f)
        .map(Json::Number)
        .ok_or_else(|| format!("{f} is not a finite number (division by zero?)"))
}

/// Whether `key` can be written after a dot in a template.
pub(crate) fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A value as `{{ value }}` prints it: strings as they are, null and
/// undefined as nothing, booleans as `true`/`false`, lists and maps as
/// compact JSON. Fails on numbers JSON can't hold.
pub(crate) fn value_text(value: &Value) -> Result<String, String> {
    if let Some(tracked) = value.downcast_object_ref::<Tracked>() {
        return Ok(tracked.json().to_string());
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(String::new()),
        ValueKind::Bool => Ok(if value.is_true() { "true" } else { "false" }.to_string()),
        ValueKind::String => Ok(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Number => {
            if !value.is_integer() {
                number_to_json(value)?;
            }
            Ok(value.to_string())
        }
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => Ok(to_json(value)?.to_string()),
        _ => Ok(value.to_string()),
    }
}
