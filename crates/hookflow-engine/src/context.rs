//! The values templates see (SPEC section 5).

use hookflow_core::Timestamp;
use serde_json::{json, Map, Value};

use crate::intake::Parsed;

/// Headers as an object: lower-case names, repeated names joined with `, `.
pub fn headers_object(headers: &[(String, String)]) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        match out.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                out.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    Value::Object(out)
}

/// The `event` root: `id`, `method`, `received_at`, `headers`, `custom_variables`, `body`, `files`, `kind`.
pub fn event_value(
    id: &str,
    method: &str,
    received_at: Timestamp,
    headers: &[(String, String)],
    parsed: &Parsed,
) -> Value {
    json!({
        "id": id,
        "method": method,
        "received_at": received_at.to_rfc3339(),
        "headers": headers_object(headers),
        "custom_variables": parsed.custom_variables,
        "body": parsed.body,
        "files": parsed.files,
        "kind": parsed.kind,
    })
}

/// The `system` root.
pub fn system_value(now: Timestamp, timezone: &str, workspace_id: &str) -> Value {
    json!({"now": now.to_rfc3339(), "timezone": timezone, "workspace_id": workspace_id})
}
