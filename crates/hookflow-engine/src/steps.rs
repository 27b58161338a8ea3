//! The steps of a connector document, checked and compiled once: templates,
//! conditions and regexes are parsed at save time (a bad one is a 400 that
//! names the step) and reused for every execution.

use std::collections::BTreeSet;
use std::time::Duration;

use hookflow_core::EventType;
use hookflow_expr::{CompiledNode, Template, Templates};
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
    pub kind: Kind,
}

#[derive(Clone)]
pub enum Kind {
    Filter(CompiledNode),
    Paths {
        branches: Vec<Branch>,
        otherwise: Option<Vec<Step>>,
    },
    Delay(Delay),
    Iterator {
        over: Template,
        steps: Vec<Step>,
        max_items: usize,
    },
    Formatter(Box<hookflow_format::Formatter>),
    Storage(Storage),
    UpsertContact(Box<ContactSpec>),
    /// `add_tag` (true) or `remove_tag` (false).
    Tags {
        add: bool,
        tags: Template,
        contact: Option<Template>,
    },
    AssignOwner {
        owner: Template,
        contact: Option<Template>,
    },
    /// `custom.<name>` to the subscriptions that want it, with a templated `data`.
    EmitEvent {
        event_type: EventType,
        data: crate::actions::Shape,
    },
    HttpRequest(Box<crate::actions::HttpRequest>),
    SendMessage(Box<crate::actions::SendMessage>),
    SendEmail(Box<crate::actions::SendEmail>),
}

#[derive(Clone)]
pub struct Branch {
    pub name: String,
    pub when: CompiledNode,
    pub steps: Vec<Step>,
}

#[derive(Clone)]
pub enum Delay {
    For(Duration),
    /// A date-time (template).
    Until(Template),
    /// The next time of day `hour:minute` in a timezone.
    AtTime {
        hour: i8,
        minute: i8,
        timezone: jiff::tz::TimeZone,
        timezone_name: String,
    },
}

#[derive(Clone)]
pub struct Storage {
    pub operation: StorageOperation,
    pub key: Template,
    /// `set`: the value (a template when a string).
    pub value: Option<StorageValue>,
    /// `increment`: the amount (a template or a number).
    pub by: Option<StorageValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageOperation {
    Get,
    Set,
    Increment,
    Delete,
}

#[derive(Clone)]
pub enum StorageValue {
    Template(Template),
    Literal(Value),
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
const COMMON_KEYS: &[&str] = &["id", "type", "name", "description"];

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
struct StepErrors<'a> {
    path: &'a str,
    id: &'a str,
    errors: &'a mut Vec<FieldError>,
}

impl StepErrors<'_> {
    fn at(&mut self, field: &str, message: impl std::fmt::Display) {
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
    let kind =
        match type_name.as_str() {
            "filter" => compile_filter(step, templates, &mut e),
            "paths" => compile_paths(obj, templates, &mut e),
            "delay" => compile_delay(obj, templates, &mut e),
            "iterator" => compile_iterator(obj, templates, &mut e),
            "formatter" => match hookflow_format::compile(templates, step) {
                Ok(f) => Some(Kind::Formatter(Box::new(f))),
                Err(list) => {
                    for err in list {
                        e.at(&err.path, err.message);
                    }
                    None
                }
            },
            "storage" => compile_storage(obj, templates, &mut e),
            "upsert_contact" => match ContactSpec::compile(obj, "", COMMON_KEYS, false, templates) {
                Ok(spec) if spec.mobile.is_some() || spec.email.is_some() || spec.unique_key.is_some() => {
                    Some(Kind::UpsertContact(Box::new(spec)))
                }
                Ok(_) => {
                    e.at(
                        "mobile",
                        "`upsert_contact` needs a mobile, an email or a unique_key to find the contact by",
                    );
                    None
                }
                Err(list) => {
                    for err in list {
                        e.at(&err.path, err.message);
                    }
                    None
                }
            },
            "add_tag" | "remove_tag" => {
                unknown_keys(obj, &["tags", "contact"], &mut e);
                let tags = template(obj, "tags", templates, &mut e);
                let contact = obj
                    .contains_key("contact")
                    .then(|| template(obj, "contact", templates, &mut e))
                    .flatten();
                tags.map(|tags| Kind::Tags {
                    add: type_name == "add_tag",
                    tags,
                    contact,
                })
            }
            "emit_event" => {
                unknown_keys(obj, &["event_type", "data"], &mut e);
                let name = obj.get("event_type").and_then(Value::as_str).unwrap_or("");
                let event_type = EventType::custom(name)
                    .map_err(|reason| e.at("event_type", reason))
                    .ok();
                let data = crate::actions::Shape::compile(
                    obj.get("data").unwrap_or(&Value::Null),
                    &format!("{path}.data"),
                    templates,
                    e.errors,
                );
                event_type.map(|event_type| Kind::EmitEvent { event_type, data })
            }
            "http_request" => crate::actions::compile_http_request(obj, path, templates, e.errors)
                .map(|a| Kind::HttpRequest(Box::new(a))),
            "send_message" => crate::actions::compile_send_message(obj, path, templates, e.errors)
                .map(|a| Kind::SendMessage(Box::new(a))),
            "send_email" => {
                crate::actions::compile_send_email(obj, path, templates, e.errors).map(|a| Kind::SendEmail(Box::new(a)))
            }
            "assign_owner" => {
                unknown_keys(obj, &["owner", "contact"], &mut e);
                let owner = template(obj, "owner", templates, &mut e);
                let contact = obj
                    .contains_key("contact")
                    .then(|| template(obj, "contact", templates, &mut e))
                    .flatten();
                owner.map(|owner| Kind::AssignOwner { owner, contact })
            }
            t if NOT_YET.contains(&t) => {
                e.at(
                    "type",
                    format!("the `{t}` action is not available in this version of hookflow yet"),
                );
                None
            }
            // Unknown or missing types are reported by `document::split`.
            _ => None,
        };
    (errors.len() == before).then_some(())?;
    Some(Step {
        id,
        type_name,
        kind: kind?,
    })
}

fn unknown_keys(obj: &Map<String, Value>, allowed: &[&str], e: &mut StepErrors<'_>) {
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

fn template(obj: &Map<String, Value>, field: &str, templates: &Templates, e: &mut StepErrors<'_>) -> Option<Template> {
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

fn condition_errors(list: Vec<hookflow_expr::ConditionError>, prefix: &str, e: &mut StepErrors<'_>) {
    for err in list {
        let field = match (prefix.is_empty(), err.path.is_empty()) {
            (true, _) => err.path,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{}", err.path),
        };
        e.at(&field, err.message);
    }
}

fn compile_filter(step: &Value, templates: &Templates, e: &mut StepErrors<'_>) -> Option<Kind> {
    let obj = step.as_object()?;
    unknown_keys(obj, &["match", "conditions"], e);
    if !obj.get("conditions").is_some_and(Value::is_array) {
        e.at(
            "conditions",
            "a filter needs `conditions`: a list of {left, op, right} or groups",
        );
        return None;
    }
    match hookflow_expr::compile_condition(templates, step) {
        Ok(node) => Some(Kind::Filter(node)),
        Err(list) => {
            condition_errors(list, "", e);
            None
        }
    }
}

fn compile_paths(obj: &Map<String, Value>, templates: &Templates, e: &mut StepErrors<'_>) -> Option<Kind> {
    unknown_keys(obj, &["branches", "otherwise"], e);
    let Some(list) = obj.get("branches").and_then(Value::as_array).filter(|b| !b.is_empty()) else {
        e.at(
            "branches",
            "paths need `branches`: a non-empty list of {name, when, steps}",
        );
        return None;
    };
    let mut names = BTreeSet::new();
    let mut branches = Vec::new();
    for (i, branch) in list.iter().enumerate() {
        let here = format!("branches[{i}]");
        let Some(b) = branch.as_object() else {
            e.at(&here, "a branch is an object with name, when and steps");
            continue;
        };
        for key in b.keys() {
            if !["name", "when", "steps"].contains(&key.as_str()) {
                e.at(
                    &format!("{here}.{key}"),
                    format!("unknown field `{key}`; a branch takes: name, steps, when"),
                );
            }
        }
        let name = b
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("branch {}", i + 1), str::to_owned);
        if !names.insert(name.clone()) {
            e.at(&format!("{here}.name"), format!("two branches are named `{name}`"));
        }
        let when = match b.get("when") {
            Some(when @ Value::Object(_)) => match hookflow_expr::compile_condition(templates, when) {
                Ok(node) => Some(node),
                Err(list) => {
                    condition_errors(list, &format!("{here}.when"), e);
                    None
                }
            },
            _ => {
                e.at(
                    &format!("{here}.when"),
                    "a branch needs `when`: a condition group {match, conditions}",
                );
                None
            }
        };
        let steps = nested(b.get("steps"), &format!("{}.{here}.steps", e.path), templates, e);
        if let (Some(when), Some(steps)) = (when, steps) {
            branches.push(Branch { name, when, steps });
        }
    }
    let otherwise = match obj.get("otherwise") {
        None | Some(Value::Null) => None,
        some => nested(some, &format!("{}.otherwise", e.path), templates, e),
    };
    Some(Kind::Paths { branches, otherwise })
}

fn nested(list: Option<&Value>, path: &str, templates: &Templates, e: &mut StepErrors<'_>) -> Option<Vec<Step>> {
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

fn compile_delay(obj: &Map<String, Value>, templates: &Templates, e: &mut StepErrors<'_>) -> Option<Kind> {
    unknown_keys(obj, &["for", "until", "at_time", "timezone"], e);
    let given: Vec<&str> = ["for", "until", "at_time"]
        .into_iter()
        .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if given.len() != 1 {
        e.at("", "a delay needs exactly one of `for` (a duration like 15m), `until` (a date-time) or `at_time` (HH:MM with a timezone)");
        return None;
    }
    match given[0] {
        "for" => {
            let text = obj["for"]
                .as_str()
                .map_or_else(|| obj["for"].to_string(), str::to_owned);
            match hookflow_core::retry::parse_duration(&text) {
                Ok(d) if d > Duration::from_secs(366 * 86_400) => {
                    e.at("for", "a delay may last at most 366 days");
                    None
                }
                Ok(d) => Some(Kind::Delay(Delay::For(d))),
                Err(err) => {
                    e.at("for", err);
                    None
                }
            }
        }
        "until" => template(obj, "until", templates, e).map(|t| Kind::Delay(Delay::Until(t))),
        _ => {
            let text = obj["at_time"].as_str().unwrap_or("");
            let parsed = text
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<i8>().ok()?, m.parse::<i8>().ok()?)));
            let Some((hour, minute)) = parsed.filter(|(h, m)| (0..24).contains(h) && (0..60).contains(m)) else {
                e.at("at_time", format!("`{text}` is not a time of day like 09:00"));
                return None;
            };
            let timezone_name = obj.get("timezone").and_then(Value::as_str).unwrap_or("UTC").to_owned();
            match jiff::tz::TimeZone::get(&timezone_name) {
                Ok(timezone) => Some(Kind::Delay(Delay::AtTime {
                    hour,
                    minute,
                    timezone,
                    timezone_name,
                })),
                Err(_) => {
                    e.at(
                        "timezone",
                        format!("`{timezone_name}` is not a timezone (use an IANA name like Asia/Kolkata)"),
                    );
                    None
                }
            }
        }
    }
}

fn compile_iterator(obj: &Map<String, Value>, templates: &Templates, e: &mut StepErrors<'_>) -> Option<Kind> {
    unknown_keys(obj, &["over", "steps", "max_items"], e);
    let over = template(obj, "over", templates, e);
    let max_items = match obj.get("max_items") {
        None | Some(Value::Null) => Some(ITERATOR_DEFAULT_CAP),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=ITERATOR_HARD_CAP as u64).contains(&n) => Some(n as usize),
            _ => {
                e.at(
                    "max_items",
                    format!("must be a whole number from 1 to {ITERATOR_HARD_CAP}"),
                );
                None
            }
        },
    };
    let steps = nested(obj.get("steps"), &format!("{}.steps", e.path), templates, e);
    Some(Kind::Iterator {
        over: over?,
        steps: steps?,
        max_items: max_items?,
    })
}

fn storage_value(
    obj: &Map<String, Value>,
    field: &str,
    templates: &Templates,
    e: &mut StepErrors<'_>,
) -> Option<StorageValue> {
    match obj.get(field)? {
        Value::String(s) => match templates.compile(s) {
            Ok(t) => Some(StorageValue::Template(t)),
            Err(err) => {
                e.at(field, format!("template error: {err}"));
                None
            }
        },
        other => Some(StorageValue::Literal(other.clone())),
    }
}

fn compile_storage(obj: &Map<String, Value>, templates: &Templates, e: &mut StepErrors<'_>) -> Option<Kind> {
    unknown_keys(obj, &["operation", "key", "value", "by"], e);
    let operation = match obj.get("operation").and_then(Value::as_str) {
        Some("get") => StorageOperation::Get,
        Some("set") => StorageOperation::Set,
        Some("increment") => StorageOperation::Increment,
        Some("delete") => StorageOperation::Delete,
        other => {
            let shown = other.map_or_else(|| "nothing".to_owned(), |o| format!("`{o}`"));
            e.at(
                "operation",
                format!("{shown} is not a storage operation; expected one of: get, set, increment, delete"),
            );
            return None;
        }
    };
    let key = template(obj, "key", templates, e);
    let value = storage_value(obj, "value", templates, e);
    if operation == StorageOperation::Set && value.is_none() && !obj.contains_key("value") {
        e.at("value", "`set` needs a `value`");
    }
    let by = storage_value(obj, "by", templates, e);
    match &by {
        Some(StorageValue::Literal(v)) if !v.is_number() => e.at("by", "must be a number or a template"),
        Some(StorageValue::Template(t)) if t.is_plain() && t.source().trim().parse::<f64>().is_err() => {
            e.at("by", format!("`{}` is not a number", t.source()))
        }
        _ => {}
    }
    if operation != StorageOperation::Increment && obj.contains_key("by") {
        e.at("by", "only `increment` takes `by`");
    }
    if operation != StorageOperation::Set && obj.contains_key("value") {
        e.at("value", "only `set` takes `value`");
    }
    Some(Kind::Storage(Storage {
        operation,
        key: key?,
        value,
        by,
    }))
}
