//! Workspaces, their API tokens and settings, and the workspace secret store.

use async_trait::async_trait;
use hookflow_core::{Timestamp, TokenId, WorkspaceId};
use serde::Serialize;

use super::StoreResult;

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

/// A secret of the workspace secret store, without its value.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
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

/// Workspaces, their API tokens and settings, and the workspace secret store.
#[async_trait]
pub trait Workspaces: Send + Sync + 'static {
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
}
