//! Deliveries of emitted events to subscriptions: the work of a delivery job, its attempts,
//! retries and recoveries.

use async_trait::async_trait;
use hookflow_core::{DeliveryId, JobKind, MessageId, SubscriptionId, Timestamp, WorkspaceId};
use hookflow_engine::store::{
    Deliveries, Delivery, DeliveryAttempt, DeliveryResult, DeliveryWork, Page, PageRequest, StoreResult,
};
use hookflow_engine::{messages, StoreError};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::db::{col, db_error, json, page};
use crate::outbox::{emit_in, enabled_subscriptions};
use crate::rows::millis;
use crate::SqlStore;

const DELIVERY_COLUMNS: &str =
    "id, subscription_id, message_id, event_type, status, attempts, next_at, last_error, created_at, updated_at";

fn delivery(row: &AnyRow) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: DeliveryId::from_trusted(col(row, "id")?),
        subscription_id: SubscriptionId::from_trusted(col(row, "subscription_id")?),
        message_id: MessageId::from_trusted(col(row, "message_id")?),
        event_type: col(row, "event_type")?,
        status: col(row, "status")?,
        attempts: col(row, "attempts")?,
        next_at: millis(row, "next_at")?,
        last_error: col(row, "last_error")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

impl SqlStore {
    /// Puts deliveries back to `pending` with a new job due now.
    async fn requeue(&self, tx: &mut AnyConnection, ws: &WorkspaceId, rows: &[(String, String)]) -> StoreResult<()> {
        let now = Timestamp::now();
        for (id, sub) in rows {
            sqlx::query("UPDATE deliveries SET status = 'pending', next_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now.as_millis())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            crate::queue::insert_job_in_group(tx, JobKind::Delivery, ws, id, now, Some(sub)).await?;
        }
        crate::queue::announce_work(tx, self.dialect).await?;
        Ok(())
    }
}

fn human(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{s} seconds"),
    }
}

#[async_trait]
impl Deliveries for SqlStore {
    async fn delivery_work(&self, id: &DeliveryId) -> StoreResult<Option<DeliveryWork>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS}, workspace_id FROM deliveries WHERE id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let d = delivery(&row)?;
        let ws = WorkspaceId::from_trusted(col(&row, "workspace_id")?);
        let Some(sub) = self.subscription_where(&ws, Some(&d.subscription_id)).await?.pop() else {
            return Ok(None);
        };
        let payload = sqlx::query("SELECT payload FROM messages WHERE id = $1")
            .bind(d.message_id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        let Some(payload) = payload else { return Ok(None) };
        Ok(Some(DeliveryWork {
            delivery: d,
            subscription: sub,
            payload: json(&col::<String>(&payload, "payload")?, "payload")?,
        }))
    }

    async fn record_delivery_attempt(
        &self,
        id: &DeliveryId,
        a: &DeliveryAttempt,
        result: &DeliveryResult,
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, status_code, latency_ms, response_headers, response_body, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (delivery_id, attempt) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(a.attempt)
        .bind(a.at.as_millis())
        .bind(a.status_code)
        .bind(a.latency_ms)
        .bind(a.response_headers.to_string())
        .bind(&a.response_body)
        .bind(a.error.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let (status, next_at) = match result {
            DeliveryResult::Delivered => ("delivered", None),
            DeliveryResult::Retry { at, .. } => ("pending", Some(at.as_millis())),
            DeliveryResult::Failed { .. } => ("failed", None),
        };
        let row = sqlx::query(
            "UPDATE deliveries SET status = $1, attempts = $2, next_at = $3, last_error = $4, updated_at = $5 WHERE id = $6 \
             RETURNING subscription_id, workspace_id",
        )
        .bind(status)
        .bind(a.attempt)
        .bind(next_at)
        .bind(a.error.as_deref())
        .bind(now.as_millis())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(()) };
        let (sub_id, ws): (String, String) = (col(&row, "subscription_id")?, col(&row, "workspace_id")?);
        match result {
            DeliveryResult::Delivered => {
                sqlx::query("UPDATE subscriptions SET failing_since = NULL WHERE id = $1")
                    .bind(&sub_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            DeliveryResult::Retry { disable_after_ms, .. } | DeliveryResult::Failed { disable_after_ms, .. } => {
                sqlx::query("UPDATE subscriptions SET failing_since = COALESCE(failing_since, $1) WHERE id = $2")
                    .bind(a.at.as_millis())
                    .bind(&sub_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let since = sqlx::query("SELECT failing_since, url, enabled FROM subscriptions WHERE id = $1")
                    .bind(&sub_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let failing_since: Option<i64> = col(&since, "failing_since")?;
                let reason = match result {
                    DeliveryResult::Failed {
                        disable: Some(reason), ..
                    } => Some(reason.clone()),
                    _ if failing_since.is_some_and(|f| now.as_millis() - f >= *disable_after_ms) => Some(format!(
                        "every delivery failed for {} with no success between",
                        human(*disable_after_ms)
                    )),
                    _ => None,
                };
                if let (Some(reason), true) = (reason, col::<i64>(&since, "enabled")? != 0) {
                    sqlx::query(
                        "UPDATE subscriptions SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(&reason)
                    .bind(now.as_millis())
                    .bind(&sub_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    let subs = enabled_subscriptions(&mut tx, &ws).await?;
                    let url = col::<String>(&since, "url")?;
                    let message = messages::subscription_disabled(&sub_id, &url, &reason, now);
                    emit_in(&mut tx, &ws, &subs, &message).await?;
                }
            }
        }
        tx.commit().await.map_err(db_error)
    }

    async fn list_deliveries(
        &self,
        ws: &WorkspaceId,
        sub: &SubscriptionId,
        status: Option<&str>,
        req: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = $1 AND subscription_id = $2 \
             AND ($3 = '' OR status = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(sub.as_str())
            .bind(status.unwrap_or(""))
            .bind(req.cursor.as_deref().unwrap_or(""))
            .bind(i64::from(req.limit) + 1)
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        let items = rows.iter().map(delivery).collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, req.limit, |d| d.id.to_string()))
    }

    async fn get_delivery(
        &self,
        ws: &WorkspaceId,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = $1 AND id = $2");
        let Some(row) = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT attempt, at, status_code, latency_ms, response_headers, response_body, error FROM delivery_attempts \
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        let attempts = rows
            .iter()
            .map(|r| {
                Ok(DeliveryAttempt {
                    attempt: col(r, "attempt")?,
                    at: Timestamp::from_millis(col(r, "at")?),
                    status_code: col(r, "status_code")?,
                    latency_ms: col(r, "latency_ms")?,
                    response_headers: json(&col::<String>(r, "response_headers")?, "response headers")?,
                    response_body: col(r, "response_body")?,
                    error: col(r, "error")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((delivery(&row)?, attempts)))
    }

    async fn retry_delivery(&self, ws: &WorkspaceId, id: &DeliveryId) -> StoreResult<Option<Delivery>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT subscription_id, status FROM deliveries WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        if col::<String>(&row, "status")? == "pending" {
            return Err(StoreError::conflict(
                "deliveries(status)",
                "this delivery is already waiting for its next attempt",
            ));
        }
        self.requeue(&mut tx, ws, &[(id.to_string(), col(&row, "subscription_id")?)])
            .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(self.get_delivery(ws, id).await?.map(|(d, _)| d))
    }

    async fn recover_deliveries(&self, ws: &WorkspaceId, sub: &SubscriptionId, since: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT id FROM deliveries WHERE workspace_id = $1 AND subscription_id = $2 AND status = 'failed' AND created_at >= $3",
        )
        .bind(ws.as_str())
        .bind(sub.as_str())
        .bind(since.as_millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let ids: Vec<(String, String)> = rows
            .iter()
            .map(|r| Ok((col::<String>(r, "id")?, sub.to_string())))
            .collect::<StoreResult<_>>()?;
        self.requeue(&mut tx, ws, &ids).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(ids.len() as u64)
    }
}
