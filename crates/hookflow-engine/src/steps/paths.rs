//! `paths`: the branches whose conditions pass run, or `otherwise` when none does.
//!
//! The decision is journaled: on resumption the step re-enters, reads it back and resumes the
//! chosen branches, whatever the context says now.

use std::collections::BTreeSet;

use hookflow_expr::CompiledNode;
use serde_json::{json, Value};

use super::kind::{Source, StepKind};
use super::{condition_errors, nested, unknown_keys, Step, StepErrors};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

#[derive(Clone)]
pub(crate) struct Paths {
    branches: Vec<Branch>,
    otherwise: Option<Vec<Step>>,
}

#[derive(Clone)]
struct Branch {
    name: String,
    when: CompiledNode,
    steps: Vec<Step>,
}

impl StepKind for Paths {
    const TYPES: &'static [&'static str] = &["paths"];
    const REENTERS: bool = true;

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let (obj, templates) = (source.obj, source.templates);
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
        Some(Paths { branches, otherwise })
    }

    async fn run(&self, run: &mut Run<'_>, _: Live<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        self.walk(run, here, rec).await
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        self.walk(run, here, rec).await
    }
}

impl Paths {
    async fn walk(&self, run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord) -> Result<Flow, StoreError> {
        let output = match run.reuse(here.key) {
            Some(output) => output,
            None => {
                let mut matched = Vec::new();
                let mut details = Vec::new();
                for branch in &self.branches {
                    let outcome = hookflow_expr::evaluate(run.templates, &branch.when, &run.ctx);
                    rec.missing.extend(outcome.missing);
                    details.push(json!({"name": branch.name, "passed": outcome.passed,
                        "conditions": serde_json::to_value(&outcome.detail).unwrap_or(Value::Null)}));
                    if outcome.passed {
                        matched.push(branch.name.clone());
                    }
                }
                rec.input = json!({"branches": details});
                rec.output = json!({"matched": matched, "otherwise": matched.is_empty() && self.otherwise.is_some()});
                let output = rec.output.clone();
                run.save(rec);
                output
            }
        };
        run.set_output(here.id, output.clone());
        let matched: Vec<&str> = output["matched"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for branch in self.branches.iter().filter(|b| matched.contains(&b.name.as_str())) {
            match run.steps(&branch.steps, here.prefix).await? {
                // A filter inside a branch stops that branch only.
                Flow::Continue | Flow::Filtered => {}
                other => return Ok(other),
            }
        }
        if output["otherwise"] == true {
            if let Some(list) = &self.otherwise {
                match run.steps(list, here.prefix).await? {
                    Flow::Continue | Flow::Filtered => {}
                    other => return Ok(other),
                }
            }
        }
        Ok(Flow::Continue)
    }
}
