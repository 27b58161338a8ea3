//! Runs execution jobs: loads the execution, its event and the document
//! version it was queued with, and runs the steps with the journal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hookflow_core::{ConnectorId, EventStatus, ExecutionId, JobKind, Timestamp, WorkspaceId};
use hookflow_expr::Templates;
use serde_json::{json, Value};

use crate::run::{Flow, Live, Mode, Run, Stores};
use crate::steps::{self, Compiled};
use crate::store::{Job, StepRecord, Store, StoreError, WorkspaceSettings};
use crate::worker::{JobHandler, JobOutcome};
use crate::{context, document};

/// How long a job waits after the database failed under it.
const STORE_RETRY_MS: i64 = 2_000;
/// Compiled documents kept in memory.
const CACHE_LIMIT: usize = 1_000;
/// How many times the node running an execution may stop while running it (killed, crashed, or
/// silent past its lease) before the execution is failed instead of run again: one poison event
/// must not take every node of a cluster down in turn, forever.
pub const MAX_RECLAIMS: i64 = 3;

/// Compiled connector documents by connector and version (a version never changes).
#[derive(Default)]
pub struct CompiledCache {
    map: Mutex<HashMap<(ConnectorId, i64), Arc<Compiled>>>,
}

impl CompiledCache {
    /// The compiled document of a connector version, when it is cached.
    pub fn get(&self, connector: &ConnectorId, version: i64) -> Option<Arc<Compiled>> {
        let key = (connector.clone(), version);
        self.map.lock().expect("lock poisoned").get(&key).cloned()
    }

    pub fn get_or_compile(
        &self,
        connector: &ConnectorId,
        version: i64,
        document: &Value,
        templates: &Templates,
    ) -> Result<Arc<Compiled>, String> {
        let key = (connector.clone(), version);
        if let Some(found) = self.map.lock().expect("lock poisoned").get(&key) {
            return Ok(found.clone());
        }
        let compiled = Arc::new(steps::compile(document, templates).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?);
        let mut map = self.map.lock().expect("lock poisoned");
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert(key, compiled.clone());
        Ok(compiled)
    }
}

/// How long what an execution reads of its workspace (settings, secrets) is reused before being
/// read again.
const WORKSPACE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Per-workspace values read at most once per [`WORKSPACE_TTL`]: every execution needs its
/// workspace's settings (and, when its document names them, its secrets), and a change takes
/// effect within that second.
struct WorkspaceCache<V> {
    map: Mutex<HashMap<WorkspaceId, (std::time::Instant, V)>>,
}

impl<V> Default for WorkspaceCache<V> {
    fn default() -> Self {
        Self { map: Mutex::default() }
    }
}

impl<V: Clone> WorkspaceCache<V> {
    async fn get<F>(&self, ws: &WorkspaceId, load: impl FnOnce() -> F) -> Result<V, StoreError>
    where
        F: std::future::Future<Output = Result<V, StoreError>>,
    {
        if let Some((at, value)) = self.map.lock().expect("lock poisoned").get(ws) {
            if at.elapsed() < WORKSPACE_TTL {
                return Ok(value.clone());
            }
        }
        let value = load().await?;
        let mut map = self.map.lock().expect("lock poisoned");
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert(ws.clone(), (std::time::Instant::now(), value.clone()));
        Ok(value)
    }
}

/// The template context of an execution, before its contact is known.
pub fn execution_context(event: Value, workspace: &WorkspaceId, timezone: &str, now: Timestamp) -> Value {
    json!({
        "event": event,
        "steps": {},
        "contact": null,
        "system": context::system_value(now, timezone, workspace.as_str()),
    })
}

/// Runs a template render that computes for long (past `hookflow_expr::LONG_RENDER`) again in
/// `block_in_place`, which hands the other tasks of its thread to another thread first: renders
/// run inside async tasks, on the threads that answer HTTP, and a tenant's heavy template must not
/// hold up the others. Only a multi-threaded runtime can do that; elsewhere it just runs.
pub fn hand_off_long_renders() {
    fn run_aside(render: &mut dyn FnMut()) {
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(render);
        } else {
            render();
        }
    }
    hookflow_expr::on_long_render(run_aside);
}

/// Puts the workspace's secrets (read when the document names them) in the `secrets` root, and
/// answers the masker of their values.
fn with_secrets(
    secrets: Option<&std::collections::BTreeMap<String, String>>,
    ctx: &mut Value,
) -> crate::secrets::Secrets {
    let Some(secrets) = secrets else {
        return crate::secrets::Secrets::default();
    };
    let (root, masker) = crate::secrets::Secrets::new(secrets.clone());
    ctx["secrets"] = root;
    masker
}

/// The roles of the store a run uses.
fn stores(store: &dyn Store) -> Stores<'_> {
    Stores {
        runs: store,
        contacts: store,
    }
}

/// Runs the field mapping, then the steps.
async fn run_all(run: &mut Run<'_>, compiled: &Compiled) -> Result<Flow, StoreError> {
    if let Some(spec) = &compiled.field_mapping {
        let flow = run.field_mapping(spec).await?;
        if flow != Flow::Continue {
            return Ok(flow);
        }
    }
    run.steps(&compiled.steps, "").await
}

pub struct ExecutionHandler {
    store: Arc<dyn Store>,
    templates: Arc<Templates>,
    client: Arc<hookflow_delivery::Client>,
    cache: CompiledCache,
    settings: WorkspaceCache<Option<WorkspaceSettings>>,
    secrets: WorkspaceCache<Arc<std::collections::BTreeMap<String, String>>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl ExecutionHandler {
    pub fn new(
        store: Arc<dyn Store>,
        templates: Arc<Templates>,
        client: Arc<hookflow_delivery::Client>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            store,
            templates,
            client,
            cache: CompiledCache::default(),
            settings: WorkspaceCache::default(),
            secrets: WorkspaceCache::default(),
            metrics,
        }
    }

    /// Ends the execution: its status, its last journal entries and the job's completion commit
    /// together.
    async fn finish(
        &self,
        job: &Job,
        status: EventStatus,
        error: Option<String>,
        steps: Vec<StepRecord>,
    ) -> Result<JobOutcome, StoreError> {
        let id = ExecutionId::from_trusted(job.target_id.clone());
        let held = self
            .store
            .finish_execution_with(&id, status, error.as_deref(), &steps, Some((&job.id, &job.worker)))
            .await?;
        if !held {
            tracing::warn!(job_id = %job.id, "Job finished after its lease was lost.");
        }
        self.metrics.executions.inc(status.as_str());
        Ok(JobOutcome::Settled)
    }

    async fn execute(&self, job: &Job) -> Result<JobOutcome, StoreError> {
        let id = ExecutionId::from_trusted(job.target_id.clone());
        let ws = &job.workspace_id;
        let Some((execution, event)) = self.store.execution_and_event(ws, &id).await? else {
            return Ok(JobOutcome::GiveUp {
                reason: "the execution no longer exists".into(),
            });
        };
        if execution.finished_at.is_some() {
            return Ok(JobOutcome::Done);
        }
        let Some(event) = event else {
            return Ok(JobOutcome::GiveUp {
                reason: "the event no longer exists".into(),
            });
        };
        // A body the store could not read back will not become readable by trying again.
        if let Some(reason) = event.parsed_error {
            return Err(StoreError::Corrupt(reason));
        }
        let finish = |status, error, steps| self.finish(job, status, error, steps);
        if job.reclaims >= MAX_RECLAIMS {
            let message = format!(
                "the node running this execution stopped {} times while running it (killed, crashed or \
                 unresponsive past its lease); it is not run again, so that it cannot stop more nodes. \
                 Replay it once the cause is fixed",
                job.reclaims
            );
            tracing::error!(job_id = %job.id, execution_id = %id, reclaims = job.reclaims, "Execution failed after repeated node stops.");
            return finish(EventStatus::Failed, Some(message), Vec::new()).await;
        }
        // A version never changes: once compiled, it is not read again.
        let compiled = match self.cache.get(&execution.connector_id, execution.config_version) {
            Some(compiled) => compiled,
            None => {
                let Some(version) = self
                    .store
                    .get_version(ws, &execution.connector_id, execution.config_version)
                    .await?
                else {
                    let message = format!(
                        "version {} of the connector document is no longer kept",
                        execution.config_version
                    );
                    return finish(EventStatus::Failed, Some(message), Vec::new()).await;
                };
                match self.cache.get_or_compile(
                    &execution.connector_id,
                    version.version,
                    &version.document,
                    &self.templates,
                ) {
                    Ok(c) => c,
                    Err(message) => {
                        let message = format!("the document does not compile: {message}");
                        return finish(EventStatus::Failed, Some(message), Vec::new()).await;
                    }
                }
            }
        };
        // The claim marked the execution running, and said whether it ever ran before.
        let journal = if job.fresh {
            Vec::new()
        } else {
            self.store.journal(&id).await?
        };
        let settings = self.settings.get(ws, || self.store.get_workspace(ws)).await?;
        let timezone = settings.as_ref().map_or("UTC", |s| s.timezone.as_str());
        let event_value = context::event_value(
            event.id.as_str(),
            &event.method,
            event.received_at,
            &event.headers,
            &event.parsed,
        );
        let mut ctx = execution_context(event_value, ws, timezone, Timestamp::now());
        let secrets = if compiled.uses_secrets {
            Some(
                self.secrets
                    .get(ws, || async { Ok(Arc::new(self.store.secret_values(ws).await?)) })
                    .await?,
            )
        } else {
            None
        };
        let secrets = with_secrets(secrets.as_deref(), &mut ctx);
        let live = Live {
            client: &self.client,
            events: &*self.store,
            metrics: &self.metrics,
            connector: &execution.connector_id,
        };
        let mut run = Run::new(
            stores(&*self.store),
            &self.templates,
            ws.clone(),
            id.clone(),
            Mode::Live(live),
            journal,
            ctx,
        );
        run.default_country = settings.and_then(|s| s.default_country);
        run.secrets = secrets;
        let flow = run_all(&mut run, &compiled).await?;
        let steps = run.take_pending();
        match flow {
            Flow::Continue => finish(EventStatus::Succeeded, None, steps).await,
            Flow::Filtered => finish(EventStatus::Filtered, None, steps).await,
            Flow::Fail(message) => finish(EventStatus::Failed, Some(message), steps).await,
            Flow::Retry { at, reason } => {
                self.store.record_steps(&steps).await?;
                Ok(JobOutcome::Retry { at, reason })
            }
            Flow::Suspend(at) => {
                let held = self
                    .store
                    .suspend_execution(&id, &steps, (&job.id, &job.worker), at)
                    .await?;
                if !held {
                    tracing::warn!(job_id = %job.id, "Job suspended after its lease was lost.");
                }
                Ok(JobOutcome::Settled)
            }
        }
    }
}

#[async_trait]
impl JobHandler for ExecutionHandler {
    fn kinds(&self) -> &[JobKind] {
        &[JobKind::Execution]
    }

    async fn run(&self, job: &Job) -> JobOutcome {
        let result = match self.execute(job).await {
            // Reading the row again gives the same answer: the execution fails, once.
            Err(StoreError::Corrupt(reason)) => {
                tracing::warn!(execution_id = %job.target_id, error = %reason, "Execution failed on a row that cannot be read.");
                self.finish(job, EventStatus::Failed, Some(reason), Vec::new()).await
            }
            other => other,
        };
        match result {
            Ok(outcome) => outcome,
            // The journal keeps what finished; the job comes back and resumes.
            Err(e) => {
                tracing::warn!(execution_id = %job.target_id, error = %e, "Execution interrupted by the database.");
                JobOutcome::Retry {
                    at: Timestamp::now().plus_millis(STORE_RETRY_MS),
                    reason: e.to_string(),
                }
            }
        }
    }
}

/// What a simulation did.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub status: EventStatus,
    pub error: Option<String>,
    pub steps: Vec<StepRecord>,
    pub side_effects: Vec<Value>,
}

/// Runs a document's field mapping and steps over an event (the `event` root) without writing anything.
pub async fn simulate(
    store: &dyn Store,
    templates: &Templates,
    ws: &WorkspaceId,
    document: &Value,
    event: Value,
) -> Result<Result<Simulation, Vec<document::FieldError>>, StoreError> {
    let compiled = match steps::compile(document, templates) {
        Ok(c) => c,
        Err(errors) => return Ok(Err(errors)),
    };
    let settings = store.get_workspace(ws).await?;
    let timezone = settings.as_ref().map_or("UTC", |s| s.timezone.as_str());
    let mut ctx = execution_context(event, ws, timezone, Timestamp::now());
    // A simulation reads them fresh: it is how a user checks a secret just changed.
    let secrets = if compiled.uses_secrets {
        Some(store.secret_values(ws).await?)
    } else {
        None
    };
    let secrets = with_secrets(secrets.as_ref(), &mut ctx);
    let mut run = Run::new(
        stores(store),
        templates,
        ws.clone(),
        ExecutionId::new(),
        Mode::Simulate,
        Vec::new(),
        ctx,
    );
    run.default_country = settings.and_then(|s| s.default_country);
    run.secrets = secrets;
    let flow = run_all(&mut run, &compiled).await?;
    run.side_effects.iter_mut().for_each(|effect| run.secrets.mask(effect));
    // In start order, as the live journal is read back.
    run.records.sort_by_key(|r| r.seq);
    let (status, error) = match flow {
        Flow::Continue | Flow::Suspend(_) | Flow::Retry { .. } => (EventStatus::Succeeded, None),
        Flow::Filtered => (EventStatus::Filtered, None),
        Flow::Fail(message) => (EventStatus::Failed, Some(message)),
    };
    Ok(Ok(Simulation {
        status,
        error,
        steps: run.records,
        side_effects: run.side_effects,
    }))
}
