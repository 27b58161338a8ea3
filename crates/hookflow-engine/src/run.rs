//! Running compiled steps over an execution's context, with the journal.
//!
//! A run walks the step tree from the top every time. A step whose journal
//! entry is final is not run again: its stored output is put back into the
//! context. So a retry or a restart resumes at the first unfinished step.
//!
//! This is the run's core: the walk, the journal and the limits. What each kind
//! of step does, live and simulated, is in its module under `steps/`
//! ([`crate::steps::kind::StepKind`]).
//!
//! Invariants in live mode:
//! - A step with an effect outside the run has its entry written as soon as
//!   the effect happened (an action after its request, a contact change after
//!   the change), with every entry before it, and before the next step starts.
//!   Storage, counter and emit steps write theirs in the same transaction as
//!   the change, so they happen exactly once.
//! - Entries of steps without effects (filters, formatters, paths, iterators,
//!   delays) wait in memory and are written with the next of those writes or
//!   with the execution's end or suspension. Lost in a crash, they are simply
//!   computed again: nothing outside the run saw them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use hookflow_core::{ConnectorId, ExecutionId, StepStatus, Timestamp, WorkspaceId};
use hookflow_expr::Templates;
use serde_json::{json, Map, Value};

use crate::contacts::ContactSpec;
use crate::steps::kind::StepKind;
use crate::steps::{Step, MAX_RUN_TIME, MAX_STEP_RUNS};
use crate::store::{Contacts, Runs, StepRecord, StoreError, Subscriptions};

pub use crate::steps::delay::{next_time_of_day, parse_instant};

/// The journal key of the field mapping, which runs before the steps. Not a valid step id.
pub const FIELD_MAPPING_KEY: &str = "@field_mapping";

/// The stores a run reads and writes, live or simulated.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    /// The journal and the workspace's data storage.
    pub runs: &'a dyn Runs,
    /// Contacts, members and channels.
    pub contacts: &'a dyn Contacts,
}

/// What a live run does its effects with. A simulation has none of it, so it cannot do them.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    /// Sends what actions send.
    pub client: &'a hookflow_delivery::Client,
    /// Where emitted events go.
    pub events: &'a dyn Subscriptions,
    /// Where outbound attempts are counted.
    pub metrics: &'a crate::metrics::Metrics,
    /// The connector of the event, for emitted events.
    pub connector: &'a ConnectorId,
}

/// Whether side effects happen.
#[derive(Clone, Copy)]
pub enum Mode<'a> {
    Live(Live<'a>),
    /// Nothing is written: the journal is kept in memory, storage changes and
    /// delays are recorded as side effects but not performed.
    Simulate,
}

/// How a list of steps ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    Continue,
    /// A filter did not pass: the list holding it stops.
    Filtered,
    /// A delay: come back at this time.
    Suspend(Timestamp),
    /// An action failed for now: try again at this time.
    Retry {
        at: Timestamp,
        reason: String,
    },
    Fail(String),
}

/// The step being run: its id and type, its journal key, and the prefix naming the iterations
/// holding it (`each[3].`), which the keys of the steps it holds start with.
#[derive(Clone, Copy)]
pub struct Here<'s> {
    pub id: &'s str,
    pub type_name: &'s str,
    pub key: &'s str,
    pub prefix: &'s str,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub struct Run<'a> {
    pub(crate) stores: Stores<'a>,
    pub(crate) templates: &'a Templates,
    pub(crate) workspace: WorkspaceId,
    pub(crate) execution: ExecutionId,
    mode: Mode<'a>,
    journal: HashMap<String, StepRecord>,
    next_seq: i64,
    /// `{event, steps, contact, system, item?, index?}`
    pub(crate) ctx: Value,
    /// Outputs set in the current iteration, innermost last.
    pub(crate) scopes: Vec<Map<String, Value>>,
    /// Steps run or reused so far, held to `MAX_STEP_RUNS`.
    step_runs: usize,
    /// When this run started, held to `MAX_RUN_TIME`.
    started: std::time::Instant,
    /// Every entry written or reused by this run, in order.
    pub records: Vec<StepRecord>,
    /// Entries of steps without effects, not yet written (live only).
    pending: Vec<StepRecord>,
    /// What a simulation did not do.
    pub side_effects: Vec<Value>,
    /// The workspace's country for local mobile numbers.
    pub default_country: Option<String>,
    /// The secret values this run may render, masked in everything it records.
    pub secrets: crate::secrets::Secrets,
}

impl<'a> Run<'a> {
    /// A run of an execution, resuming from its `journal`, over the context `ctx`.
    pub fn new(
        stores: Stores<'a>,
        templates: &'a Templates,
        workspace: WorkspaceId,
        execution: ExecutionId,
        mode: Mode<'a>,
        journal: Vec<StepRecord>,
        ctx: Value,
    ) -> Self {
        let next_seq = journal.iter().map(|r| r.seq).max().unwrap_or(0) + 1;
        let journal = journal.into_iter().map(|r| (r.key.clone(), r)).collect();
        let mut ctx = ctx;
        if !ctx.get("steps").is_some_and(Value::is_object) {
            ctx["steps"] = json!({});
        }
        Self {
            stores,
            templates,
            workspace,
            execution,
            mode,
            journal,
            next_seq,
            ctx,
            scopes: Vec::new(),
            step_runs: 0,
            started: std::time::Instant::now(),
            records: Vec::new(),
            pending: Vec::new(),
            side_effects: Vec::new(),
            default_country: None,
            secrets: crate::secrets::Secrets::default(),
        }
    }

    /// Finds or creates the event's contact (the connector's field mapping)
    /// and makes it the `contact` root; journaled like a step.
    pub async fn field_mapping(&mut self, spec: &ContactSpec) -> Result<Flow, StoreError> {
        if let Some(done) = self
            .journal
            .get(FIELD_MAPPING_KEY)
            .filter(|r| r.status.is_final())
            .cloned()
        {
            self.ctx["contact"] = done.output.clone();
            self.records.push(done.clone());
            return Ok(match done.status {
                StepStatus::Failed => Flow::Fail(done.error.unwrap_or_default()),
                _ => Flow::Continue,
            });
        }
        let here = Here {
            id: FIELD_MAPPING_KEY,
            type_name: "field_mapping",
            key: FIELD_MAPPING_KEY,
            prefix: "",
        };
        let rec = self.record(here, Timestamp::now());
        match self.mode {
            Mode::Live(live) => spec.run(self, live, here, rec).await,
            Mode::Simulate => spec.simulate(self, here, rec).await,
        }
    }

    /// Runs a list of steps; `prefix` names the iterations holding it.
    pub fn steps<'b>(&'b mut self, steps: &'b [Step], prefix: &'b str) -> Boxed<'b, Result<Flow, StoreError>>
    where
        'a: 'b,
    {
        Box::pin(async move {
            for step in steps {
                self.step_runs += 1;
                if self.step_runs > MAX_STEP_RUNS {
                    return Ok(Flow::Fail(format!(
                        "the execution ran more than {MAX_STEP_RUNS} steps (iterators inside iterators multiply \
                         their elements); it was stopped"
                    )));
                }
                if self.started.elapsed() > MAX_RUN_TIME {
                    return Ok(Flow::Fail(format!(
                        "the execution ran longer than {} s without waiting; it was stopped",
                        MAX_RUN_TIME.as_secs()
                    )));
                }
                let key = format!("{prefix}{}", step.id);
                // A finished step is never run again; paths re-enter to resume their branches.
                if !step.kind.reenters() {
                    if let Some(done) = self.journal.get(&key).filter(|r| r.status.is_final()).cloned() {
                        self.set_output(&step.id, done.output.clone());
                        self.records.push(done.clone());
                        match done.status {
                            StepStatus::Filtered => return Ok(Flow::Filtered),
                            StepStatus::Failed => return Ok(Flow::Fail(done.error.unwrap_or_default())),
                            _ => continue,
                        }
                    }
                }
                let here = Here {
                    id: &step.id,
                    type_name: &step.type_name,
                    key: &key,
                    prefix,
                };
                let rec = self.record(here, Timestamp::now());
                let flow = match self.mode {
                    Mode::Live(live) => step.kind.run(self, live, here, rec).await?,
                    Mode::Simulate => step.kind.simulate(self, here, rec).await?,
                };
                if flow != Flow::Continue {
                    return Ok(flow);
                }
            }
            Ok(Flow::Continue)
        })
    }

    /// The output of a step's final entry, reused: for a step that re-enters ([`StepKind::REENTERS`])
    /// to resume what it holds instead of deciding again.
    pub(crate) fn reuse(&mut self, key: &str) -> Option<Value> {
        let done = self.journal.get(key).filter(|r| r.status.is_final())?;
        let output = done.output.clone();
        self.records.push(done.clone());
        Some(output)
    }

    /// The entry of a step that is waiting (a delay), kept on the journal as it was.
    pub(crate) fn waiting(&self, key: &str) -> Option<&StepRecord> {
        self.journal.get(key).filter(|r| r.status == StepStatus::Waiting)
    }

    /// Keeps an entry this run shows but does not write again (a delay still waiting).
    pub(crate) fn shown(&mut self, rec: StepRecord) {
        self.records.push(rec);
    }

    /// Makes `output` the step's value in the `steps` root (and in the current iteration's).
    pub(crate) fn set_output(&mut self, id: &str, output: Value) {
        if id == FIELD_MAPPING_KEY {
            return;
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(id.to_owned(), output.clone());
        }
        self.ctx["steps"][id] = output;
    }

    fn record(&mut self, here: Here<'_>, started: Timestamp) -> StepRecord {
        let old = self.journal.get(here.key);
        let seq = match old {
            Some(old) => old.seq,
            None => {
                self.next_seq += 1;
                self.next_seq - 1
            }
        };
        StepRecord {
            execution_id: self.execution.clone(),
            key: here.key.to_owned(),
            seq,
            step_id: here.id.to_owned(),
            step_type: here.type_name.to_owned(),
            status: StepStatus::Succeeded,
            input: Value::Null,
            output: Value::Null,
            error: None,
            missing: Vec::new(),
            started_at: started,
            duration_ms: 0,
            attempts: old.map_or(1, |r| r.attempts + 1),
            attempt_log: old.map(|r| r.attempt_log.clone()).unwrap_or_default(),
        }
    }

    /// Keeps a journal entry to be written (live) and remembers it. Its step had no effect
    /// outside the run; see [`Run::save_now`] for one that had.
    pub(crate) fn save(&mut self, mut rec: StepRecord) {
        rec.duration_ms = (Timestamp::now().as_millis() - rec.started_at.as_millis()).max(0);
        self.mask(&mut rec);
        if matches!(self.mode, Mode::Live(_)) {
            self.pending.push(rec.clone());
        }
        self.remember(rec);
    }

    /// Writes a journal entry now, with every entry still pending before it.
    pub(crate) async fn save_now(&mut self, rec: StepRecord) -> Result<(), StoreError> {
        self.save(rec);
        self.flush().await
    }

    /// Writes the pending entries in one transaction. The last of them may stand for an effect
    /// that has happened (a request sent): a database that is briefly unavailable is tried
    /// again for a few seconds, since giving up means doing the effect again on the next try.
    pub(crate) async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut wait = std::time::Duration::from_millis(200);
        loop {
            match self.stores.runs.record_steps(&self.pending).await {
                Ok(()) => break,
                Err(e @ StoreError::Unavailable { .. }) if wait <= std::time::Duration::from_secs(2) => {
                    tracing::warn!(error = %e, "Writing the journal failed; trying again.");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Readies `rec` for a store call that commits it with an effect (a storage change, an
    /// emitted event), so that the effect happens exactly once: the pending entries are written
    /// first, so the journal keeps its order, and `rec` gets its duration so far.
    pub(crate) async fn before_commit(&mut self, rec: &mut StepRecord) -> Result<(), StoreError> {
        self.flush().await?;
        rec.duration_ms = (Timestamp::now().as_millis() - rec.started_at.as_millis()).max(0);
        Ok(())
    }

    /// The entries not yet written, for the write that ends or suspends the execution.
    pub fn take_pending(&mut self) -> Vec<StepRecord> {
        std::mem::take(&mut self.pending)
    }

    /// Replaces the run's secret values in what a journal entry shows, and cuts what nests too
    /// deep for the journal to be read back (a parsed answer or data parser can give 127 levels).
    fn mask(&self, rec: &mut StepRecord) {
        use hookflow_core::depth::{clip, MAX_STORED_DEPTH};
        let clipped = clip(&mut rec.input, MAX_STORED_DEPTH) | clip(&mut rec.output, MAX_STORED_DEPTH);
        if clipped && rec.error.is_none() {
            rec.error = Some(format!(
                "the journal shows this step's values to {MAX_STORED_DEPTH} levels"
            ));
        }
        if self.secrets.is_empty() {
            return;
        }
        self.secrets.mask(&mut rec.input);
        self.secrets.mask(&mut rec.output);
        rec.attempt_log.iter_mut().for_each(|a| self.secrets.mask(a));
        if let Some(masked) = rec.error.as_deref().and_then(|e| self.secrets.mask_text(e)) {
            rec.error = Some(masked);
        }
    }

    /// Remembers an entry as this run's latest of its key; one written by the store with an
    /// effect goes here directly.
    pub(crate) fn remember(&mut self, rec: StepRecord) {
        self.journal.insert(rec.key.clone(), rec.clone());
        self.records.push(rec);
    }

    /// Ends a step as failed with `message`; the list holding it stops.
    pub(crate) fn fail(&mut self, here: Here<'_>, mut rec: StepRecord, message: String) -> Flow {
        let message = self.secrets.mask_text(&message).unwrap_or(message);
        rec.status = StepStatus::Failed;
        rec.error = Some(message.clone());
        self.set_output(here.id, Value::Null);
        self.save(rec);
        Flow::Fail(format!("step `{}`: {message}", here.id))
    }

    /// Renders a template of a step: a render stopped by one of the templates' hard limits is the
    /// step's error, so the step fails before it acts on an empty value.
    pub(crate) fn render(&self, template: &hookflow_expr::Template) -> Result<hookflow_expr::Rendered, String> {
        let rendered = self.templates.render(template, &self.ctx);
        match rendered.limit_error() {
            Some(message) => Err(message.to_owned()),
            None => Ok(rendered),
        }
    }

    /// Records what a simulation did not do.
    pub(crate) fn side_effect(&mut self, effect: Value) {
        self.side_effects.push(effect);
    }
}

#[cfg(test)]
mod tests;
