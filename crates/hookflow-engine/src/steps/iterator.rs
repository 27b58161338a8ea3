//! `iterator`: its steps run once per element of an array, each element under keys of its own
//! (`each[3].line`); a filter inside skips the rest of that element only.

use hookflow_expr::Template;
use serde_json::{json, Map, Value};

use super::kind::{Source, StepKind};
use super::{nested, template, unknown_keys, Step, StepErrors, ITERATOR_DEFAULT_CAP, ITERATOR_HARD_CAP};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

#[derive(Clone)]
pub(crate) struct Iterate {
    over: Template,
    steps: Vec<Step>,
    max_items: usize,
}

impl StepKind for Iterate {
    const TYPES: &'static [&'static str] = &["iterator"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let (obj, templates) = (source.obj, source.templates);
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
        Some(Iterate {
            over: over?,
            steps: steps?,
            max_items: max_items?,
        })
    }

    async fn run(&self, run: &mut Run<'_>, _: Live<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        self.each(run, here, rec).await
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        self.each(run, here, rec).await
    }
}

impl Iterate {
    async fn each(&self, run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord) -> Result<Flow, StoreError> {
        let started = rec.started_at;
        let rendered = match run.render(&self.over) {
            Ok(r) => r,
            Err(message) => return Ok(run.fail(here, rec, message)),
        };
        rec.missing = rendered.missing;
        let items = match rendered.value {
            Value::Array(items) => items,
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Array(items)) => items,
                _ => {
                    let message = format!("`over` must give an array, not the text `{}`", clip(&s));
                    return Ok(run.fail(here, rec, message));
                }
            },
            Value::Null => Vec::new(),
            other => {
                let message = format!("`over` must give an array, not {}", kind_of(&other));
                return Ok(run.fail(here, rec, message));
            }
        };
        let total = items.len();
        let max_items = self.max_items;
        rec.input = json!({"over": self.over.source(), "items": total, "max_items": max_items});
        let saved_item = (run.ctx.get("item").cloned(), run.ctx.get("index").cloned());
        let mut collected = Vec::new();
        for (index, item) in items.into_iter().take(max_items).enumerate() {
            run.ctx["item"] = item;
            run.ctx["index"] = json!(index);
            run.scopes.push(Map::new());
            let inner = format!("{}{}[{index}].", here.prefix, here.id);
            let flow = run.steps(&self.steps, &inner).await?;
            let outputs = run.scopes.pop().unwrap_or_default();
            match flow {
                // A filter inside a loop skips the rest of that element only.
                Flow::Continue | Flow::Filtered => collected.push(Value::Object(outputs)),
                other => return Ok(other),
            }
        }
        for (name, value) in [("item", saved_item.0), ("index", saved_item.1)] {
            match value {
                Some(v) => run.ctx[name] = v,
                None => {
                    if let Some(obj) = run.ctx.as_object_mut() {
                        obj.remove(name);
                    }
                }
            }
        }
        if let Some(steps_obj) = run.ctx["steps"].as_object_mut() {
            for inner in &self.steps {
                steps_obj.remove(&inner.id);
            }
        }
        if total > max_items {
            rec.error = Some(format!("only the first {max_items} of {total} elements were handled"));
        }
        rec.output = Value::Array(collected);
        rec.started_at = started;
        run.set_output(here.id, rec.output.clone());
        run.save(rec);
        Ok(Flow::Continue)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn clip(s: &str) -> String {
    let clipped: String = s.chars().take(60).collect();
    if clipped.len() < s.len() {
        format!("{clipped}…")
    } else {
        clipped
    }
}
