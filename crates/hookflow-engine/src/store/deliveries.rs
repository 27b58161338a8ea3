//! Deliveries of emitted events to subscriptions, and their attempts.

use async_trait::async_trait;
use hookflow_core::{DeliveryId, MessageId, SubscriptionId, Timestamp, WorkspaceId};
use serde_json::Value;

use super::{Page, PageRequest, StoreResult, Subscription};

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

/// Deliveries of emitted events to subscriptions, and their attempts.
#[async_trait]
pub trait Deliveries: Send + Sync + 'static {
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
}
