//! `formatter`: one of `hookflow-format`'s transformations; a counter is a storage operation.

use hookflow_format::Output;
use serde_json::Value;

use super::kind::{Source, StepKind};
use super::{storage, StepErrors};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StorageOp, StoreError};

#[derive(Clone)]
pub(crate) struct Formatter(hookflow_format::Formatter);

impl StepKind for Formatter {
    const TYPES: &'static [&'static str] = &["formatter"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        match hookflow_format::compile(source.templates, source.value) {
            Ok(f) => Some(Formatter(f)),
            Err(list) => {
                for err in list {
                    e.at(&err.path, err.message);
                }
                None
            }
        }
    }

    async fn run(
        &self,
        run: &mut Run<'_>,
        _: Live<'_>,
        here: Here<'_>,
        mut rec: StepRecord,
    ) -> Result<Flow, StoreError> {
        match self.format(run, &mut rec) {
            Ok(Output::Value(output)) => Ok(formatted(run, here, rec, output)),
            Ok(Output::Counter { name, by, read_only }) => {
                storage::apply(run, here, rec, counter(name, by, read_only)).await
            }
            Err(message) => Ok(run.fail(here, rec, message)),
        }
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord) -> Result<Flow, StoreError> {
        match self.format(run, &mut rec) {
            Ok(Output::Value(output)) => Ok(formatted(run, here, rec, output)),
            Ok(Output::Counter { name, by, read_only }) => {
                storage::simulate_op(run, here, rec, counter(name, by, read_only)).await
            }
            Err(message) => Ok(run.fail(here, rec, message)),
        }
    }
}

impl Formatter {
    /// Runs the transformation, with its input and missing attributes on `rec`.
    fn format(&self, run: &Run<'_>, rec: &mut StepRecord) -> Result<Output, String> {
        let outcome = self.0.run(run.templates, &run.ctx, rec.started_at.to_jiff());
        rec.input = outcome.input;
        rec.missing = outcome.missing;
        outcome.result
    }
}

fn formatted(run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord, output: Value) -> Flow {
    rec.output = output;
    run.set_output(here.id, rec.output.clone());
    run.save(rec);
    Flow::Continue
}

/// A counter's storage operation: a read, or an increment.
fn counter(name: String, by: f64, read_only: bool) -> StorageOp {
    if read_only {
        StorageOp::Get { key: name }
    } else {
        StorageOp::Increment { key: name, by }
    }
}
