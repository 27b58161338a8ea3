//! The storage interface and the records that cross it.

use std::time::Duration;

use async_trait::async_trait;
use hookflow_core::{
    ChannelId, ConnectorId, ContactId, DeliveryId, EventId, EventSource, EventStatus, ExecutionId, JobId, JobKind,
    JobState, MemberId, MessageId, StepStatus, SubscriptionId, Timestamp, TokenId, WorkspaceId,
};
use serde::Serialize;
use serde_json::Value;

/// What a store can fail with; each variant says what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (a name or token already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database is unreachable or overloaded; trying again later may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored value cannot be decoded (JSON nested deeper than the reader's limit, or damaged):
    /// reading it again gives the same answer, so whatever needs it gives up instead of retrying.
    #[error("{0}")]
    Corrupt(String),
    /// Anything else: a bug.
    #[error("storage error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a newest-first list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next (older) page, `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which page to read: at most `limit` items older than `cursor`.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
}

/// A new workspace and its first API token (hashed).
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub id: WorkspaceId,
    pub name: String,
    pub token_id: TokenId,
    pub token_hash: String,
}

#[derive(Debug, Clone)]
pub struct Connector {
    pub id: ConnectorId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub event_source: EventSource,
    pub enabled: bool,
    /// The secret part of the connector URL (`/hooks/{token}`).
    pub token: String,
    /// The current version's number.
    pub version: i64,
    /// The current document without its structure (see [`crate::document`]).
    pub document: Value,
    /// The captured (or hand-edited) JSON structure of the event body.
    pub structure: Option<Value>,
    /// The query-string variables of the event the structure was captured from.
    pub sample_custom_variables: Option<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewConnector {
    pub id: ConnectorId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub event_source: EventSource,
    pub token: String,
    pub document: Value,
}

/// A partial update of a connector's own fields (its document has its own call).
#[derive(Debug, Clone, Default)]
pub struct ConnectorPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// One saved version of a connector's document.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: i64,
    pub document: Value,
    pub created_at: Timestamp,
    /// Why it was made: `created`, `saved`, `restored from N`, `structure re-mapped`.
    pub note: String,
}

/// How many versions of a connector's document are kept.
pub const VERSIONS_KEPT: i64 = 20;

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

/// A claimed job: the caller holds its lease until `lease_until`.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    pub workspace_id: WorkspaceId,
    /// The execution or delivery this job stands for.
    pub target_id: String,
    pub attempts: i64,
    pub run_at: Timestamp,
    pub lease_until: Timestamp,
    /// The worker holding the lease.
    pub worker: String,
    /// A subscription's deliveries or an ordering group; finishing one may free the next.
    pub group_key: Option<String>,
    /// How many times the job's lease expired while a node ran it (crash-loop protection).
    pub reclaims: i64,
    /// An execution never claimed before this claim: it has no journal to read.
    pub fresh: bool,
}

/// A job as the queue holds it, for tests and the operator.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: JobId,
    pub kind: JobKind,
    pub target_id: String,
    pub state: JobState,
    pub attempts: i64,
    pub run_at: Timestamp,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub reclaims: i64,
}

/// A secret of the workspace secret store, without its value.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

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

/// A workspace with its settings.
#[derive(Debug, Clone)]
pub struct WorkspaceSettings {
    pub id: WorkspaceId,
    pub name: String,
    /// IANA timezone of `system.timezone`.
    pub timezone: String,
    /// ISO 3166 alpha-2 country that local mobile numbers belong to.
    pub default_country: Option<String>,
    pub created_at: Timestamp,
}

/// A workspace member: a possible contact owner.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: MemberId,
    pub name: String,
    /// Lower case.
    pub email: String,
    pub created_at: Timestamp,
}

/// A person in the contact book.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// E.164.
    pub mobile: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    /// The default channel.
    pub channel_id: Option<ChannelId>,
    pub owner_id: Option<MemberId>,
    pub tags: Vec<String>,
    /// Custom attributes by name.
    pub attributes: serde_json::Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How to find a contact: the unique key first, then the mobile, then the
/// email (the contact added first when several share it).
#[derive(Debug, Clone, Default)]
pub struct ContactMatch {
    /// A custom attribute that identifies the contact (`shop_customer_id` = `123`).
    pub unique_key: Option<(String, String)>,
    pub mobile: Option<String>,
    pub email: Option<String>,
}

/// Changes to a contact; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ContactChanges {
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub channel_id: Option<ChannelId>,
    pub owner_id: Option<MemberId>,
    /// Attributes to set; a `null` value removes one.
    pub attributes: serde_json::Map<String, Value>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

/// Which contacts to list.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub tag: Option<String>,
    pub attribute: Option<(String, String)>,
}

/// A custom attribute definition.
#[derive(Debug, Clone)]
pub struct AttributeDefinition {
    pub name: String,
    /// `text`, `number`, `boolean`, `date` or `json`.
    pub kind: String,
    pub created_at: Timestamp,
}

/// A configured way to send messages.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// `whatsapp_cloud`, `smtp`, `sms_http` or `http`.
    pub kind: String,
    pub settings: Value,
    /// Write-only: never shown by the API, never logged.
    pub credentials: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An outbound webhook: a URL that receives hookflow's events.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub description: String,
    /// Patterns: `execution.failed`, `execution.*`, `*`.
    pub event_types: Vec<String>,
    /// Only events of these connectors; all when empty.
    pub connector_ids: Vec<String>,
    pub headers: serde_json::Map<String, Value>,
    /// Merged into every payload at the top level.
    pub extra_fields: serde_json::Map<String, Value>,
    pub enabled: bool,
    /// `whsec_...`; shown once.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<Timestamp>,
    pub disabled_reason: Option<String>,
    /// When its deliveries started failing with no success since.
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Subscription {
    /// True when the subscription wants events of this type from this connector.
    pub fn wants(&self, event_type: &str, connector: Option<&str>) -> bool {
        let type_ok = self.event_types.iter().any(|p| {
            p == "*"
                || p == event_type
                || p.strip_suffix(".*").is_some_and(|prefix| {
                    event_type
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
        });
        let connector_ok =
            self.connector_ids.is_empty() || connector.is_some_and(|c| self.connector_ids.iter().any(|id| id == c));
        type_ok && connector_ok
    }
}

/// Changes to a subscription; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub connector_ids: Option<Vec<String>>,
    pub headers: Option<serde_json::Map<String, Value>>,
    pub extra_fields: Option<serde_json::Map<String, Value>>,
    pub enabled: Option<bool>,
}

/// One event sent to one subscription.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: DeliveryId,
    pub subscription_id: SubscriptionId,
    pub message_id: MessageId,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One try of a delivery.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub at: Timestamp,
    pub status_code: Option<i64>,
    pub latency_ms: Option<i64>,
    pub response_headers: Value,
    /// The first 4 KiB.
    pub response_body: String,
    pub error: Option<String>,
}

/// What a delivery job needs.
#[derive(Debug, Clone)]
pub struct DeliveryWork {
    pub delivery: Delivery,
    pub subscription: Subscription,
    /// `{type, timestamp, data}`
    pub payload: Value,
}

/// What became of a delivery attempt.
#[derive(Debug, Clone)]
pub enum DeliveryResult {
    Delivered,
    /// Try again at this time. `disable_after_ms`: a subscription failing this long is disabled.
    Retry {
        at: Timestamp,
        disable_after_ms: i64,
    },
    /// No more attempts. `disable`: disable the subscription for this reason (a 410).
    Failed {
        disable: Option<String>,
        disable_after_ms: i64,
    },
}

/// Jobs of one kind in one state, for metrics.
#[derive(Debug, Clone)]
pub struct QueueStat {
    pub kind: JobKind,
    pub state: JobState,
    pub count: i64,
    /// The earliest `run_at` among them.
    pub oldest_run_at: Option<Timestamp>,
}

/// Persistence and the durable job queue.
///
/// Every call that takes a [`WorkspaceId`] sees only that workspace's rows:
/// a row of another workspace is answered exactly as a missing one.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// True when the database answers.
    async fn ping(&self) -> bool;

    // Workspaces and tokens.
    async fn create_workspace(&self, new: NewWorkspace) -> StoreResult<Workspace>;
    /// The workspace whose API token hashes to `token_hash`.
    async fn workspace_by_token(&self, token_hash: &str) -> StoreResult<Option<WorkspaceId>>;

    async fn get_workspace(&self, ws: &WorkspaceId) -> StoreResult<Option<WorkspaceSettings>>;
    async fn update_workspace(
        &self,
        ws: &WorkspaceId,
        name: Option<&str>,
        timezone: Option<&str>,
        default_country: Option<Option<&str>>,
    ) -> StoreResult<Option<WorkspaceSettings>>;

    // Members.
    async fn create_member(&self, ws: &WorkspaceId, name: &str, email: &str) -> StoreResult<Member>;
    async fn list_members(&self, ws: &WorkspaceId) -> StoreResult<Vec<Member>>;
    async fn get_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<Option<Member>>;
    async fn member_by_email(&self, ws: &WorkspaceId, email: &str) -> StoreResult<Option<Member>>;
    async fn delete_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<bool>;

    // The contact book.
    /// Finds the contact `find` names and applies `changes`, or creates one
    /// when none matches and `create` is set; answers it and whether it is new.
    /// A mobile another contact has is a `Conflict`.
    async fn upsert_contact(
        &self,
        ws: &WorkspaceId,
        find: &ContactMatch,
        changes: &ContactChanges,
        create: bool,
    ) -> StoreResult<Option<(Contact, bool)>>;
    /// The contact `find` names, without changing anything.
    async fn find_contact(&self, ws: &WorkspaceId, find: &ContactMatch) -> StoreResult<Option<Contact>>;
    async fn get_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<Option<Contact>>;
    async fn update_contact(
        &self,
        ws: &WorkspaceId,
        id: &ContactId,
        changes: &ContactChanges,
    ) -> StoreResult<Option<Contact>>;
    async fn delete_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<bool>;
    async fn list_contacts(
        &self,
        ws: &WorkspaceId,
        filter: &ContactFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Contact>>;
    async fn define_attribute(&self, ws: &WorkspaceId, name: &str, kind: &str) -> StoreResult<AttributeDefinition>;
    async fn list_attribute_definitions(&self, ws: &WorkspaceId) -> StoreResult<Vec<AttributeDefinition>>;
    async fn delete_attribute_definition(&self, ws: &WorkspaceId, name: &str) -> StoreResult<bool>;

    // The workspace secret store: values are written, never read back but by executions.
    /// Creates (`create`) or replaces a secret; `None` when there is none to replace.
    async fn put_secret(
        &self,
        ws: &WorkspaceId,
        name: &str,
        value: &str,
        create: bool,
    ) -> StoreResult<Option<SecretInfo>>;
    async fn list_secrets(&self, ws: &WorkspaceId) -> StoreResult<Vec<SecretInfo>>;
    async fn delete_secret(&self, ws: &WorkspaceId, name: &str) -> StoreResult<bool>;
    /// Every secret of the workspace with its value, for the `secrets` root of an execution.
    async fn secret_values(&self, ws: &WorkspaceId) -> StoreResult<std::collections::BTreeMap<String, String>>;

    // Channels.
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()>;
    async fn list_channels(&self, ws: &WorkspaceId) -> StoreResult<Vec<Channel>>;
    async fn get_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<Option<Channel>>;
    /// Replaces the name, settings and credentials given.
    async fn update_channel(
        &self,
        ws: &WorkspaceId,
        id: &ChannelId,
        name: Option<&str>,
        settings: Option<&Value>,
        credentials: Option<&Value>,
    ) -> StoreResult<Option<Channel>>;
    async fn delete_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<bool>;

    // Subscriptions and deliveries.
    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<()>;
    async fn list_subscriptions(&self, ws: &WorkspaceId) -> StoreResult<Vec<Subscription>>;
    async fn get_subscription(&self, ws: &WorkspaceId, id: &SubscriptionId) -> StoreResult<Option<Subscription>>;
    async fn update_subscription(
        &self,
        ws: &WorkspaceId,
        id: &SubscriptionId,
        changes: &SubscriptionChanges,
    ) -> StoreResult<Option<Subscription>>;
    /// Replaces the secret; the old one keeps signing until `keep_old_until`.
    async fn rotate_subscription_secret(
        &self,
        ws: &WorkspaceId,
        id: &SubscriptionId,
        secret: &str,
        keep_old_until: Timestamp,
    ) -> StoreResult<Option<Subscription>>;
    async fn delete_subscription(&self, ws: &WorkspaceId, id: &SubscriptionId) -> StoreResult<bool>;
    /// Writes an event for the subscriptions that want it (only `only` when
    /// given), with their deliveries and jobs, and `journal` when given, in one
    /// transaction. Answers the message id, or `None` when no subscription wants it.
    async fn emit(
        &self,
        ws: &WorkspaceId,
        event_type: &str,
        connector: Option<&ConnectorId>,
        data: &Value,
        only: Option<&SubscriptionId>,
        journal: Option<&StepRecord>,
    ) -> StoreResult<Option<MessageId>>;
    async fn delivery_work(&self, id: &DeliveryId) -> StoreResult<Option<DeliveryWork>>;
    /// Records an attempt and its consequences (delivery status, the
    /// subscription's failing time, disabling it and announcing that) in one transaction.
    async fn record_delivery_attempt(
        &self,
        id: &DeliveryId,
        attempt: &DeliveryAttempt,
        result: &DeliveryResult,
    ) -> StoreResult<()>;
    async fn list_deliveries(
        &self,
        ws: &WorkspaceId,
        subscription: &SubscriptionId,
        status: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
    async fn get_delivery(
        &self,
        ws: &WorkspaceId,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>>;
    /// Sends a delivery again now (a new attempt series); answers it.
    async fn retry_delivery(&self, ws: &WorkspaceId, id: &DeliveryId) -> StoreResult<Option<Delivery>>;
    /// Sends again every failed delivery of a subscription created since `since`; answers how many.
    async fn recover_deliveries(&self, ws: &WorkspaceId, id: &SubscriptionId, since: Timestamp) -> StoreResult<u64>;

    // Connectors.
    async fn create_connector(&self, new: NewConnector) -> StoreResult<Connector>;
    async fn list_connectors(&self, ws: &WorkspaceId, page: &PageRequest) -> StoreResult<Page<Connector>>;
    async fn get_connector(&self, ws: &WorkspaceId, id: &ConnectorId) -> StoreResult<Option<Connector>>;
    async fn update_connector(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        patch: &ConnectorPatch,
    ) -> StoreResult<Option<Connector>>;
    /// Deletes the connector with its versions, stats, events and queued jobs.
    async fn delete_connector(&self, ws: &WorkspaceId, id: &ConnectorId) -> StoreResult<bool>;
    /// Replaces the URL token; the old one stops matching at once.
    async fn rotate_connector_token(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        token: &str,
    ) -> StoreResult<Option<Connector>>;
    /// Saves a new version of the document and, when given, replaces the
    /// structure; keeps the newest [`VERSIONS_KEPT`] versions.
    async fn save_document(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        document: &Value,
        structure: Option<&Value>,
        note: &str,
    ) -> StoreResult<Option<Connector>>;
    /// Replaces the captured structure (and the sample custom variables) without a new version.
    async fn set_structure(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        structure: &Value,
        custom_variables: &Value,
    ) -> StoreResult<bool>;
    async fn list_versions(&self, ws: &WorkspaceId, id: &ConnectorId) -> StoreResult<Vec<Version>>;
    async fn get_version(&self, ws: &WorkspaceId, id: &ConnectorId, version: i64) -> StoreResult<Option<Version>>;

    // Ingest.
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

    // The job queue.
    /// Adds a job due at `run_at`.
    async fn enqueue_job(
        &self,
        kind: JobKind,
        ws: &WorkspaceId,
        target_id: &str,
        run_at: Timestamp,
    ) -> StoreResult<JobId>;
    /// Leases up to `limit` due jobs of the given kinds to `worker` for `lease`.
    async fn claim_jobs(&self, kinds: &[JobKind], worker: &str, limit: u32, lease: Duration) -> StoreResult<Vec<Job>>;
    /// Extends the leases `worker` still holds; answers the ids it no longer holds.
    async fn heartbeat(&self, jobs: &[JobId], worker: &str, lease: Duration) -> StoreResult<Vec<JobId>>;
    /// Marks a job done; false when `worker` no longer held its lease.
    async fn complete_job(&self, job: &JobId, worker: &str) -> StoreResult<bool>;
    /// Puts a job back in the queue, due at `run_at`, with the error that made it fail.
    async fn retry_job(&self, job: &JobId, worker: &str, run_at: Timestamp, error: &str) -> StoreResult<bool>;
    /// Gives a job up for good.
    async fn kill_job(&self, job: &JobId, worker: &str, error: &str) -> StoreResult<bool>;
    /// Hands a job back, due now, without counting the attempt (graceful shutdown).
    async fn release_job(&self, job: &JobId, worker: &str) -> StoreResult<bool>;
    /// Puts every job whose lease has expired back in the queue; answers how many.
    async fn reclaim_expired(&self) -> StoreResult<u64>;
    async fn get_job(&self, job: &JobId) -> StoreResult<Option<JobRow>>;
    /// Deletes up to `batch` finished events received before `before` (with their
    /// executions, journals and settled jobs) and up to `batch` settled
    /// deliveries created before it (with their attempts); answers how many
    /// rows of events and deliveries went. Stats are counters and stay.
    async fn prune(&self, before: Timestamp, batch: u32) -> StoreResult<u64>;
    /// Counts of queued and running jobs by kind (done and dead jobs are not counted).
    async fn queue_stats(&self) -> StoreResult<Vec<QueueStat>>;
    /// The job of an execution, if any.
    async fn job_for_target(&self, target_id: &str) -> StoreResult<Option<JobRow>>;

    // Executions and their journals.
    async fn get_execution(&self, ws: &WorkspaceId, id: &ExecutionId) -> StoreResult<Option<Execution>>;
    /// An execution with its event (`None` if the event is gone), as a run needs them.
    async fn execution_and_event(
        &self,
        ws: &WorkspaceId,
        id: &ExecutionId,
    ) -> StoreResult<Option<(Execution, Option<Event>)>> {
        let Some(execution) = self.get_execution(ws, id).await? else {
            return Ok(None);
        };
        let event = self.get_event(ws, &execution.event_id).await?;
        Ok(Some((execution, event)))
    }
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
    /// [`Store::finish_execution`] in one transaction with journal entries not yet written
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
