use std::future::Future;
use std::sync::Arc;

use hookflow_core::{
    ConnectorId, EventId, EventSource, EventStatus, ExecutionId, SubscriptionId, Timestamp, TokenId, WorkspaceId,
};
use hookflow_engine::intake::{BodyKind, Parsed};
use hookflow_engine::store::{Connector, Delivery, NewConnector, NewEvent, NewWorkspace, PageRequest, Subscription};
use hookflow_engine::Store;
use hookflow_test_support::TestDatabase;
use serde_json::json;

/// Runs `check` against a fresh store of every configured database.
pub async fn on_every_database<F, Fut>(check: F)
where
    F: Fn(Arc<dyn Store>, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDatabase::all().await {
        let store = db.store().await;
        check(store.clone() as Arc<dyn Store>, db.label).await;
        store.close().await;
    }
}

pub async fn workspace(store: &dyn Store, name: &str) -> WorkspaceId {
    let id = WorkspaceId::new();
    store
        .create_workspace(NewWorkspace {
            id: id.clone(),
            name: name.into(),
            token_id: TokenId::new(),
            token_hash: format!("hash-of-{id}"),
        })
        .await
        .unwrap();
    id
}

pub async fn connector(store: &dyn Store, ws: &WorkspaceId, name: &str) -> Connector {
    store
        .create_connector(NewConnector {
            id: ConnectorId::new(),
            workspace_id: ws.clone(),
            name: name.into(),
            description: String::new(),
            event_source: EventSource::Webhook,
            token: hookflow_core::secret::new_connector_token(),
            document: hookflow_engine::document::empty(),
        })
        .await
        .unwrap()
}

pub fn event(c: &Connector, body: serde_json::Value) -> NewEvent {
    NewEvent {
        id: EventId::new(),
        workspace_id: c.workspace_id.clone(),
        connector_id: c.id.clone(),
        received_at: Timestamp::now(),
        status: EventStatus::Received,
        config_version: c.version,
        method: "POST".into(),
        path: format!("/hooks/{}", c.token),
        query: "a=1".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-a".into(), "1".into()),
        ],
        content_type: Some("application/json".into()),
        body: body.to_string().into_bytes(),
        parsed: Parsed {
            kind: Some(BodyKind::Json),
            body,
            custom_variables: [("a".to_owned(), json!("1"))].into_iter().collect(),
            files: Vec::new(),
        },
        error: None,
        execution: Some(ExecutionId::new()),
        capture_structure: true,
        order_group: None,
        nothing_to_run: false,
    }
}

/// An enabled subscription of `ws` wanting `event_types` (of `connectors` only, when any), unsaved.
pub fn new_subscription(ws: &WorkspaceId, event_types: &[&str], connectors: &[&str]) -> Subscription {
    let now = Timestamp::now();
    Subscription {
        id: SubscriptionId::new(),
        workspace_id: ws.clone(),
        url: format!("https://example.com/hooks/{}", event_types.join("+")),
        description: String::new(),
        event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
        connector_ids: connectors.iter().map(|c| (*c).to_owned()).collect(),
        headers: serde_json::Map::new(),
        extra_fields: serde_json::Map::new(),
        enabled: true,
        secret: format!("whsec_{}", SubscriptionId::new()),
        previous_secret: None,
        previous_until: None,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    }
}

/// Creates a [`new_subscription`].
pub async fn subscription(
    store: &dyn Store,
    ws: &WorkspaceId,
    event_types: &[&str],
    connectors: &[&str],
) -> Subscription {
    let s = new_subscription(ws, event_types, connectors);
    store.create_subscription(&s).await.unwrap();
    s
}

/// Every delivery of a subscription, oldest first.
pub async fn deliveries(store: &dyn Store, ws: &WorkspaceId, sub: &SubscriptionId) -> Vec<Delivery> {
    let req = PageRequest {
        limit: 1000,
        cursor: None,
    };
    let mut all = store.list_deliveries(ws, sub, None, &req).await.unwrap().items;
    all.reverse();
    all
}

/// The event types of a subscription's deliveries, oldest first.
pub async fn delivered_types(store: &dyn Store, ws: &WorkspaceId, sub: &SubscriptionId) -> Vec<String> {
    deliveries(store, ws, sub)
        .await
        .into_iter()
        .map(|d| d.event_type)
        .collect()
}
