//! Workspaces: their API tokens and settings, the workspace secret store, and the sealing of
//! every column that holds a credential (see `cipher.rs`).

use async_trait::async_trait;
use hookflow_core::{Timestamp, WorkspaceId};
use hookflow_engine::store::{
    NewWorkspace, SecretInfo, StoreError, StoreResult, Workspace, WorkspaceSettings, Workspaces,
};
use sqlx::any::AnyRow;

use crate::db::{col, db_error};
use crate::SqlStore;

/// The columns that hold sealed values: table, key column, value column, and the name the value
/// is sealed under (a subscription's previous secret is its secret of before, moved as it is).
const SEALED: &[(&str, &str, &str, &str)] = &[
    ("channels", "id", "credentials", "channels.credentials"),
    ("subscriptions", "id", "secret", "subscriptions.secret"),
    ("subscriptions", "id", "previous_secret", "subscriptions.secret"),
    ("subscriptions", "id", "headers", "subscriptions.headers"),
];

/// How ingest finds a connector by its URL token: the token's SHA-256, in hex. The token itself is
/// kept sealed, for showing the URL again.
pub(crate) fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn info(row: &AnyRow) -> StoreResult<SecretInfo> {
    Ok(SecretInfo {
        name: col(row, "name")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

impl SqlStore {
    /// Seals `plain` for `column` (a name of [`SEALED`] or `secrets.value`).
    pub(crate) fn seal(&self, column: &str, plain: &str) -> String {
        self.cipher.seal(column, plain)
    }

    /// Opens a sealed value of `column`; a value from before encryption comes back as it is.
    pub(crate) fn unseal(&self, column: &str, stored: &str) -> StoreResult<String> {
        self.cipher.open(column, stored).map_err(StoreError::internal)
    }

    /// Reseals, at start, every value not sealed with the current key: rows written before
    /// encryption, and rows of a previous key (rotation).
    pub(crate) async fn reseal(&self) -> StoreResult<()> {
        let mut columns: Vec<(&str, &str, &str, &str)> = SEALED.to_vec();
        columns.push(("secrets", "workspace_id || ':' || name", "value", "secrets.value"));
        let mut resealed = 0;
        for (table, key, column, sealed_as) in columns {
            let sql = format!("SELECT {key} AS k, {column} AS v FROM {table} WHERE {column} IS NOT NULL");
            let rows: Vec<(String, String)> = sqlx::query_as(&sql).fetch_all(&self.write).await.map_err(db_error)?;
            for (k, stored) in rows {
                if self.cipher.is_current(&stored) {
                    continue;
                }
                let plain = self.unseal(sealed_as, &stored)?;
                let update = format!("UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3");
                sqlx::query(&update)
                    .bind(self.seal(sealed_as, &plain))
                    .bind(&k)
                    .bind(&stored)
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?;
                resealed += 1;
            }
        }
        resealed += self.reseal_connector_tokens().await?;
        if resealed > 0 {
            tracing::info!(resealed, "Sealed secret values with the current key.");
        }
        Ok(())
    }

    /// Connector tokens: sealed like the rest, and hashed for ingest's lookup.
    async fn reseal_connector_tokens(&self) -> StoreResult<usize> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, token FROM connectors")
            .fetch_all(&self.write)
            .await
            .map_err(db_error)?;
        let mut resealed = 0;
        for (id, stored) in rows {
            if self.cipher.is_current(&stored) {
                continue;
            }
            let token = self.unseal("connectors.token", &stored)?;
            sqlx::query("UPDATE connectors SET token = $1, token_hash = $2 WHERE id = $3 AND token = $4")
                .bind(self.seal("connectors.token", &token))
                .bind(token_hash(&token))
                .bind(&id)
                .bind(&stored)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
            resealed += 1;
        }
        Ok(resealed)
    }
}

fn workspace_row(row: &AnyRow) -> StoreResult<WorkspaceSettings> {
    Ok(WorkspaceSettings {
        id: WorkspaceId::from_trusted(col(row, "id")?),
        name: col(row, "name")?,
        timezone: col(row, "timezone")?,
        default_country: col(row, "default_country")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
    })
}

#[async_trait]
impl Workspaces for SqlStore {
    async fn get_workspace(&self, ws: &WorkspaceId) -> StoreResult<Option<WorkspaceSettings>> {
        let row = sqlx::query("SELECT id, name, timezone, default_country, created_at FROM workspaces WHERE id = $1")
            .bind(ws.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(workspace_row).transpose()
    }

    async fn update_workspace(
        &self,
        ws: &WorkspaceId,
        name: Option<&str>,
        timezone: Option<&str>,
        default_country: Option<Option<&str>>,
    ) -> StoreResult<Option<WorkspaceSettings>> {
        let Some(current) = self.get_workspace(ws).await? else {
            return Ok(None);
        };
        let country = match default_country {
            Some(c) => c.map(str::to_owned),
            None => current.default_country.clone(),
        };
        sqlx::query("UPDATE workspaces SET name = $1, timezone = $2, default_country = $3 WHERE id = $4")
            .bind(name.unwrap_or(&current.name))
            .bind(timezone.unwrap_or(&current.timezone))
            .bind(country)
            .bind(ws.as_str())
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        self.get_workspace(ws).await
    }

    /// Creates (`create`) or replaces a secret; `None` when there is none to replace.
    async fn put_secret(
        &self,
        ws: &WorkspaceId,
        name: &str,
        value: &str,
        create: bool,
    ) -> StoreResult<Option<SecretInfo>> {
        let now = Timestamp::now().as_millis();
        let sealed = self.seal("secrets.value", value);
        let done = if create {
            sqlx::query(
                "INSERT INTO secrets (workspace_id, name, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(ws.as_str())
            .bind(name)
            .bind(&sealed)
            .bind(now)
            .execute(&self.write)
            .await
            .map_err(|e| match db_error(e) {
                StoreError::Conflict { constraint, .. } => {
                    StoreError::conflict(constraint, format!("a secret named `{name}` exists"))
                }
                other => other,
            })?
        } else {
            sqlx::query("UPDATE secrets SET value = $1, updated_at = $2 WHERE workspace_id = $3 AND name = $4")
                .bind(&sealed)
                .bind(now)
                .bind(ws.as_str())
                .bind(name)
                .execute(&self.write)
                .await
                .map_err(db_error)?
        };
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT name, created_at, updated_at FROM secrets WHERE workspace_id = $1 AND name = $2")
            .bind(ws.as_str())
            .bind(name)
            .fetch_one(&self.write)
            .await
            .map_err(db_error)?;
        info(&row).map(Some)
    }

    async fn list_secrets(&self, ws: &WorkspaceId) -> StoreResult<Vec<SecretInfo>> {
        let rows =
            sqlx::query("SELECT name, created_at, updated_at FROM secrets WHERE workspace_id = $1 ORDER BY name")
                .bind(ws.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
        rows.iter().map(info).collect()
    }

    async fn delete_secret(&self, ws: &WorkspaceId, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM secrets WHERE workspace_id = $1 AND name = $2")
            .bind(ws.as_str())
            .bind(name)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// Every secret of a workspace, opened, for the `secrets` root of its executions.
    async fn secret_values(&self, ws: &WorkspaceId) -> StoreResult<std::collections::BTreeMap<String, String>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, value FROM secrets WHERE workspace_id = $1")
            .bind(ws.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.into_iter()
            .map(|(name, stored)| Ok((name, self.unseal("secrets.value", &stored)?)))
            .collect()
    }

    async fn create_workspace(&self, new: NewWorkspace) -> StoreResult<Workspace> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(new.id.as_str())
            .bind(&new.name)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("INSERT INTO api_tokens (id, workspace_id, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new.token_id.as_str())
            .bind(new.id.as_str())
            .bind(&new.token_hash)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Workspace {
            id: new.id,
            name: new.name,
            created_at: now,
        })
    }

    async fn workspace_by_token(&self, token_hash: &str) -> StoreResult<Option<WorkspaceId>> {
        let row = sqlx::query("SELECT workspace_id FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.map(|r| col::<String>(&r, "workspace_id").map(WorkspaceId::from_trusted))
            .transpose()
    }
}
