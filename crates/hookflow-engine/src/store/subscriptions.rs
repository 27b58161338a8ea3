//! Outbound webhook subscriptions, and emitting the events they receive.

use async_trait::async_trait;
use hookflow_core::{EventType, MessageId, SubscriptionId, Timestamp, WorkspaceId};
use serde_json::Value;

use crate::messages::Message;

use super::{StepRecord, StoreResult};

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
    pub fn wants(&self, event_type: &EventType, connector: Option<&str>) -> bool {
        let type_ok = self.event_types.iter().any(|p| event_type.matches(p));
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

/// Outbound webhook subscriptions, and emitting the events they receive.
#[async_trait]
pub trait Subscriptions: Send + Sync + 'static {
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
    /// Writes `message` for the subscriptions that want it (only `only` when given), with their
    /// deliveries and jobs, and `journal` when given, in one transaction. Answers the message id,
    /// or `None` when no subscription wants it.
    async fn emit(
        &self,
        ws: &WorkspaceId,
        message: &Message,
        only: Option<&SubscriptionId>,
        journal: Option<&StepRecord>,
    ) -> StoreResult<Option<MessageId>>;
}
