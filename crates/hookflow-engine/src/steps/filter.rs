//! `filter`: the list holding it stops unless its conditions pass.

use hookflow_core::StepStatus;
use hookflow_expr::CompiledNode;
use serde_json::{json, Value};

use super::kind::{Source, StepKind};
use super::{condition_errors, unknown_keys, StepErrors};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

#[derive(Clone)]
pub(crate) struct Filter(CompiledNode);

impl StepKind for Filter {
    const TYPES: &'static [&'static str] = &["filter"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let obj = source.obj;
        unknown_keys(obj, &["match", "conditions"], e);
        if !obj.get("conditions").is_some_and(Value::is_array) {
            e.at(
                "conditions",
                "a filter needs `conditions`: a list of {left, op, right} or groups",
            );
            return None;
        }
        match hookflow_expr::compile_condition(source.templates, source.value) {
            Ok(node) => Some(Filter(node)),
            Err(list) => {
                condition_errors(list, "", e);
                None
            }
        }
    }

    async fn run(&self, run: &mut Run<'_>, _: Live<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        Ok(self.check(run, here, rec))
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        Ok(self.check(run, here, rec))
    }
}

impl Filter {
    fn check(&self, run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord) -> Flow {
        let outcome = hookflow_expr::evaluate(run.templates, &self.0, &run.ctx);
        rec.input = json!({"conditions": serde_json::to_value(&outcome.detail).unwrap_or(Value::Null)});
        rec.output = json!({"passed": outcome.passed});
        rec.missing = outcome.missing;
        if !outcome.errors.is_empty() {
            rec.error = Some(outcome.errors.join("; "));
        }
        rec.status = if outcome.passed {
            StepStatus::Succeeded
        } else {
            StepStatus::Filtered
        };
        run.set_output(here.id, rec.output.clone());
        run.save(rec);
        if outcome.passed {
            Flow::Continue
        } else {
            Flow::Filtered
        }
    }
}
