//! The outbox: an event for subscribers is written as a message with one delivery and one job
//! per subscription that wants it, in the transaction of the change that caused it.

use hookflow_core::{ConnectorId, DeliveryId, JobKind, MessageId, Timestamp, WorkspaceId};
use hookflow_engine::messages::{envelope, Message};
use hookflow_engine::store::{StoreResult, Subscription};
use sqlx::AnyConnection;

use crate::db::db_error;
use crate::rows::{subscription, SUBSCRIPTION_COLUMNS};

/// The enabled subscriptions of a workspace, read inside a transaction.
pub(crate) async fn enabled_subscriptions(tx: &mut AnyConnection, ws: &str) -> StoreResult<Vec<Subscription>> {
    let sql =
        format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE workspace_id = $1 AND enabled = 1 ORDER BY id");
    let rows = sqlx::query(&sql).bind(ws).fetch_all(&mut *tx).await.map_err(db_error)?;
    rows.iter().map(|row| subscription(row, None)).collect()
}

/// Writes `message` for the given subscriptions that want it; see the module invariant.
pub(crate) async fn emit_in(
    tx: &mut AnyConnection,
    ws: &str,
    subscriptions: &[Subscription],
    message: &Message,
) -> StoreResult<Option<MessageId>> {
    let connector = message.connector.as_ref().map(ConnectorId::as_str);
    let event_type = message.event_type.as_str();
    let wanting: Vec<&Subscription> = subscriptions
        .iter()
        .filter(|s| s.wants(&message.event_type, connector))
        .collect();
    if wanting.is_empty() {
        return Ok(None);
    }
    let id = MessageId::new();
    let now = Timestamp::now();
    let payload = envelope(&message.event_type, now, &message.data);
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
