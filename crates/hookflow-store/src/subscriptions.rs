//! Subscriptions, the events emitted to them (messages), and deliveries.
//!
//! Invariant: an event is emitted in the transaction of the change that
//! caused it, with one delivery row and one job per subscription that wants
//! it; nothing is emitted for a change that rolls back.

use hookflow_core::{ConnectorId, DeliveryId, JobKind, MessageId, SubscriptionId, Timestamp, WorkspaceId};
use hookflow_engine::store::{
    Delivery, DeliveryAttempt, DeliveryResult, DeliveryWork, Page, PageRequest, StepRecord, StoreResult, Subscription,
    SubscriptionChanges,
};
use hookflow_engine::StoreError;
use serde_json::{json, Map, Value};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::sql::{db_error, page, SqlStore};
use crate::{col, json};

const SUBSCRIPTION_COLUMNS: &str =
    "id, workspace_id, url, description, event_types, connector_ids, headers, extra_fields, \
     enabled, secret, previous_secret, previous_until, disabled_reason, failing_since, created_at, updated_at";
const DELIVERY_COLUMNS: &str =
    "id, subscription_id, message_id, event_type, status, attempts, next_at, last_error, created_at, updated_at";

fn object(text: &str, what: &str) -> StoreResult<Map<String, Value>> {
    match json(text, what)? {
        Value::Object(m) => Ok(m),
        _ => Err(StoreError::internal(format!("{what} is not an object"))),
    }
}

fn millis(row: &AnyRow, name: &str) -> StoreResult<Option<Timestamp>> {
    Ok(col::<Option<i64>>(row, name)?.map(Timestamp::from_millis))
}

/// A subscription row; with the store, its secrets and headers opened. Emitting needs neither,
/// and runs inside transactions of free functions: it reads rows without (`None`).
fn subscription(row: &AnyRow, store: Option<&SqlStore>) -> StoreResult<Subscription> {
    let open = |column: &str, sealed_as: &str| -> StoreResult<Option<String>> {
        match (store, col::<Option<String>>(row, column)?) {
            (Some(store), Some(stored)) => store.unseal(sealed_as, &stored).map(Some),
            (None, Some(_)) => Ok(Some(String::new())),
            (_, None) => Ok(None),
        }
    };
    let headers = open("headers", "subscriptions.headers")?.unwrap_or_default();
    let headers = if headers.is_empty() { "{}".to_owned() } else { headers };
    Ok(Subscription {
        id: SubscriptionId::from_trusted(col(row, "id")?),
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        url: col(row, "url")?,
        description: col(row, "description")?,
        event_types: json(&col::<String>(row, "event_types")?, "event types")?,
        connector_ids: json(&col::<String>(row, "connector_ids")?, "connector ids")?,
        headers: object(&headers, "headers")?,
        extra_fields: object(&col::<String>(row, "extra_fields")?, "extra_fields")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        secret: open("secret", "subscriptions.secret")?.unwrap_or_default(),
        previous_secret: open("previous_secret", "subscriptions.secret")?,
        previous_until: millis(row, "previous_until")?,
        disabled_reason: col(row, "disabled_reason")?,
        failing_since: millis(row, "failing_since")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

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

/// The enabled subscriptions of a workspace, read inside a transaction.
pub(crate) async fn enabled_subscriptions(tx: &mut AnyConnection, ws: &str) -> StoreResult<Vec<Subscription>> {
    let sql =
        format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE workspace_id = $1 AND enabled = 1 ORDER BY id");
    let rows = sqlx::query(&sql).bind(ws).fetch_all(&mut *tx).await.map_err(db_error)?;
    rows.iter().map(|row| subscription(row, None)).collect()
}

/// Emits an event to the given subscriptions that want it; see the module invariant.
pub(crate) async fn emit_in(
    tx: &mut AnyConnection,
    ws: &str,
    subscriptions: &[Subscription],
    event_type: &str,
    connector: Option<&str>,
    data: &Value,
) -> StoreResult<Option<MessageId>> {
    let wanting: Vec<&Subscription> = subscriptions
        .iter()
        .filter(|s| s.wants(event_type, connector))
        .collect();
    if wanting.is_empty() {
        return Ok(None);
    }
    let id = MessageId::new();
    let now = Timestamp::now();
    let payload = json!({"type": event_type, "timestamp": now.to_rfc3339(), "data": data});
    sqlx::query("INSERT INTO messages (id, workspace_id, event_type, connector_id, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id.as_str())
        .bind(ws)
        .bind(event_type)
        .bind(connector)
        .bind(payload.to_string())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    let workspace = WorkspaceId::from_trusted(ws.to_owned());
    for sub in wanting {
        let delivery = DeliveryId::new();
        sqlx::query(
            "INSERT INTO deliveries (id, workspace_id, subscription_id, message_id, event_type, status, attempts, next_at, \
             last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, NULL, $6, $6)",
        )
        .bind(delivery.as_str())
        .bind(ws)
        .bind(sub.id.as_str())
        .bind(id.as_str())
        .bind(event_type)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        crate::queue::insert_job_in_group(
            tx,
            JobKind::Delivery,
            &workspace,
            delivery.as_str(),
            now,
            Some(sub.id.as_str()),
        )
        .await?;
    }
    Ok(Some(id))
}

impl SqlStore {
    pub(crate) async fn subscription_create(&self, s: &Subscription) -> StoreResult<()> {
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

    pub(crate) async fn subscription_update(
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

    pub(crate) async fn subscription_rotate(
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

    pub(crate) async fn subscription_delete(&self, ws: &WorkspaceId, id: &SubscriptionId) -> StoreResult<bool> {
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

    pub(crate) async fn emit_event(
        &self,
        ws: &WorkspaceId,
        event_type: &str,
        connector: Option<&ConnectorId>,
        data: &Value,
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
        let id = emit_in(
            &mut tx,
            ws.as_str(),
            &subs,
            event_type,
            connector.map(ConnectorId::as_str),
            data,
        )
        .await?;
        if let Some(record) = journal {
            let mut record = record.clone();
            record.output = json!({"message_id": id, "type": event_type});
            crate::steps::write_step(&mut tx, &record).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }

    pub(crate) async fn work_for(&self, id: &DeliveryId) -> StoreResult<Option<DeliveryWork>> {
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

    pub(crate) async fn attempt_record(
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
                    let data = json!({"subscription_id": sub_id, "url": col::<String>(&since, "url")?, "reason": reason,
                        "disabled_at": now.to_rfc3339()});
                    emit_in(&mut tx, &ws, &subs, "subscription.disabled", None, &data).await?;
                }
            }
        }
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn deliveries_of(
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

    pub(crate) async fn delivery_get(
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

    pub(crate) async fn delivery_retry(&self, ws: &WorkspaceId, id: &DeliveryId) -> StoreResult<Option<Delivery>> {
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
        Ok(self.delivery_get(ws, id).await?.map(|(d, _)| d))
    }

    pub(crate) async fn delivery_recover(
        &self,
        ws: &WorkspaceId,
        sub: &SubscriptionId,
        since: Timestamp,
    ) -> StoreResult<u64> {
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

fn human(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{s} seconds"),
    }
}
