//! What ingest writes and the event log it becomes: targets, events, stats.

use async_trait::async_trait;
use hookflow_core::{ConnectorId, EventId, EventSource, EventStatus, ExecutionId, Timestamp, WorkspaceId};
use serde::Serialize;
use serde_json::Value;

use super::{Page, PageRequest, StoreResult};

/// What the ingest endpoint needs to know about the connector a token names.
#[derive(Debug, Clone)]
pub struct IngestTarget {
    pub connector_id: ConnectorId,
    pub workspace_id: WorkspaceId,
    pub event_source: EventSource,
    pub enabled: bool,
    pub version: i64,
    pub document: Value,
    pub has_structure: bool,
}

/// A request as received, with what was understood of it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: EventId,
    pub workspace_id: WorkspaceId,
    pub connector_id: ConnectorId,
    pub received_at: Timestamp,
    pub status: EventStatus,
    pub config_version: i64,
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names (lower case) and values, in order; repeated names repeat.
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The body as understood; a rejected one has no `kind` and a null `body`.
    pub parsed: crate::intake::Parsed,
    /// Why the request was rejected, when it was.
    pub error: Option<String>,
    /// The execution to queue with the event; `None` for a rejected one.
    pub execution: Option<ExecutionId>,
    /// The execution has nothing to run (see [`crate::document::runs_nothing`]): it is written as
    /// succeeded, with no job.
    pub nothing_to_run: bool,
    /// Set the connector's structure from this event when it has none yet.
    pub capture_structure: bool,
    /// The execution's ordering group (the connector's `ordering.key`, rendered): executions of one
    /// group run one at a time in arrival order. `None` runs unordered.
    pub order_group: Option<String>,
}

/// A stored event, as the logs show it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub workspace_id: WorkspaceId,
    pub connector_id: ConnectorId,
    pub received_at: Timestamp,
    pub status: EventStatus,
    pub config_version: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub parsed: crate::intake::Parsed,
    /// Why `parsed` could not be read back from its row (a body accepted before payload limits,
    /// nested deeper than the reader allows, or a damaged row). `parsed` then holds a null `kind`
    /// and `body`, as a rejected event's does, and the event cannot run.
    pub parsed_error: Option<String>,
    pub error: Option<String>,
    pub execution_id: Option<ExecutionId>,
}

/// Counts of a connector's events. `since_reset` counts only what came after `reset_at`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub received: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub filtered: i64,
    pub rejected: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub lifetime: Counts,
    pub since_reset: Counts,
    pub reset_at: Option<Timestamp>,
}

/// What ingest writes and the event log it becomes: targets, events, stats.
#[async_trait]
pub trait Ingest: Send + Sync + 'static {
    async fn ingest_target(&self, token: &str) -> StoreResult<Option<std::sync::Arc<IngestTarget>>>;
    /// Writes every event, its execution and job, the stats and any structure
    /// capture in one transaction: when it returns Ok, all of them are durable.
    async fn insert_events(&self, events: &[NewEvent]) -> StoreResult<()>;

    // Logs and stats.
    async fn list_events(
        &self,
        ws: &WorkspaceId,
        connector: &ConnectorId,
        status: Option<EventStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Event>>;
    async fn get_event(&self, ws: &WorkspaceId, id: &EventId) -> StoreResult<Option<Event>>;
    async fn stats(&self, ws: &WorkspaceId, connector: &ConnectorId) -> StoreResult<Option<Stats>>;
    async fn reset_stats(&self, ws: &WorkspaceId, connector: &ConnectorId) -> StoreResult<Option<Stats>>;
}
