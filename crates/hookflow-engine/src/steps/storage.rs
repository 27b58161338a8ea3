//! `storage`: get, set, increment or delete a value of the workspace's data storage. A live
//! change commits with its journal entry, so it happens exactly once; a simulation reads but
//! does not change. Formatter counters go through [`apply`] and [`simulate_op`] too.

use hookflow_expr::{Template, Templates};
use serde_json::{json, Map, Value};

use super::kind::{Source, StepKind};
use super::{template, unknown_keys, StepErrors};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StorageOp, StoreError};

#[derive(Clone)]
pub(crate) struct Storage {
    operation: StorageOperation,
    key: Template,
    /// `set`: the value (a template when a string).
    value: Option<StorageValue>,
    /// `increment`: the amount (a template or a number).
    by: Option<StorageValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StorageOperation {
    Get,
    Set,
    Increment,
    Delete,
}

#[derive(Clone)]
enum StorageValue {
    Template(Template),
    Literal(Value),
}

impl StepKind for Storage {
    const TYPES: &'static [&'static str] = &["storage"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let (obj, templates) = (source.obj, source.templates);
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
        Some(Storage {
            operation,
            key: key?,
            value,
            by,
        })
    }

    async fn run(
        &self,
        run: &mut Run<'_>,
        _: Live<'_>,
        here: Here<'_>,
        mut rec: StepRecord,
    ) -> Result<Flow, StoreError> {
        match self.op(run, &mut rec) {
            Ok(op) => apply(run, here, rec, op).await,
            Err(message) => Ok(run.fail(here, rec, message)),
        }
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord) -> Result<Flow, StoreError> {
        match self.op(run, &mut rec) {
            Ok(op) => simulate_op(run, here, rec, op).await,
            Err(message) => Ok(run.fail(here, rec, message)),
        }
    }
}

impl Storage {
    /// Renders the step into an operation, with its rendered input and missing attributes on `rec`.
    fn op(&self, run: &Run<'_>, rec: &mut StepRecord) -> Result<StorageOp, String> {
        let key = match run.render(&self.key) {
            Ok(key) => key,
            Err(message) => {
                rec.input = json!({});
                return Err(message);
            }
        };
        let mut missing = key.missing.clone();
        let mut exceeded = None;
        let key_text = key.text();
        let mut input = json!({"key": key_text});
        let mut value_of = |v: &Option<StorageValue>, name: &str| -> Option<Value> {
            let value = match v.as_ref()? {
                StorageValue::Template(t) => {
                    let r = run.templates.render(t, &run.ctx);
                    exceeded = exceeded.take().or(r.limit_error().map(str::to_owned));
                    missing.extend(r.missing);
                    r.value
                }
                StorageValue::Literal(v) => v.clone(),
            };
            input[name] = value.clone();
            Some(value)
        };
        let value = value_of(&self.value, "value");
        let by = value_of(&self.by, "by");
        rec.input = input;
        rec.missing = missing;
        if let Some(message) = exceeded {
            return Err(message);
        }
        if key_text.trim().is_empty() {
            return Err("the key rendered empty".into());
        }
        let op = match self.operation {
            StorageOperation::Get => StorageOp::Get { key: key_text },
            StorageOperation::Delete => StorageOp::Delete { key: key_text },
            StorageOperation::Set => StorageOp::Set {
                key: key_text,
                value: value.unwrap_or(Value::Null),
            },
            StorageOperation::Increment => match by.as_ref().map_or(Some(1.0), number) {
                Some(by) if by.is_finite() => StorageOp::Increment { key: key_text, by },
                _ => {
                    let shown = by.map_or("nothing".into(), |b| b.to_string());
                    return Err(format!("`by` must be a number, not {shown}"));
                }
            },
        };
        Ok(op)
    }
}

/// Applies a storage operation in a live run. A change commits with the step's entry; a read of
/// a counter (a formatter's) writes no entry of its own and reads 0 when it was never
/// incremented.
pub(super) async fn apply(
    run: &mut Run<'_>,
    here: Here<'_>,
    mut rec: StepRecord,
    op: StorageOp,
) -> Result<Flow, StoreError> {
    let result = if counter_read(here, &op) {
        run.stores
            .runs
            .storage_apply(&run.workspace, &op, None)
            .await?
            .map(|v| if v.is_null() { json!(0) } else { v })
    } else {
        run.before_commit(&mut rec).await?;
        let result = run.stores.runs.storage_apply(&run.workspace, &op, Some(&rec)).await?;
        if let Ok(value) = &result {
            // Written by the store in the same transaction as the change.
            rec.output = json!({"value": value});
            run.set_output(here.id, rec.output.clone());
            run.remember(rec);
            return Ok(Flow::Continue);
        }
        result
    };
    Ok(ended(run, here, rec, result))
}

/// A storage operation in a simulation: a read reads, a change is recorded and answered as it
/// would be.
pub(super) async fn simulate_op(
    run: &mut Run<'_>,
    here: Here<'_>,
    rec: StepRecord,
    op: StorageOp,
) -> Result<Flow, StoreError> {
    let runs = run.stores.runs;
    let result = match &op {
        StorageOp::Get { .. } => {
            let counter = counter_read(here, &op);
            runs.storage_apply(&run.workspace, &op, None)
                .await?
                .map(|v| if v.is_null() && counter { json!(0) } else { v })
        }
        StorageOp::Increment { key, by } => {
            let current = runs
                .storage_apply(&run.workspace, &StorageOp::Get { key: key.clone() }, None)
                .await?;
            run.side_effect(json!({"step": here.id, "storage": "increment", "key": key, "by": whole(*by)}));
            current.and_then(|c| match number(&c).or(c.is_null().then_some(0.0)) {
                Some(n) => Ok(whole(n + by)),
                None => Err(format!("cannot increment `{key}`: the value {c} is not a number")),
            })
        }
        StorageOp::Set { key, value } => {
            run.side_effect(json!({"step": here.id, "storage": "set", "key": key, "value": value}));
            Ok(value.clone())
        }
        StorageOp::Delete { key } => {
            run.side_effect(json!({"step": here.id, "storage": "delete", "key": key}));
            Ok(Value::Null)
        }
    };
    Ok(ended(run, here, rec, result))
}

/// A formatter's counter read: 0, not null, when it was never incremented.
fn counter_read(here: Here<'_>, op: &StorageOp) -> bool {
    here.type_name == "formatter" && matches!(op, StorageOp::Get { .. })
}

fn ended(run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord, result: Result<Value, String>) -> Flow {
    match result {
        Ok(value) => {
            rec.output = json!({"value": value});
            run.set_output(here.id, rec.output.clone());
            run.save(rec);
            Flow::Continue
        }
        Err(message) => run.fail(here, rec, message),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn whole(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
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
