//! Executions, their journals and the effects steps commit with their entries.

use async_trait::async_trait;
use hookflow_core::{ConnectorId, EventId, EventStatus, ExecutionId, JobId, StepStatus, Timestamp, WorkspaceId};
use serde_json::Value;

use super::{Event, StoreResult};

/// One run of a connector's steps for one event.
#[derive(Debug, Clone)]
pub struct Execution {
    pub id: ExecutionId,
    pub workspace_id: WorkspaceId,
    pub event_id: EventId,
    pub connector_id: ConnectorId,
    /// The version of the connector document it runs.
    pub config_version: i64,
    pub status: EventStatus,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// One entry of an execution's journal: a step's result.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub execution_id: ExecutionId,
    /// Unique within the execution: the step id, prefixed by the iterations
    /// holding it (`each[3].line`).
    pub key: String,
    /// Order of first start, for display.
    pub seq: i64,
    pub step_id: String,
    pub step_type: String,
    pub status: StepStatus,
    /// The step's configuration as rendered for this run.
    pub input: Value,
    pub output: Value,
    pub error: Option<String>,
    /// Attributes its templates named that the context did not have.
    pub missing: Vec<String>,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    pub attempts: i64,
    /// Every outbound attempt of an action: time, status, latency, response excerpt, error.
    pub attempt_log: Vec<Value>,
}

/// An operation on a workspace's data storage.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageOp {
    Get {
        key: String,
    },
    Set {
        key: String,
        value: Value,
    },
    /// Adds `by` to the number under `key` (0 when missing).
    Increment {
        key: String,
        by: f64,
    },
    Delete {
        key: String,
    },
}

/// Executions, their journals and the effects steps commit with their entries.
#[async_trait]
pub trait Runs: Send + Sync + 'static {
    /// Deletes up to `batch` finished events received before `before` (with their
    /// executions, journals and settled jobs) and up to `batch` settled
    /// deliveries created before it (with their attempts); answers how many
    /// rows of events and deliveries went. Stats are counters and stay.
    async fn prune(&self, before: Timestamp, batch: u32) -> StoreResult<u64>;

    async fn get_execution(&self, ws: &WorkspaceId, id: &ExecutionId) -> StoreResult<Option<Execution>>;
    /// An execution with its event (`None` if the event is gone), as a run needs them.
    async fn execution_and_event(
        &self,
        ws: &WorkspaceId,
        id: &ExecutionId,
    ) -> StoreResult<Option<(Execution, Option<Event>)>>;
    /// Moves an unfinished execution (and its event, if it is the event's latest) to `running` or `waiting`.
    async fn mark_execution(&self, id: &ExecutionId, status: EventStatus) -> StoreResult<()>;
    /// The journal of an execution, in step order.
    async fn journal(&self, id: &ExecutionId) -> StoreResult<Vec<StepRecord>>;
    /// Writes (or replaces) journal entries, all in one transaction.
    async fn record_steps(&self, records: &[StepRecord]) -> StoreResult<()>;
    /// Writes (or replaces) one journal entry.
    async fn record_step(&self, record: &StepRecord) -> StoreResult<()> {
        self.record_steps(std::slice::from_ref(record)).await
    }
    /// Applies a storage operation and answers the value after it (`null` for
    /// a missing key). When `journal` is given it is written in the same
    /// transaction with `output = {"value": <that value>}`, so the operation
    /// happens exactly once even across a crash.
    async fn storage_apply(
        &self,
        ws: &WorkspaceId,
        op: &StorageOp,
        journal: Option<&StepRecord>,
    ) -> StoreResult<Result<Value, String>>;
    /// Queues a new execution of a logged event on `version` of its connector's
    /// document; the event's status starts over at `received`.
    async fn replay_event(&self, ws: &WorkspaceId, event: &EventId, version: i64) -> StoreResult<Option<ExecutionId>>;
    /// Records the outcome of an execution on it, its event and the stats.
    async fn finish_execution(&self, id: &ExecutionId, status: EventStatus, error: Option<&str>) -> StoreResult<()> {
        self.finish_execution_with(id, status, error, &[], None)
            .await
            .map(|_| ())
    }
    /// [`Runs::finish_execution`] in one transaction with journal entries not yet written
    /// and, when `job` names a job and the worker holding it, the job's completion.
    /// Answers false when the job was given, but is no longer held by that worker.
    async fn finish_execution_with(
        &self,
        id: &ExecutionId,
        status: EventStatus,
        error: Option<&str>,
        steps: &[StepRecord],
        job: Option<(&JobId, &str)>,
    ) -> StoreResult<bool>;
    /// Parks an execution in a delay, in one transaction: journal entries not yet written
    /// (the delay's `waiting` one among them), the status `waiting`, and its job, held by
    /// `job.1`, queued again for `at`. Answers false when the job is no longer held.
    async fn suspend_execution(
        &self,
        id: &ExecutionId,
        steps: &[StepRecord],
        job: (&JobId, &str),
        at: Timestamp,
    ) -> StoreResult<bool>;
}
