//! Connectors and the versions of their documents.

use async_trait::async_trait;
use hookflow_core::{ConnectorId, EventSource, Timestamp, WorkspaceId};
use serde::Serialize;
use serde_json::Value;

use super::{Page, PageRequest, StoreResult};

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

/// Connectors and the versions of their documents.
#[async_trait]
pub trait Connectors: Send + Sync + 'static {
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
}
