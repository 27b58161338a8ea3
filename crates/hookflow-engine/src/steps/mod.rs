//! The steps of a connector document, checked and compiled once: templates,
//! conditions and regexes are parsed at save time (a bad one is a 400 that
//! names the step) and reused for every execution.
//!
//! Each kind of step is a module here, with how it compiles, runs and simulates
//! ([`kind::StepKind`]); [`kinds!`](kind::kinds) lists them.

use hookflow_expr::{Template, Templates};
use serde_json::{Map, Value};

use crate::contacts::ContactSpec;
use crate::document::FieldError;

/// A checked document: its field mapping and steps.
#[derive(Clone)]
pub struct Compiled {
    /// Finds or creates the event's contact before the steps run.
    pub field_mapping: Option<ContactSpec>,
    pub steps: Vec<Step>,
    /// The document names the `secrets` root: its executions load the workspace's secrets.
    pub uses_secrets: bool,
}

#[derive(Clone)]
pub struct Step {
    pub id: String,
    /// The `type` as written (`filter`, `formatter`, ...).
    pub type_name: String,
    pub(crate) kind: Kind,
}

pub(crate) mod kind;

mod action;
mod assign_owner;
mod contact;
pub(crate) mod delay;
mod emit_event;
mod filter;
mod formatter;
mod http_request;
mod iterator;
mod paths;
mod send_email;
mod send_message;
mod storage;
mod tags;
mod upsert_contact;

// Every kind of step; a new kind is a module above and a line here.
kind::kinds! {
    Filter(filter::Filter),
    Paths(paths::Paths),
    Delay(delay::Delay),
    Iterator(iterator::Iterate),
    Formatter(formatter::Formatter),
    Storage(storage::Storage),
    UpsertContact(upsert_contact::ContactSpec),
    Tags(tags::Tags),
    AssignOwner(assign_owner::AssignOwner),
    EmitEvent(emit_event::EmitEvent),
    HttpRequest(http_request::HttpRequest),
    SendMessage(send_message::SendMessage),
    SendEmail(send_email::SendEmail),
}

/// The most elements an iterator may be configured to handle.
pub const ITERATOR_HARD_CAP: usize = 10_000;
/// Elements handled when the step does not say.
pub const ITERATOR_DEFAULT_CAP: usize = 500;
/// The most steps one execution runs, counting each step once per iteration it runs in: nested
/// iterators multiply (10,000 x 10,000 would be a hundred million), this does not.
pub const MAX_STEP_RUNS: usize = 10_000;
/// The longest one run of an execution's steps may take, from its start or resumption to its end
/// or its next wait (a delay or a retry ends a run): a template may compute for a second, and
/// 10,000 of them would hold a worker for hours.
pub const MAX_RUN_TIME: std::time::Duration = std::time::Duration::from_secs(300);

/// Keys every step may carry besides its own.
pub(crate) const COMMON_KEYS: &[&str] = &["id", "type", "name", "description"];

/// Step types whose actions land in a later version; refused at save time.
const NOT_YET: &[&str] = &[];

/// Compiles the `steps` of a document.
pub fn compile(document: &Value, templates: &Templates) -> Result<Compiled, Vec<FieldError>> {
    let mut errors = Vec::new();
    let field_mapping = match document.get("field_mapping") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) if map.is_empty() => None,
        Some(Value::Object(map)) => match ContactSpec::compile(map, "field_mapping", &[], true, templates) {
            Ok(spec) => Some(spec),
            Err(list) => {
                errors.extend(list);
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("field_mapping", "must be an object or null"));
            None
        }
    };
    if let Some(key) = crate::document::ordering_key(document) {
        if let Err(e) = templates.compile(key) {
            errors.push(FieldError::new("ordering.key", format!("template error: {e}")));
        }
    }
    let steps = match document.get("steps") {
        Some(Value::Array(list)) => compile_list(list, "steps", templates, &mut errors),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            errors.push(FieldError::new("steps", "must be an array of steps"));
            Vec::new()
        }
    };
    if errors.is_empty() {
        Ok(Compiled {
            field_mapping,
            steps,
            uses_secrets: crate::secrets::used_by(document),
        })
    } else {
        Err(errors)
    }
}

fn compile_list(list: &[Value], path: &str, templates: &Templates, errors: &mut Vec<FieldError>) -> Vec<Step> {
    list.iter()
        .enumerate()
        .filter_map(|(i, step)| compile_step(step, &format!("{path}[{i}]"), templates, errors))
        .collect()
}

/// Collects errors of one step with its path and a message naming it.
pub(crate) struct StepErrors<'a> {
    pub(crate) path: &'a str,
    pub(crate) id: &'a str,
    pub(crate) errors: &'a mut Vec<FieldError>,
}

impl StepErrors<'_> {
    pub(crate) fn at(&mut self, field: &str, message: impl std::fmt::Display) {
        let path = if field.is_empty() {
            self.path.to_owned()
        } else {
            format!("{}.{field}", self.path)
        };
        self.errors
            .push(FieldError::new(path, format!("step `{}`: {message}", self.id)));
    }
}

fn compile_step(step: &Value, path: &str, templates: &Templates, errors: &mut Vec<FieldError>) -> Option<Step> {
    let obj = step.as_object()?;
    let id = obj.get("id").and_then(Value::as_str).unwrap_or("?").to_owned();
    let type_name = obj.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    let before = errors.len();
    let mut e = StepErrors { path, id: &id, errors };
    let source = kind::Source {
        value: step,
        obj,
        type_name: &type_name,
        templates,
    };
    let kind = match Kind::compile(&source, &mut e) {
        Some(kind) => kind,
        None if NOT_YET.contains(&type_name.as_str()) => {
            e.at(
                "type",
                format!("the `{type_name}` action is not available in this version of hookflow yet"),
            );
            None
        }
        // Unknown or missing types are reported by `document::split`.
        None => None,
    };
    (errors.len() == before).then_some(())?;
    Some(Step {
        id,
        type_name,
        kind: kind?,
    })
}

pub(crate) fn unknown_keys(obj: &Map<String, Value>, allowed: &[&str], e: &mut StepErrors<'_>) {
    for key in obj.keys() {
        if !COMMON_KEYS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            let mut all: Vec<&str> = allowed.to_vec();
            all.sort_unstable();
            e.at(
                key,
                format!("unknown field `{key}`; this step takes: {}", all.join(", ")),
            );
        }
    }
}

pub(crate) fn template(
    obj: &Map<String, Value>,
    field: &str,
    templates: &Templates,
    e: &mut StepErrors<'_>,
) -> Option<Template> {
    let source = match obj.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => {
            e.at(field, format!("`{field}` is required"));
            return None;
        }
        Some(other) => other.to_string(),
    };
    match templates.compile(&source) {
        Ok(t) => Some(t),
        Err(err) => {
            e.at(field, format!("template error: {err}"));
            None
        }
    }
}

pub(crate) fn condition_errors(list: Vec<hookflow_expr::ConditionError>, prefix: &str, e: &mut StepErrors<'_>) {
    for err in list {
        let field = match (prefix.is_empty(), err.path.is_empty()) {
            (true, _) => err.path,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{}", err.path),
        };
        e.at(&field, err.message);
    }
}

pub(crate) fn nested(
    list: Option<&Value>,
    path: &str,
    templates: &Templates,
    e: &mut StepErrors<'_>,
) -> Option<Vec<Step>> {
    match list {
        Some(Value::Array(items)) => Some(compile_list(items, path, templates, e.errors)),
        None | Some(Value::Null) => Some(Vec::new()),
        Some(_) => {
            e.errors.push(FieldError::new(
                path,
                format!("step `{}`: must be a list of steps", e.id),
            ));
            None
        }
    }
}
