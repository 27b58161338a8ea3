//! How deep JSON that hookflow keeps may nest.
//!
//! Everything hookflow stores is read back with serde_json, whose reader stops at 128 levels,
//! and stored values sit a few levels down in hookflow's own shapes (an event's `{"body": ...}`,
//! a journal entry's output). One limit, well under that, applies wherever a value is accepted
//! or kept: request bodies at ingest, what a template returns, what the journal records.

use serde_json::Value;

/// The deepest nesting of arrays and objects a kept value may have: `{"a": [1]}` is 2 levels.
pub const MAX_JSON_DEPTH: usize = 64;

/// The deepest a value kept in one stored column may nest: a kept body or template value
/// ([`MAX_JSON_DEPTH`]) inside the few levels of a journal entry's input or output, with room
/// left under serde_json's 128 for the reader.
pub const MAX_STORED_DEPTH: usize = 100;

/// What a value cut by [`clip`] holds where it went deeper.
pub const CLIPPED: &str = "[cut: nested too deep to keep]";

/// Whether `value` nests deeper than `limit` levels, without recursion.
pub fn deeper_than(value: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((node, depth)) = stack.pop() {
        if !(node.is_array() || node.is_object()) {
            continue;
        }
        if depth >= limit {
            return true;
        }
        match node {
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Replaces every array or object below `limit` levels with [`CLIPPED`]; answers whether
/// anything was cut. Recurses at most `limit` deep.
pub fn clip(value: &mut Value, limit: usize) -> bool {
    fn at(value: &mut Value, depth: usize, limit: usize) -> bool {
        if !(value.is_array() || value.is_object()) {
            return false;
        }
        if depth >= limit {
            *value = Value::String(CLIPPED.to_owned());
            return true;
        }
        // Every child is visited (no short-circuit), so every deep one is cut.
        match value {
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |cut, child| at(child, depth + 1, limit) | cut),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |cut, child| at(child, depth + 1, limit) | cut),
            _ => false,
        }
    }
    at(value, 0, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn depth_counts_arrays_and_objects() {
        assert!(!deeper_than(&json!(1), 0));
        assert!(!deeper_than(&json!({"a": [1]}), 2));
        assert!(deeper_than(&json!({"a": [1]}), 1));
        assert!(!deeper_than(&nested(64), 64));
        assert!(deeper_than(&nested(65), 64));
    }

    #[test]
    fn clip_cuts_only_below_the_limit() {
        let mut ok = nested(64);
        assert!(!clip(&mut ok, 64));
        assert_eq!(ok, nested(64));
        let mut deep = nested(127);
        assert!(clip(&mut deep, MAX_STORED_DEPTH));
        assert!(!deeper_than(&deep, MAX_STORED_DEPTH));
        assert!(deeper_than(&deep, MAX_STORED_DEPTH - 1));
    }
}
