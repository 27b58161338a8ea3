//! Subscriptions, the events emitted to them (messages), and deliveries.
//!
//! Invariant: an event is emitted in the transaction of the change that
//! caused it, with one delivery row and one job per subscription that wants
//! it; nothing is emitted for a change that rolls back.

use async_trait::async_trait;
use hookflow_core::{MessageId, SubscriptionId, Timestamp, WorkspaceId};
use hookflow_engine::messages::Message;
use hookflow_engine::store::{StepRecord, StoreResult, Subscription, SubscriptionChanges, Subscriptions};
use serde_json::{json, Value};

use crate::db::db_error;
use crate::outbox::{emit_in, enabled_subscriptions};
use crate::rows::{subscription, SUBSCRIPTION_COLUMNS};
use crate::SqlStore;

impl SqlStore {
    pub(crate) async fn subscription_where(
        &self,
        ws: &WorkspaceId,
        id: Option<&SubscriptionId>,
    ) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE workspace_id = $1 AND ($2 = '' OR id = $2) ORDER BY id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.map_or("", SubscriptionId::as_str))
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.iter().map(|row| subscription(row, Some(self))).collect()
    }
}

#[async_trait]
impl Subscriptions for SqlStore {
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO subscriptions (id, workspace_id, url, description, event_types, connector_ids, headers, extra_fields, \
             enabled, secret, previous_secret, previous_until, disabled_reason, failing_since, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, NULL, $11, $11)",
        )
        .bind(s.id.as_str())
        .bind(s.workspace_id.as_str())
        .bind(&s.url)
        .bind(&s.description)
        .bind(json!(s.event_types).to_string())
        .bind(json!(s.connector_ids).to_string())
        .bind(self.seal("subscriptions.headers", &Value::Object(s.headers.clone()).to_string()))
        .bind(Value::Object(s.extra_fields.clone()).to_string())
        .bind(i64::from(s.enabled))
        .bind(self.seal("subscriptions.secret", &s.secret))
        .bind(s.created_at.as_millis())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn list_subscriptions(&self, ws: &WorkspaceId) -> StoreResult<Vec<Subscription>> {
        self.subscription_where(ws, None).await
    }

    async fn get_subscription(&self, ws: &WorkspaceId, id: &SubscriptionId) -> StoreResult<Option<Subscription>> {
        Ok(self.subscription_where(ws, Some(id)).await?.pop())
    }

    async fn update_subscription(
        &self,
        ws: &WorkspaceId,
        id: &SubscriptionId,
        c: &SubscriptionChanges,
    ) -> StoreResult<Option<Subscription>> {
        let Some(current) = self.subscription_where(ws, Some(id)).await?.pop() else {
            return Ok(None);
        };
        let enabled = c.enabled.unwrap_or(current.enabled);
        sqlx::query(
            "UPDATE subscriptions SET url = $1, description = $2, event_types = $3, connector_ids = $4, headers = $5, \
             extra_fields = $6, enabled = $7, disabled_reason = $8, failing_since = $9, updated_at = $10 \
             WHERE workspace_id = $11 AND id = $12",
        )
        .bind(c.url.as_ref().unwrap_or(&current.url))
        .bind(c.description.as_ref().unwrap_or(&current.description))
        .bind(json!(c.event_types.as_ref().unwrap_or(&current.event_types)).to_string())
        .bind(json!(c.connector_ids.as_ref().unwrap_or(&current.connector_ids)).to_string())
        .bind(self.seal(
            "subscriptions.headers",
            &Value::Object(c.headers.clone().unwrap_or(current.headers)).to_string(),
        ))
        .bind(Value::Object(c.extra_fields.clone().unwrap_or(current.extra_fields)).to_string())
        .bind(i64::from(enabled))
        // Turning a subscription on again clears why it was turned off.
        .bind(if enabled {
            None
        } else {
            current.disabled_reason.clone().or_else(|| Some("turned off".into()))
        })
        .bind(if enabled && !current.enabled {
            None
        } else {
            current.failing_since.map(Timestamp::as_millis)
        })
        .bind(Timestamp::now().as_millis())
        .bind(ws.as_str())
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(self.subscription_where(ws, Some(id)).await?.pop())
    }

    async fn rotate_subscription_secret(
        &self,
        ws: &WorkspaceId,
        id: &SubscriptionId,
        secret: &str,
        keep_old_until: Timestamp,
    ) -> StoreResult<Option<Subscription>> {
        let changed = sqlx::query(
            "UPDATE subscriptions SET previous_secret = secret, previous_until = $1, secret = $2, updated_at = $3 \
             WHERE workspace_id = $4 AND id = $5",
        )
        .bind(keep_old_until.as_millis())
        .bind(self.seal("subscriptions.secret", secret))
        .bind(Timestamp::now().as_millis())
        .bind(ws.as_str())
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(self.subscription_where(ws, Some(id)).await?.pop())
    }

    async fn delete_subscription(&self, ws: &WorkspaceId, id: &SubscriptionId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let gone = sqlx::query("DELETE FROM subscriptions WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if gone > 0 {
            for sql in [
                "DELETE FROM jobs WHERE group_key = $1 AND state IN ('queued', 'dead')",
                "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = $1)",
                "DELETE FROM deliveries WHERE subscription_id = $1",
            ] {
                sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await.map_err(db_error)?;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(gone > 0)
    }

    async fn emit(
        &self,
        ws: &WorkspaceId,
        message: &Message,
        only: Option<&SubscriptionId>,
        journal: Option<&StepRecord>,
    ) -> StoreResult<Option<MessageId>> {
        let mut tx = self.begin().await?;
        let mut subs = enabled_subscriptions(&mut tx, ws.as_str()).await?;
        if let Some(only) = only {
            // A test send reaches the one subscription whatever it filters on.
            subs.retain(|s| &s.id == only);
            for s in &mut subs {
                s.event_types = vec!["*".into()];
                s.connector_ids.clear();
            }
        }
        let id = emit_in(&mut tx, ws.as_str(), &subs, message).await?;
        if let Some(record) = journal {
            let mut record = record.clone();
            record.output = json!({"message_id": id, "type": message.event_type});
            crate::journal::write_step(&mut tx, &record).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }
}
