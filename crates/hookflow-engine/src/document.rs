//! The connector document (SPEC section 10): one JSON value holding the
//! response map, structure, field mapping and steps.
//!
//! The store keeps the structure apart from the rest: it is captured data,
//! not configuration, so a version restore brings back the steps and maps but
//! leaves the structure as it is (as the seeds describe).

use serde_json::{json, Map, Value};

/// One problem with a document, located by a path like `steps[2].url`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The document of a new connector.
pub fn empty() -> Value {
    json!({"response": null, "field_mapping": null, "steps": []})
}

/// The configured answer to the sender of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMap {
    pub status: u16,
    pub content_type: String,
    /// A template over the event.
    pub body: String,
}

/// The document's response map, if one is configured.
pub fn response_map(document: &Value) -> Option<ResponseMap> {
    let r = document.get("response")?.as_object()?;
    Some(ResponseMap {
        status: r
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(200),
        content_type: r
            .get("content_type")
            .and_then(Value::as_str)
            .unwrap_or("text/plain; charset=utf-8")
            .to_owned(),
        body: match r.get("body") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        },
    })
}

/// The step types a document may use.
pub const STEP_TYPES: &[&str] = &[
    "filter",
    "paths",
    "delay",
    "iterator",
    "formatter",
    "storage",
    "http_request",
    "send_message",
    "send_email",
    "upsert_contact",
    "add_tag",
    "remove_tag",
    "assign_owner",
    "emit_event",
];

/// The top-level keys of a connector document (SPEC section 10).
pub const DOCUMENT_KEYS: &[&str] = &[
    "response",
    "structure",
    "field_mapping",
    "steps",
    "rate_limit",
    "ordering",
];

/// Splits a document as a user sent it into what is versioned and its
/// structure (`None` when the document has no `structure` key), checking
/// its shape. An unknown top-level key is refused, as an unknown step field
/// is: a misspelt `rate_limt` would otherwise be saved and silently do nothing.
pub fn split(mut document: Value) -> Result<(Value, Option<Value>), Vec<FieldError>> {
    let Some(obj) = document.as_object_mut() else {
        return Err(vec![FieldError::new(
            "",
            "the connector document must be a JSON object",
        )]);
    };
    let mut errors = unknown_keys(obj);
    let structure = obj.remove("structure");
    obj.entry("response").or_insert(Value::Null);
    obj.entry("field_mapping").or_insert(Value::Null);
    obj.entry("steps").or_insert_with(|| Value::Array(Vec::new()));
    check_response(obj.get("response"), &mut errors);
    check_rate_limit(obj.get("rate_limit"), &mut errors);
    check_ordering(obj.get("ordering"), &mut errors);
    match obj.get("field_mapping") {
        Some(Value::Null | Value::Object(_)) | None => {}
        Some(_) => errors.push(FieldError::new("field_mapping", "must be an object or null")),
    }
    match obj.get("steps") {
        Some(Value::Array(steps)) => check_steps(steps, "steps", &mut std::collections::HashSet::new(), &mut errors),
        _ => errors.push(FieldError::new("steps", "must be an array of steps")),
    }
    if errors.is_empty() {
        Ok((document, structure.filter(|s| !s.is_null())))
    } else {
        Err(errors)
    }
}

fn unknown_keys(obj: &Map<String, Value>) -> Vec<FieldError> {
    obj.keys()
        .filter(|key| !DOCUMENT_KEYS.contains(&key.as_str()))
        .map(|key| {
            FieldError::new(
                key.as_str(),
                format!(
                    "unknown field `{key}`; a connector document takes: {}",
                    DOCUMENT_KEYS.join(", ")
                ),
            )
        })
        .collect()
}

/// `ordering: {"key": "{{ event.body.order.id }}"}`: executions whose key renders the same run
/// one at a time, in arrival order; see [`ordering_key`].
fn check_ordering(ordering: Option<&Value>, errors: &mut Vec<FieldError>) {
    let Some(ordering) = ordering.filter(|o| !o.is_null()) else {
        return;
    };
    if !ordering.is_object() {
        errors.push(FieldError::new(
            "ordering",
            "must be an object with a `key` template, or null",
        ));
        return;
    }
    if ordering
        .get("key")
        .and_then(Value::as_str)
        .is_none_or(|k| k.trim().is_empty())
    {
        errors.push(FieldError::new(
            "ordering.key",
            "must be a template naming what orders executions, e.g. {{ event.body.order.id }}",
        ));
    }
}

/// Whether a run of the document does nothing: no steps and no field mapping. Its executions
/// succeed as they are received, with no job to run them.
pub fn runs_nothing(document: &Value) -> bool {
    let no_steps = match document.get("steps") {
        None | Some(Value::Null) => true,
        Some(Value::Array(list)) => list.is_empty(),
        Some(_) => false,
    };
    let no_mapping = match document.get("field_mapping") {
        None | Some(Value::Null) => true,
        Some(Value::Object(map)) => map.is_empty(),
        Some(_) => false,
    };
    no_steps && no_mapping
}

/// The document's ordering key template: events whose key renders the same
/// non-empty text are executed one at a time, in the order they arrived.
pub fn ordering_key(document: &Value) -> Option<&str> {
    document.get("ordering")?.get("key")?.as_str()
}

/// `rate_limit: {"requests": 10, "per": "1s"}`: at most `requests` events per `per`, per node.
fn check_rate_limit(limit: Option<&Value>, errors: &mut Vec<FieldError>) {
    let Some(limit) = limit.filter(|l| !l.is_null()) else {
        return;
    };
    let requests = limit.get("requests").and_then(Value::as_f64);
    if !requests.is_some_and(|r| (1.0..=1_000_000.0).contains(&r)) {
        errors.push(FieldError::new(
            "rate_limit.requests",
            "must be a number of requests from 1 to 1000000",
        ));
    }
    let per = limit.get("per").and_then(Value::as_str).unwrap_or("1s");
    match hookflow_core::retry::parse_duration(per) {
        Ok(d) if !d.is_zero() && d <= std::time::Duration::from_secs(86_400) => {}
        Ok(_) => errors.push(FieldError::new(
            "rate_limit.per",
            "must be above zero and at most a day",
        )),
        Err(e) => errors.push(FieldError::new("rate_limit.per", e)),
    }
}

fn check_response(response: Option<&Value>, errors: &mut Vec<FieldError>) {
    let Some(r) = response else { return };
    let Some(r) = r.as_object() else {
        if !r.is_null() {
            errors.push(FieldError::new(
                "response",
                "must be an object with status, content_type and body, or null",
            ));
        }
        return;
    };
    match r.get("status") {
        None => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|s| (100..=599).contains(&s)) => {}
        Some(_) => errors.push(FieldError::new(
            "response.status",
            "must be an HTTP status code from 100 to 599",
        )),
    }
    if let Some(ct) = r.get("content_type") {
        if !ct
            .as_str()
            .is_some_and(|s| !s.trim().is_empty() && !s.contains(['\r', '\n']))
        {
            errors.push(FieldError::new(
                "response.content_type",
                "must be a media type such as application/json",
            ));
        }
    }
}

fn check_steps(
    steps: &[Value],
    path: &str,
    seen: &mut std::collections::HashSet<String>,
    errors: &mut Vec<FieldError>,
) {
    for (i, step) in steps.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let Some(obj) = step.as_object() else {
            errors.push(FieldError::new(here, "a step must be an object with an id and a type"));
            continue;
        };
        match obj.get("id").and_then(Value::as_str) {
            Some(id) if valid_step_id(id) => {
                if !seen.insert(id.to_owned()) {
                    errors.push(FieldError::new(
                        format!("{here}.id"),
                        format!("step id `{id}` is used twice"),
                    ));
                }
            }
            Some(id) => errors.push(FieldError::new(
                format!("{here}.id"),
                format!("step id `{id}` must start with a letter and hold only letters, digits and _"),
            )),
            None => errors.push(FieldError::new(format!("{here}.id"), "every step needs an id")),
        }
        match obj.get("type").and_then(Value::as_str) {
            Some(t) if STEP_TYPES.contains(&t) => {}
            Some(t) => errors.push(FieldError::new(
                format!("{here}.type"),
                format!("unknown step type `{t}`; expected one of: {}", STEP_TYPES.join(", ")),
            )),
            None => errors.push(FieldError::new(format!("{here}.type"), "every step needs a type")),
        }
        nested_steps(obj, &here, seen, errors);
    }
}

fn nested_steps(
    obj: &Map<String, Value>,
    here: &str,
    seen: &mut std::collections::HashSet<String>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(Value::Array(inner)) = obj.get("steps") {
        check_steps(inner, &format!("{here}.steps"), seen, errors);
    }
    if let Some(Value::Array(branches)) = obj.get("branches") {
        for (b, branch) in branches.iter().enumerate() {
            if let Some(Value::Array(inner)) = branch.get("steps") {
                check_steps(inner, &format!("{here}.branches[{b}].steps"), seen, errors);
            }
        }
    }
    if let Some(Value::Array(inner)) = obj.get("otherwise") {
        check_steps(inner, &format!("{here}.otherwise"), seen, errors);
    }
}

/// Step ids become template names (`steps.<id>`), so they must be identifiers.
pub fn valid_step_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && id.len() <= 64
}

/// The document as the API shows it: the versioned part with the structure put back.
pub fn merge(document: &Value, structure: Option<&Value>) -> Value {
    let mut out = Map::new();
    out.insert(
        "response".into(),
        document.get("response").cloned().unwrap_or(Value::Null),
    );
    out.insert("structure".into(), structure.cloned().unwrap_or(Value::Null));
    if let Some(obj) = document.as_object() {
        for (k, v) in obj {
            if k != "response" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_document_without_steps_and_field_mapping_runs_nothing() {
        assert!(runs_nothing(&empty()));
        assert!(runs_nothing(
            &json!({"steps": null, "field_mapping": {}, "response": {"status": 202}})
        ));
        assert!(!runs_nothing(
            &json!({"steps": [{"id": "a", "type": "delay", "for": "1m"}]})
        ));
        assert!(!runs_nothing(
            &json!({"steps": [], "field_mapping": {"email": "{{ event.body.email }}"}})
        ));
        assert!(
            !runs_nothing(&json!({"steps": "not a list"})),
            "a broken document is not skipped"
        );
    }

    #[test]
    fn split_checks_shape() {
        let (doc, structure) = split(json!({"structure": {"a": 1}, "steps": []})).unwrap();
        assert_eq!(structure, Some(json!({"a": 1})));
        assert_eq!(doc, json!({"steps": [], "response": null, "field_mapping": null}));
        let errors = split(json!({
            "response": {"status": 700},
            "steps": [{"id": "a", "type": "filter"}, {"id": "a", "type": "nope"}, {"type": "delay"},
                      {"id": "p", "type": "paths", "branches": [{"steps": [{"id": "1x", "type": "delay"}]}]}]
        }))
        .unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "response.status",
                "steps[1].id",
                "steps[1].type",
                "steps[2].id",
                "steps[3].branches[0].steps[0].id"
            ]
        );
        assert!(split(json!([])).is_err());
    }

    #[test]
    fn split_refuses_unknown_top_level_keys() {
        let errors = split(json!({"steps": [], "rate_limt": {"requests": 1}, "notes": "x"})).unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["rate_limt", "notes"]);
        assert!(
            errors[0].message.contains("takes: response, structure"),
            "{}",
            errors[0].message
        );
        let every_key = json!({"response": null, "structure": null, "field_mapping": null, "steps": [],
            "rate_limit": null, "ordering": null});
        assert!(split(every_key).is_ok());
    }

    #[test]
    fn merge_puts_structure_second() {
        let merged = merge(&json!({"response": null, "steps": []}), Some(&json!({"x": 1})));
        assert_eq!(
            merged.to_string(),
            r#"{"response":null,"structure":{"x":1},"steps":[]}"#
        );
    }
}

/// Compiles every template in the document outside `structure` and `steps`
/// (any string holding `{{` or `{%`) and reports those that don't compile, by
/// path. Steps are checked, templates included, by `steps::compile`.
pub fn check_templates(document: &Value, templates: &hookflow_expr::Templates) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(obj) = document.as_object() {
        for (key, value) in obj {
            if key != "structure" && key != "steps" {
                walk_templates(value, key.clone(), templates, &mut errors);
            }
        }
    }
    errors
}

fn walk_templates(value: &Value, path: String, templates: &hookflow_expr::Templates, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            if let Err(e) = templates.compile(s) {
                errors.push(FieldError::new(path, format!("template error: {e}")));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_templates(item, format!("{path}[{i}]"), templates, errors);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                walk_templates(v, format!("{path}.{k}"), templates, errors);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    #[test]
    fn template_errors_name_their_place() {
        let templates = hookflow_expr::Templates::new();
        let doc = json!({
            "response": {"body": "{{ event.id }}"},
            "field_mapping": {"email": "{{ event.body.email "},
            "steps": [{"id": "a", "type": "delay", "until": "{{ broken"}],
            "structure": {"ignored": "{{ broken"}
        });
        let errors = check_templates(&doc, &templates);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "field_mapping.email");
        assert!(
            errors[0].message.starts_with("template error: line 1, column"),
            "{}",
            errors[0].message
        );
    }
}
