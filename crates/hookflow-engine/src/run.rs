//! Running compiled steps over an execution's context, with the journal.
//!
//! A run walks the step tree from the top every time. A step whose journal
//! entry is final is not run again: its stored output is put back into the
//! context. So a retry or a restart resumes at the first unfinished step.
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

use hookflow_core::{ExecutionId, StepStatus, Timestamp, WorkspaceId};
use hookflow_expr::Templates;
use serde_json::{json, Map, Value};

use crate::contacts::{self, ContactSpec};
use crate::steps::{Delay, Kind, Step, Storage, StorageOperation, StorageValue};
use crate::store::{ContactChanges, ContactMatch, StepRecord, StorageOp, Store, StoreError};

/// The journal key of the field mapping, which runs before the steps. Not a valid step id.
pub const FIELD_MAPPING_KEY: &str = "@field_mapping";

/// Which contact a contact step changes.
enum Target {
    /// Found (or created) by unique key, mobile or email.
    Find(ContactMatch),
    /// An existing contact, by id.
    Id(hookflow_core::ContactId),
}

/// Whether side effects happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Live,
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

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub struct Run<'a> {
    store: &'a dyn Store,
    templates: &'a Templates,
    workspace: WorkspaceId,
    execution: ExecutionId,
    mode: Mode,
    journal: HashMap<String, StepRecord>,
    next_seq: i64,
    /// `{event, steps, contact, system, item?, index?}`
    ctx: Value,
    /// Outputs set in the current iteration, innermost last.
    scopes: Vec<Map<String, Value>>,
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
    /// The connector of the event, for emitted events.
    pub connector: Option<hookflow_core::ConnectorId>,
    /// Where outbound attempts are counted.
    pub metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    /// Sends what actions send; live runs need one.
    pub client: Option<std::sync::Arc<hookflow_delivery::Client>>,
    /// The secret values this run may render, masked in everything it records.
    pub secrets: crate::secrets::Secrets,
}

impl<'a> Run<'a> {
    pub fn new(
        store: &'a dyn Store,
        templates: &'a Templates,
        workspace: WorkspaceId,
        execution: ExecutionId,
        mode: Mode,
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
            store,
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
            connector: None,
            metrics: None,
            client: None,
            secrets: crate::secrets::Secrets::default(),
        }
    }

    /// Finds or creates the event's contact (the connector's field mapping)
    /// and makes it the `contact` root; journaled like a step.
    pub async fn field_mapping(&mut self, spec: &ContactSpec) -> Result<Flow, StoreError> {
        let step = Step {
            id: FIELD_MAPPING_KEY.to_owned(),
            type_name: "field_mapping".to_owned(),
            kind: Kind::UpsertContact(Box::new(spec.clone())),
        };
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
        self.step(&step, FIELD_MAPPING_KEY, "").await
    }

    fn set_output(&mut self, id: &str, output: Value) {
        if id == FIELD_MAPPING_KEY {
            return;
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(id.to_owned(), output.clone());
        }
        self.ctx["steps"][id] = output;
    }

    fn record(&mut self, step: &Step, key: &str, started: Timestamp) -> StepRecord {
        let seq = match self.journal.get(key) {
            Some(old) => old.seq,
            None => {
                self.next_seq += 1;
                self.next_seq - 1
            }
        };
        StepRecord {
            execution_id: self.execution.clone(),
            key: key.to_owned(),
            seq,
            step_id: step.id.clone(),
            step_type: step.type_name.clone(),
            status: StepStatus::Succeeded,
            input: Value::Null,
            output: Value::Null,
            error: None,
            missing: Vec::new(),
            started_at: started,
            duration_ms: 0,
            attempts: self.journal.get(key).map_or(1, |r| r.attempts + 1),
            attempt_log: self.journal.get(key).map(|r| r.attempt_log.clone()).unwrap_or_default(),
        }
    }

    /// Keeps a journal entry to be written (live) and remembers it. Its step had no effect
    /// outside the run; see [`Run::save_now`] for one that had.
    async fn save(&mut self, mut rec: StepRecord) -> Result<(), StoreError> {
        rec.duration_ms = (Timestamp::now().as_millis() - rec.started_at.as_millis()).max(0);
        self.mask(&mut rec);
        if self.mode == Mode::Live {
            self.pending.push(rec.clone());
        }
        self.remember(rec);
        Ok(())
    }

    /// Writes a journal entry now, with every entry still pending before it.
    async fn save_now(&mut self, rec: StepRecord) -> Result<(), StoreError> {
        self.save(rec).await?;
        self.flush().await
    }

    /// Writes the pending entries in one transaction. The last of them may stand for an effect
    /// that has happened (a request sent): a database that is briefly unavailable is tried
    /// again for a few seconds, since giving up means doing the effect again on the next try.
    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut wait = std::time::Duration::from_millis(200);
        loop {
            match self.store.record_steps(&self.pending).await {
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

    fn remember(&mut self, rec: StepRecord) {
        self.journal.insert(rec.key.clone(), rec.clone());
        self.records.push(rec);
    }

    /// Runs a list of steps; `prefix` names the iterations holding it.
    pub fn steps<'b>(&'b mut self, steps: &'b [Step], prefix: &'b str) -> Boxed<'b, Result<Flow, StoreError>>
    where
        'a: 'b,
    {
        Box::pin(async move {
            for step in steps {
                self.step_runs += 1;
                if self.step_runs > crate::steps::MAX_STEP_RUNS {
                    return Ok(Flow::Fail(format!(
                        "the execution ran more than {} steps (iterators inside iterators multiply their \
                         elements); it was stopped",
                        crate::steps::MAX_STEP_RUNS
                    )));
                }
                if self.started.elapsed() > crate::steps::MAX_RUN_TIME {
                    return Ok(Flow::Fail(format!(
                        "the execution ran longer than {} s without waiting; it was stopped",
                        crate::steps::MAX_RUN_TIME.as_secs()
                    )));
                }
                let key = format!("{prefix}{}", step.id);
                // A finished step is never run again; paths re-enter to resume their branches.
                if let Some(done) = self.journal.get(&key).filter(|r| r.status.is_final()).cloned() {
                    if !matches!(step.kind, Kind::Paths { .. }) {
                        self.set_output(&step.id, done.output.clone());
                        self.records.push(done.clone());
                        match done.status {
                            StepStatus::Filtered => return Ok(Flow::Filtered),
                            StepStatus::Failed => return Ok(Flow::Fail(done.error.unwrap_or_default())),
                            _ => continue,
                        }
                    }
                }
                let flow = self.step(step, &key, prefix).await?;
                if flow != Flow::Continue {
                    return Ok(flow);
                }
            }
            Ok(Flow::Continue)
        })
    }

    async fn step(&mut self, step: &Step, key: &str, prefix: &str) -> Result<Flow, StoreError> {
        let started = Timestamp::now();
        let mut rec = self.record(step, key, started);
        match &step.kind {
            Kind::Filter(node) => {
                let outcome = hookflow_expr::evaluate(self.templates, node, &self.ctx);
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
                self.set_output(&step.id, rec.output.clone());
                self.save(rec).await?;
                Ok(if outcome.passed { Flow::Continue } else { Flow::Filtered })
            }
            Kind::Formatter(formatter) => {
                let outcome = formatter.run(self.templates, &self.ctx, started.to_jiff());
                rec.input = outcome.input;
                rec.missing = outcome.missing;
                match outcome.result {
                    Ok(hookflow_format::Output::Value(output)) => {
                        rec.output = output;
                        self.set_output(&step.id, rec.output.clone());
                        self.save(rec).await?;
                        Ok(Flow::Continue)
                    }
                    Ok(hookflow_format::Output::Counter { name, by, read_only }) => {
                        let op = if read_only {
                            StorageOp::Get { key: name }
                        } else {
                            StorageOp::Increment { key: name, by }
                        };
                        self.storage(step, rec, op).await
                    }
                    Err(message) => self.fail(step, rec, message).await,
                }
            }
            Kind::Storage(storage) => {
                let (op, input, missing) = self.storage_op(storage);
                rec.input = input;
                rec.missing = missing;
                match op {
                    Ok(op) => self.storage(step, rec, op).await,
                    Err(message) => self.fail(step, rec, message).await,
                }
            }
            Kind::Delay(delay) => self.delay(step, rec, delay).await,
            Kind::HttpRequest(_) | Kind::SendMessage(_) | Kind::SendEmail(_) => self.action(step, rec).await,
            Kind::EmitEvent { event_type, data } => {
                let (mut missing, mut errors) = (Vec::new(), Vec::new());
                let data = data.render(self.templates, &self.ctx, &mut missing, &mut errors);
                rec.input = json!({"event_type": event_type, "data": data});
                rec.missing = missing;
                if let Some(error) = errors.first() {
                    return self.fail(step, rec, format!("a template failed: {error}")).await;
                }
                let message = match self.mode {
                    Mode::Live => {
                        // Earlier entries first, so the journal keeps its order.
                        self.flush().await?;
                        rec.duration_ms = (Timestamp::now().as_millis() - rec.started_at.as_millis()).max(0);
                        // The event and this entry commit together: emitted exactly once.
                        let message = crate::messages::Message {
                            event_type: event_type.clone(),
                            connector: self.connector.clone(),
                            data,
                        };
                        self.store.emit(&self.workspace, &message, None, Some(&rec)).await?
                    }
                    Mode::Simulate => {
                        self.side_effects
                            .push(json!({"step": step.id, "emit": event_type, "data": data}));
                        None
                    }
                };
                rec.output = json!({"message_id": message, "type": event_type});
                self.set_output(&step.id, rec.output.clone());
                if self.mode == Mode::Live {
                    self.remember(rec);
                } else {
                    self.save(rec).await?;
                }
                Ok(Flow::Continue)
            }
            Kind::UpsertContact(spec) => {
                let resolved = contacts::resolve(
                    spec,
                    self.templates,
                    &self.ctx,
                    self.store,
                    &self.workspace,
                    self.default_country.as_deref(),
                )
                .await?;
                let resolved = match resolved {
                    Ok(r) => r,
                    Err(message) => return self.fail(step, rec, message).await,
                };
                rec.input = resolved.input;
                rec.missing = resolved.missing;
                if resolved.find.mobile.is_none() && resolved.find.email.is_none() && resolved.find.unique_key.is_none()
                {
                    let message = "the event gave no mobile, email or unique key to find or create the contact by";
                    return self.fail(step, rec, message.to_owned()).await;
                }
                self.contact_change(step, rec, Target::Find(resolved.find), resolved.changes)
                    .await
            }
            Kind::Tags { add, tags, contact } => {
                let rendered = match self.render(tags) {
                    Ok(r) => r,
                    Err(message) => return self.fail(step, rec, message).await,
                };
                rec.missing = rendered.missing.clone();
                let list = contacts::split_tags(&rendered.text());
                rec.input = json!({"tags": list});
                if list.is_empty() {
                    return self
                        .fail(step, rec, "no tags to change: `tags` rendered empty".into())
                        .await;
                }
                let changes = if *add {
                    ContactChanges {
                        add_tags: list,
                        ..Default::default()
                    }
                } else {
                    ContactChanges {
                        remove_tags: list,
                        ..Default::default()
                    }
                };
                match self.target_contact(contact, &mut rec) {
                    Ok(target) => self.contact_change(step, rec, target, changes).await,
                    Err(message) => self.fail(step, rec, message).await,
                }
            }
            Kind::AssignOwner { owner, contact } => {
                let rendered = match self.render(owner) {
                    Ok(r) => r,
                    Err(message) => return self.fail(step, rec, message).await,
                };
                rec.missing = rendered.missing.clone();
                let email = rendered.text().trim().to_ascii_lowercase();
                rec.input = json!({"owner": email});
                let Some(member) = self.store.member_by_email(&self.workspace, &email).await? else {
                    return self
                        .fail(
                            step,
                            rec,
                            format!("there is no member with the email `{email}` to own the contact"),
                        )
                        .await;
                };
                let changes = ContactChanges {
                    owner_id: Some(member.id),
                    ..Default::default()
                };
                match self.target_contact(contact, &mut rec) {
                    Ok(target) => self.contact_change(step, rec, target, changes).await,
                    Err(message) => self.fail(step, rec, message).await,
                }
            }
            Kind::Iterator { over, steps, max_items } => {
                let rendered = match self.render(over) {
                    Ok(r) => r,
                    Err(message) => return self.fail(step, rec, message).await,
                };
                rec.missing = rendered.missing;
                let items = match rendered.value {
                    Value::Array(items) => items,
                    Value::String(s) => match serde_json::from_str::<Value>(&s) {
                        Ok(Value::Array(items)) => items,
                        _ => {
                            return self
                                .fail(
                                    step,
                                    rec,
                                    format!("`over` must give an array, not the text `{}`", clip(&s)),
                                )
                                .await
                        }
                    },
                    Value::Null => Vec::new(),
                    other => {
                        return self
                            .fail(step, rec, format!("`over` must give an array, not {}", kind_of(&other)))
                            .await
                    }
                };
                let total = items.len();
                rec.input = json!({"over": over.source(), "items": total, "max_items": max_items});
                let saved_item = (self.ctx.get("item").cloned(), self.ctx.get("index").cloned());
                let mut collected = Vec::new();
                for (index, item) in items.into_iter().take(*max_items).enumerate() {
                    self.ctx["item"] = item;
                    self.ctx["index"] = json!(index);
                    self.scopes.push(Map::new());
                    let inner = format!("{prefix}{}[{index}].", step.id);
                    let flow = self.steps(steps, &inner).await?;
                    let outputs = self.scopes.pop().unwrap_or_default();
                    match flow {
                        // A filter inside a loop skips the rest of that element only.
                        Flow::Continue | Flow::Filtered => collected.push(Value::Object(outputs)),
                        other => return Ok(other),
                    }
                }
                for (name, value) in [("item", saved_item.0), ("index", saved_item.1)] {
                    match value {
                        Some(v) => self.ctx[name] = v,
                        None => {
                            if let Some(obj) = self.ctx.as_object_mut() {
                                obj.remove(name);
                            }
                        }
                    }
                }
                if let Some(steps_obj) = self.ctx["steps"].as_object_mut() {
                    for inner in steps {
                        steps_obj.remove(&inner.id);
                    }
                }
                if total > *max_items {
                    rec.error = Some(format!("only the first {max_items} of {total} elements were handled"));
                }
                rec.output = Value::Array(collected);
                rec.started_at = started;
                self.set_output(&step.id, rec.output.clone());
                self.save(rec).await?;
                Ok(Flow::Continue)
            }
            Kind::Paths { branches, otherwise } => {
                let decided = self
                    .journal
                    .get(key)
                    .filter(|r| r.status.is_final())
                    .map(|r| r.output.clone());
                let output = match decided {
                    Some(output) => {
                        self.records.push(self.journal[key].clone());
                        output
                    }
                    None => {
                        let mut matched = Vec::new();
                        let mut details = Vec::new();
                        for branch in branches {
                            let outcome = hookflow_expr::evaluate(self.templates, &branch.when, &self.ctx);
                            rec.missing.extend(outcome.missing);
                            details.push(json!({"name": branch.name, "passed": outcome.passed,
                                "conditions": serde_json::to_value(&outcome.detail).unwrap_or(Value::Null)}));
                            if outcome.passed {
                                matched.push(branch.name.clone());
                            }
                        }
                        rec.input = json!({"branches": details});
                        rec.output =
                            json!({"matched": matched, "otherwise": matched.is_empty() && otherwise.is_some()});
                        let output = rec.output.clone();
                        self.save(rec).await?;
                        output
                    }
                };
                self.set_output(&step.id, output.clone());
                let matched: Vec<&str> = output["matched"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for branch in branches.iter().filter(|b| matched.contains(&b.name.as_str())) {
                    match self.steps(&branch.steps, prefix).await? {
                        // A filter inside a branch stops that branch only.
                        Flow::Continue | Flow::Filtered => {}
                        other => return Ok(other),
                    }
                }
                if output["otherwise"] == true {
                    if let Some(list) = otherwise {
                        match self.steps(list, prefix).await? {
                            Flow::Continue | Flow::Filtered => {}
                            other => return Ok(other),
                        }
                    }
                }
                Ok(Flow::Continue)
            }
        }
    }

    /// The contact a tag or owner step changes: `contact` (an id template) or the event's contact.
    fn target_contact(
        &self,
        contact: &Option<hookflow_expr::Template>,
        rec: &mut StepRecord,
    ) -> Result<Target, String> {
        let id = match contact {
            Some(t) => {
                let r = self.render(t)?;
                rec.missing.extend(r.missing.iter().cloned());
                r.text().trim().to_owned()
            }
            None => self.ctx["contact"]["id"].as_str().unwrap_or_default().to_owned(),
        };
        if id.is_empty() {
            return Err("there is no contact: map one in the field mapping, upsert one, or give `contact`".into());
        }
        rec.input["contact"] = json!(id);
        id.parse()
            .map(Target::Id)
            .map_err(|_| format!("`{id}` is not a contact id"))
    }

    /// Applies contact changes (live) or records them (simulate), and makes
    /// the result the `contact` root and the step's output.
    async fn contact_change(
        &mut self,
        step: &Step,
        mut rec: StepRecord,
        target: Target,
        changes: ContactChanges,
    ) -> Result<Flow, StoreError> {
        let contact = match (self.mode, &target) {
            (Mode::Live, Target::Id(id)) => self
                .store
                .update_contact(&self.workspace, id, &changes)
                .await
                .map(|c| c.map(|c| (c, false))),
            (Mode::Live, Target::Find(find)) => self.store.upsert_contact(&self.workspace, find, &changes, true).await,
            (Mode::Simulate, _) => {
                let found = match &target {
                    Target::Id(id) => self.store.get_contact(&self.workspace, id).await?,
                    Target::Find(find) => self.store.find_contact(&self.workspace, find).await?,
                };
                self.side_effects.push(
                    json!({"step": step.id, "contact": if found.is_some() { "update" } else { "create" },
                    "input": rec.input}),
                );
                Ok(found.map(|c| (c, false)))
            }
        };
        let contact = match contact {
            Ok(c) => c,
            Err(StoreError::Conflict { .. }) => {
                return self
                    .fail(step, rec, "another contact already has this mobile number".into())
                    .await;
            }
            Err(e) => return Err(e),
        };
        let output = match contact {
            Some((c, created)) => {
                let mut v = contacts::contact_value(self.store, &c).await?;
                v["created"] = json!(created);
                v
            }
            None if self.mode == Mode::Simulate => json!({"id": null, "simulated": true, "input": rec.input}),
            None => return self.fail(step, rec, "the contact does not exist".into()).await,
        };
        self.ctx["contact"] = output.clone();
        rec.output = output;
        self.set_output(&step.id, rec.output.clone());
        self.save_now(rec).await?;
        Ok(Flow::Continue)
    }

    /// Sends an action's request once; a retryable failure schedules the next attempt.
    async fn action(&mut self, step: &Step, mut rec: StepRecord) -> Result<Flow, StoreError> {
        // Stable across attempts, so the peer can tell a retry from a new call.
        let key = format!("{}:{}", self.execution, rec.key);
        let plan = crate::outbound::plan(
            &step.kind,
            self.templates,
            &self.ctx,
            self.store,
            &self.workspace,
            &key,
            self.default_country.as_deref(),
        )
        .await?;
        let plan = match plan {
            Ok(p) => p,
            Err(message) => return self.fail(step, rec, message).await,
        };
        rec.input = plan.input.clone();
        rec.missing = plan.missing.clone();
        if self.mode == Mode::Simulate {
            self.side_effects
                .push(json!({"step": step.id, "type": step.type_name, "request": plan.input}));
            rec.output = json!({"simulated": true});
            self.set_output(&step.id, rec.output.clone());
            self.save(rec).await?;
            return Ok(Flow::Continue);
        }
        let Some(client) = self.client.clone() else {
            return Err(StoreError::internal("a live run has no delivery client"));
        };
        let attempt_at = Timestamp::now();
        let (outcome, status, latency_ms, response_excerpt) = match plan.planned {
            crate::outbound::Planned::Http(request) => {
                let result = client.send(request).await;
                let (status, latency, excerpt) = match &result {
                    Ok(r) => (
                        Some(r.status),
                        Some(r.latency_ms),
                        Some(crate::outbound::excerpt(&r.body)),
                    ),
                    Err(_) => (None, None, None),
                };
                (
                    map_success(hookflow_delivery::classify_action(result), |r| {
                        crate::outbound::output(plan.reading, &r, &plan.extra)
                    }),
                    status,
                    latency,
                    excerpt,
                )
            }
            crate::outbound::Planned::Email(settings, email) => {
                let started = std::time::Instant::now();
                let result = client.send_email(&settings, &email).await;
                let latency = started.elapsed().as_millis() as u64;
                let outcome = map_success(hookflow_delivery::classify_email(result), |id| {
                    let mut out = json!({"message_id": id});
                    for (k, v) in &plan.extra {
                        out[k] = v.clone();
                    }
                    out
                });
                (outcome, None, Some(latency), None)
            }
        };
        if let Some(m) = &self.metrics {
            m.outbound.inc(match &outcome {
                hookflow_delivery::Outcome::Success(_) => "success",
                hookflow_delivery::Outcome::Retry { .. } => "retry",
                hookflow_delivery::Outcome::GiveUp { .. } => "give_up",
            });
        }
        rec.attempt_log.push(json!({
            "attempt": rec.attempts,
            "at": attempt_at.to_rfc3339(),
            "status": status,
            "latency_ms": latency_ms,
            "response": response_excerpt,
            "error": outcome.reason(),
        }));
        match outcome {
            hookflow_delivery::Outcome::Success(output) => {
                rec.output = output;
                rec.error = None;
                self.set_output(&step.id, rec.output.clone());
                self.save_now(rec).await?;
                Ok(Flow::Continue)
            }
            hookflow_delivery::Outcome::Retry {
                reason, retry_after, ..
            } => {
                let attempt = u32::try_from(rec.attempts).unwrap_or(u32::MAX);
                match plan.retry.next_delay(attempt, rand::random::<f64>(), retry_after) {
                    Some(delay) => {
                        let at = Timestamp::now().plus(delay);
                        rec.status = StepStatus::Retrying;
                        rec.error = Some(format!(
                            "attempt {attempt} of {}: {reason}; next at {at}",
                            plan.retry.attempts
                        ));
                        self.save_now(rec).await?;
                        Ok(Flow::Retry { at, reason })
                    }
                    None => {
                        let flow = self
                            .fail(step, rec, format!("gave up after {attempt} attempts: {reason}"))
                            .await?;
                        self.flush().await?;
                        Ok(flow)
                    }
                }
            }
            hookflow_delivery::Outcome::GiveUp { reason, .. } => {
                let flow = self.fail(step, rec, reason).await?;
                self.flush().await?;
                Ok(flow)
            }
        }
    }

    async fn fail(&mut self, step: &Step, mut rec: StepRecord, message: String) -> Result<Flow, StoreError> {
        let message = self.secrets.mask_text(&message).unwrap_or(message);
        rec.status = StepStatus::Failed;
        rec.error = Some(message.clone());
        self.set_output(&step.id, Value::Null);
        self.save(rec).await?;
        Ok(Flow::Fail(format!("step `{}`: {message}", step.id)))
    }

    /// Renders a template of a step: a render stopped by one of the templates' hard limits is the
    /// step's error, so the step fails before it acts on an empty value.
    fn render(&self, template: &hookflow_expr::Template) -> Result<hookflow_expr::Rendered, String> {
        let rendered = self.templates.render(template, &self.ctx);
        match rendered.limit_error() {
            Some(message) => Err(message.to_owned()),
            None => Ok(rendered),
        }
    }

    /// Renders a storage step into an operation, its rendered input and missing attributes.
    fn storage_op(&self, storage: &Storage) -> (Result<StorageOp, String>, Value, Vec<String>) {
        let key = match self.render(&storage.key) {
            Ok(key) => key,
            Err(message) => return (Err(message), json!({}), Vec::new()),
        };
        let mut missing = key.missing.clone();
        let mut exceeded = None;
        let key_text = key.text();
        let mut input = json!({"key": key_text});
        let mut value_of = |v: &Option<StorageValue>, name: &str| -> Option<Value> {
            let value = match v.as_ref()? {
                StorageValue::Template(t) => {
                    let r = self.templates.render(t, &self.ctx);
                    exceeded = exceeded.take().or(r.limit_error().map(str::to_owned));
                    missing.extend(r.missing);
                    r.value
                }
                StorageValue::Literal(v) => v.clone(),
            };
            input[name] = value.clone();
            Some(value)
        };
        let value = value_of(&storage.value, "value");
        let by = value_of(&storage.by, "by");
        if let Some(message) = exceeded {
            return (Err(message), input, missing);
        }
        if key_text.trim().is_empty() {
            return (Err("the key rendered empty".into()), input, missing);
        }
        let op = match storage.operation {
            StorageOperation::Get => Ok(StorageOp::Get { key: key_text }),
            StorageOperation::Delete => Ok(StorageOp::Delete { key: key_text }),
            StorageOperation::Set => Ok(StorageOp::Set {
                key: key_text,
                value: value.unwrap_or(Value::Null),
            }),
            StorageOperation::Increment => match by.as_ref().map_or(Some(1.0), number) {
                Some(by) if by.is_finite() => Ok(StorageOp::Increment { key: key_text, by }),
                _ => Err(format!(
                    "`by` must be a number, not {}",
                    by.map_or("nothing".into(), |b| b.to_string())
                )),
            },
        };
        (op, input, missing)
    }

    async fn storage(&mut self, step: &Step, mut rec: StepRecord, op: StorageOp) -> Result<Flow, StoreError> {
        // A counter that was never incremented reads 0, not null.
        let counter_read = step.type_name == "formatter" && matches!(op, StorageOp::Get { .. });
        let result = match (self.mode, &op) {
            (Mode::Live, StorageOp::Get { .. }) if counter_read => self
                .store
                .storage_apply(&self.workspace, &op, None)
                .await?
                .map(|v| if v.is_null() { json!(0) } else { v }),
            (Mode::Live, _) => {
                // Earlier entries first, so the journal keeps its order.
                self.flush().await?;
                rec.duration_ms = (Timestamp::now().as_millis() - rec.started_at.as_millis()).max(0);
                let result = self.store.storage_apply(&self.workspace, &op, Some(&rec)).await?;
                if let Ok(value) = &result {
                    // Written by the store in the same transaction as the change.
                    rec.output = json!({"value": value});
                    self.set_output(&step.id, rec.output.clone());
                    self.remember(rec);
                    return Ok(Flow::Continue);
                }
                result
            }
            (Mode::Simulate, StorageOp::Get { .. }) => self
                .store
                .storage_apply(&self.workspace, &op, None)
                .await?
                .map(|v| if v.is_null() && counter_read { json!(0) } else { v }),
            (Mode::Simulate, StorageOp::Increment { key, by }) => {
                let current = self
                    .store
                    .storage_apply(&self.workspace, &StorageOp::Get { key: key.clone() }, None)
                    .await?;
                self.side_effects
                    .push(json!({"step": step.id, "storage": "increment", "key": key, "by": whole(*by)}));
                current.and_then(|c| match number(&c).or(c.is_null().then_some(0.0)) {
                    Some(n) => Ok(whole(n + by)),
                    None => Err(format!("cannot increment `{key}`: the value {c} is not a number")),
                })
            }
            (Mode::Simulate, StorageOp::Set { key, value }) => {
                self.side_effects
                    .push(json!({"step": step.id, "storage": "set", "key": key, "value": value}));
                Ok(value.clone())
            }
            (Mode::Simulate, StorageOp::Delete { key }) => {
                self.side_effects
                    .push(json!({"step": step.id, "storage": "delete", "key": key}));
                Ok(Value::Null)
            }
        };
        match result {
            Ok(value) => {
                rec.output = json!({"value": value});
                self.set_output(&step.id, rec.output.clone());
                self.save(rec).await?;
                Ok(Flow::Continue)
            }
            Err(message) => self.fail(step, rec, message).await,
        }
    }

    async fn delay(&mut self, step: &Step, mut rec: StepRecord, delay: &Delay) -> Result<Flow, StoreError> {
        let now = Timestamp::now();
        // Already waiting: resume when due, else wait on.
        if let Some(waiting) = self
            .journal
            .get(&rec.key)
            .filter(|r| r.status == StepStatus::Waiting)
            .cloned()
        {
            let until = waiting.output["until"]
                .as_str()
                .and_then(Timestamp::parse_rfc3339)
                .unwrap_or(now);
            if now < until {
                self.records.push(waiting);
                return Ok(Flow::Suspend(until));
            }
            rec.input = waiting.input;
            rec.output = waiting.output;
            rec.started_at = waiting.started_at;
            self.set_output(&step.id, rec.output.clone());
            self.save(rec).await?;
            return Ok(Flow::Continue);
        }
        let until = match delay {
            Delay::For(d) => {
                rec.input = json!({"for": format!("{}s", d.as_secs_f64())});
                Ok(now.plus(*d))
            }
            Delay::Until(t) => {
                let r = match self.render(t) {
                    Ok(r) => r,
                    Err(message) => return self.fail(step, rec, message).await,
                };
                rec.missing = r.missing.clone();
                rec.input = json!({"until": r.value});
                parse_instant(&r.value).ok_or_else(|| format!("`until` gave {}, which is not a date-time", r.value))
            }
            Delay::AtTime {
                hour,
                minute,
                timezone,
                timezone_name,
            } => {
                rec.input = json!({"at_time": format!("{hour:02}:{minute:02}"), "timezone": timezone_name});
                next_time_of_day(now, *hour, *minute, timezone)
            }
        };
        let until = match until {
            Ok(u) => u,
            Err(message) => return self.fail(step, rec, message).await,
        };
        rec.output = json!({"until": until.to_rfc3339()});
        if self.mode == Mode::Simulate {
            rec.output["skipped"] = json!(true);
            self.side_effects
                .push(json!({"step": step.id, "delay_until": until.to_rfc3339()}));
        } else if until > now {
            rec.status = StepStatus::Waiting;
            self.save(rec).await?;
            return Ok(Flow::Suspend(until));
        }
        self.set_output(&step.id, rec.output.clone());
        self.save(rec).await?;
        Ok(Flow::Continue)
    }
}

/// The outcome with its success turned into the step's output.
fn map_success<T>(
    outcome: hookflow_delivery::Outcome<T>,
    f: impl FnOnce(T) -> Value,
) -> hookflow_delivery::Outcome<Value> {
    use hookflow_delivery::Outcome;
    match outcome {
        Outcome::Success(t) => Outcome::Success(f(t)),
        Outcome::Retry {
            reason,
            retry_after,
            response,
        } => Outcome::Retry {
            reason,
            retry_after,
            response,
        },
        Outcome::GiveUp { reason, response } => Outcome::GiveUp { reason, response },
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

/// A date-time from RFC 3339 (offset or not: UTC), a date, or Unix seconds/milliseconds.
pub fn parse_instant(v: &Value) -> Option<Timestamp> {
    let millis = |n: f64| if n.abs() >= 1e11 { n as i64 } else { (n * 1000.0) as i64 };
    match v {
        Value::Number(n) => n.as_f64().map(|n| Timestamp::from_millis(millis(n))),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                return Some(Timestamp::from_millis(millis(n)));
            }
            if let Ok(t) = s.parse::<jiff::Timestamp>() {
                return Some(Timestamp::from_millis(t.as_millisecond()));
            }
            if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
                return dt
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .ok()
                    .map(|z| Timestamp::from_millis(z.timestamp().as_millisecond()));
            }
            if let Ok(d) = s.parse::<jiff::civil::Date>() {
                return d
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .ok()
                    .map(|z| Timestamp::from_millis(z.timestamp().as_millisecond()));
            }
            jiff::fmt::rfc2822::parse(s)
                .ok()
                .map(|z| Timestamp::from_millis(z.timestamp().as_millisecond()))
        }
        _ => None,
    }
}

/// The next `hour:minute` in `tz` strictly after `now`.
pub fn next_time_of_day(now: Timestamp, hour: i8, minute: i8, tz: &jiff::tz::TimeZone) -> Result<Timestamp, String> {
    let here = now.to_jiff().to_zoned(tz.clone());
    let today = here
        .date()
        .at(hour, minute, 0, 0)
        .to_zoned(tz.clone())
        .map_err(|e| e.to_string())?;
    let next = if today.timestamp() > now.to_jiff() {
        today
    } else {
        here.date()
            .tomorrow()
            .map_err(|e| e.to_string())?
            .at(hour, minute, 0, 0)
            .to_zoned(tz.clone())
            .map_err(|e| e.to_string())?
    };
    Ok(Timestamp::from_millis(next.timestamp().as_millisecond()))
}
