//! Connectors, their URL tokens and the versions of their documents.

use async_trait::async_trait;
use hookflow_core::{ConnectorId, Timestamp, WorkspaceId};
use hookflow_engine::store::{
    Connector, ConnectorPatch, Connectors, NewConnector, Page, PageRequest, StoreResult, Version, VERSIONS_KEPT,
};
use hookflow_engine::StoreError;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::db::{db_error, page, to_json};
use crate::rows::CONNECTOR_COLUMNS;
use crate::{rows, SqlStore};

#[async_trait]
impl Connectors for SqlStore {
    async fn create_connector(&self, new: NewConnector) -> StoreResult<Connector> {
        let now = Timestamp::now();
        let document = to_json(&new.document);
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO connectors (id, workspace_id, name, description, event_source, enabled, token, version, \
             document, structure, sample_custom_variables, created_at, updated_at, token_hash) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, 1, $7, NULL, NULL, $8, $8, $9)",
        )
        .bind(new.id.as_str())
        .bind(new.workspace_id.as_str())
        .bind(&new.name)
        .bind(&new.description)
        .bind(new.event_source.as_str())
        .bind(self.seal("connectors.token", &new.token))
        .bind(&document)
        .bind(now.as_millis())
        .bind(crate::workspaces::token_hash(&new.token))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("INSERT INTO connector_stats (connector_id) VALUES ($1)")
            .bind(new.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Self::insert_version(&mut tx, &new.id, 1, &document, "created", now).await?;
        let connector = self
            .connector_in(&mut tx, &new.workspace_id, &new.id)
            .await?
            .ok_or_else(|| StoreError::internal("connector vanished after insert"))?;
        tx.commit().await.map_err(db_error)?;
        Ok(connector)
    }

    async fn list_connectors(&self, ws: &WorkspaceId, req: &PageRequest) -> StoreResult<Page<Connector>> {
        let sql = format!(
            "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE workspace_id = $1 AND ($2 = '' OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let found = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(req.cursor.as_deref().unwrap_or(""))
            .bind(i64::from(req.limit) + 1)
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        let items = found
            .iter()
            .map(|r| self.connector_row(r))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, req.limit, |c| c.id.to_string()))
    }

    async fn get_connector(&self, ws: &WorkspaceId, id: &ConnectorId) -> StoreResult<Option<Connector>> {
        let sql = format!("SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE workspace_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(|r| self.connector_row(r)).transpose()
    }

    async fn update_connector(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        patch: &ConnectorPatch,
    ) -> StoreResult<Option<Connector>> {
        let mut tx = self.begin().await?;
        let Some(current) = self.connector_in(&mut tx, ws, id).await? else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE connectors SET name = $1, description = $2, enabled = $3, updated_at = $4 \
             WHERE workspace_id = $5 AND id = $6",
        )
        .bind(patch.name.as_deref().unwrap_or(&current.name))
        .bind(patch.description.as_deref().unwrap_or(&current.description))
        .bind(i64::from(patch.enabled.unwrap_or(current.enabled)))
        .bind(Timestamp::now().as_millis())
        .bind(ws.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let updated = self.connector_in(&mut tx, ws, id).await?;
        tx.commit().await.map_err(db_error)?;
        self.targets.clear();
        Ok(updated)
    }

    async fn delete_connector(&self, ws: &WorkspaceId, id: &ConnectorId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let gone = sqlx::query("DELETE FROM connectors WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        for sql in [
            "DELETE FROM jobs WHERE target_id IN (SELECT id FROM executions WHERE connector_id = $1)",
            "DELETE FROM executions WHERE connector_id = $1",
            "DELETE FROM events WHERE connector_id = $1",
            "DELETE FROM connector_versions WHERE connector_id = $1",
            "DELETE FROM connector_stats WHERE connector_id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        self.targets.clear();
        Ok(true)
    }

    async fn rotate_connector_token(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        token: &str,
    ) -> StoreResult<Option<Connector>> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE connectors SET token = $1, token_hash = $2, updated_at = $3 WHERE workspace_id = $4 AND id = $5",
        )
        .bind(self.seal("connectors.token", token))
        .bind(crate::workspaces::token_hash(token))
        .bind(Timestamp::now().as_millis())
        .bind(ws.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let connector = if changed == 0 {
            None
        } else {
            self.connector_in(&mut tx, ws, id).await?
        };
        tx.commit().await.map_err(db_error)?;
        self.targets.clear();
        Ok(connector)
    }

    async fn save_document(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        document: &Value,
        structure: Option<&Value>,
        note: &str,
    ) -> StoreResult<Option<Connector>> {
        let now = Timestamp::now();
        let text = to_json(document);
        let mut tx = self.begin().await?;
        let Some(current) = self.connector_in(&mut tx, ws, id).await? else {
            return Ok(None);
        };
        let version = current.version + 1;
        let structure = match structure {
            Some(s) => Some(to_json(s)),
            None => current.structure.as_ref().map(to_json),
        };
        sqlx::query(
            "UPDATE connectors SET version = $1, document = $2, structure = $3, updated_at = $4 \
             WHERE workspace_id = $5 AND id = $6",
        )
        .bind(version)
        .bind(&text)
        .bind(structure)
        .bind(now.as_millis())
        .bind(ws.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        Self::insert_version(&mut tx, id, version, &text, note, now).await?;
        let connector = self.connector_in(&mut tx, ws, id).await?;
        tx.commit().await.map_err(db_error)?;
        self.targets.clear();
        Ok(connector)
    }

    async fn set_structure(
        &self,
        ws: &WorkspaceId,
        id: &ConnectorId,
        structure: &Value,
        custom_variables: &Value,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE connectors SET structure = $1, sample_custom_variables = $2, updated_at = $3 \
             WHERE workspace_id = $4 AND id = $5",
        )
        .bind(to_json(structure))
        .bind(to_json(custom_variables))
        .bind(Timestamp::now().as_millis())
        .bind(ws.as_str())
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        self.targets.clear();
        Ok(changed.rows_affected() > 0)
    }

    async fn list_versions(&self, ws: &WorkspaceId, id: &ConnectorId) -> StoreResult<Vec<Version>> {
        let found = sqlx::query(
            "SELECT v.version, v.document, v.note, v.created_at FROM connector_versions v \
             JOIN connectors c ON c.id = v.connector_id \
             WHERE c.workspace_id = $1 AND c.id = $2 ORDER BY v.version DESC LIMIT 20",
        )
        .bind(ws.as_str())
        .bind(id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        found.iter().map(rows::version).collect()
    }

    async fn get_version(&self, ws: &WorkspaceId, id: &ConnectorId, version: i64) -> StoreResult<Option<Version>> {
        let row = sqlx::query(
            "SELECT v.version, v.document, v.note, v.created_at FROM connector_versions v \
             JOIN connectors c ON c.id = v.connector_id \
             WHERE c.workspace_id = $1 AND c.id = $2 AND v.version = $3",
        )
        .bind(ws.as_str())
        .bind(id.as_str())
        .bind(version)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        row.as_ref().map(rows::version).transpose()
    }
}

impl SqlStore {
    async fn connector_in(
        &self,
        tx: &mut AnyConnection,
        ws: &WorkspaceId,
        id: &ConnectorId,
    ) -> StoreResult<Option<Connector>> {
        let sql = format!("SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE workspace_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        row.as_ref().map(|r| self.connector_row(r)).transpose()
    }

    /// A connector row, with its URL token opened.
    fn connector_row(&self, row: &AnyRow) -> StoreResult<Connector> {
        let mut connector = rows::connector(row)?;
        connector.token = self.unseal("connectors.token", &connector.token)?;
        Ok(connector)
    }

    async fn insert_version(
        tx: &mut AnyConnection,
        id: &ConnectorId,
        version: i64,
        document: &str,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO connector_versions (connector_id, version, document, note, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(version)
        .bind(document)
        .bind(note)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "DELETE FROM connector_versions WHERE connector_id = $1 AND version <= $2 AND NOT EXISTS \
             (SELECT 1 FROM executions e WHERE e.connector_id = $1 AND e.config_version = connector_versions.version \
             AND e.finished_at IS NULL)",
        )
        .bind(id.as_str())
        .bind(version - VERSIONS_KEPT)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        Ok(())
    }
}
