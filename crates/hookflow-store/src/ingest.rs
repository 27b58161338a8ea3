//! The ingest write (events with their executions, jobs, stats and structure captures), the
//! targets ingest reads (cached for a second), and the event log with its stats.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hookflow_core::{ConnectorId, EventId, EventStatus, ExecutionId, JobId, JobKind, Timestamp, WorkspaceId};
use hookflow_engine::store::{
    Event, Ingest, IngestTarget, NewEvent, Page, PageRequest, Stats, StoreResult, Subscription,
};
use hookflow_engine::{messages, StoreError};
use sqlx::AnyConnection;

use crate::db::{col, col_parsed, db_error, page, to_json};
use crate::op::Op;
use crate::rows::{EVENT_COLUMNS, STATS_COLUMNS};
use crate::{rows, SqlStore};

#[async_trait]
impl Ingest for SqlStore {
    async fn ingest_target(&self, token: &str) -> StoreResult<Option<Arc<IngestTarget>>> {
        if let Some(target) = self.targets.get(token) {
            return Ok(Some(target));
        }
        let row = sqlx::query(
            "SELECT id, workspace_id, event_source, enabled, version, document, \
             CASE WHEN structure IS NULL THEN 0 ELSE 1 END AS has_structure FROM connectors WHERE token_hash = $1",
        )
        .bind(crate::workspaces::token_hash(token))
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let target = Arc::new(IngestTarget {
            connector_id: ConnectorId::from_trusted(col(&row, "id")?),
            workspace_id: WorkspaceId::from_trusted(col(&row, "workspace_id")?),
            event_source: col_parsed(&row, "event_source")?,
            enabled: col::<i64>(&row, "enabled")? != 0,
            version: col(&row, "version")?,
            document: crate::db::json(&col::<String>(&row, "document")?, "document")?,
            has_structure: col::<i64>(&row, "has_structure")? != 0,
        });
        self.targets.put(token, target.clone());
        Ok(Some(target))
    }

    async fn insert_events(&self, events: &[NewEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.submit(Op::InsertEvents(events.to_vec())).await.map(|_| ())
    }

    async fn list_events(
        &self,
        ws: &WorkspaceId,
        connector: &ConnectorId,
        status: Option<EventStatus>,
        req: &PageRequest,
    ) -> StoreResult<Page<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND connector_id = $2 \
             AND ($3 = '' OR status = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        let found = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(connector.as_str())
            .bind(status.map(EventStatus::as_str).unwrap_or(""))
            .bind(req.cursor.as_deref().unwrap_or(""))
            .bind(i64::from(req.limit) + 1)
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        let items = found.iter().map(rows::event).collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, req.limit, |e| e.id.to_string()))
    }

    async fn get_event(&self, ws: &WorkspaceId, id: &EventId) -> StoreResult<Option<Event>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::event).transpose()
    }

    async fn stats(&self, ws: &WorkspaceId, connector: &ConnectorId) -> StoreResult<Option<Stats>> {
        let sql = format!(
            "SELECT {STATS_COLUMNS} FROM connector_stats s JOIN connectors c ON c.id = s.connector_id \
             WHERE c.workspace_id = $1 AND c.id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(connector.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::stats).transpose()
    }

    async fn reset_stats(&self, ws: &WorkspaceId, connector: &ConnectorId) -> StoreResult<Option<Stats>> {
        let changed = sqlx::query(
            "UPDATE connector_stats SET r_received = 0, r_succeeded = 0, r_failed = 0, r_filtered = 0, \
             r_rejected = 0, reset_at = $1 \
             WHERE connector_id = (SELECT id FROM connectors WHERE workspace_id = $2 AND id = $3)",
        )
        .bind(Timestamp::now().as_millis())
        .bind(ws.as_str())
        .bind(connector.as_str())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        self.stats(ws, connector).await
    }
}

/// How long a node answers ingest from a connector as it read it: a change made on another node
/// reaches this one's ingest within this time (this node's own changes at once).
const TARGET_TTL: Duration = Duration::from_secs(1);

/// The most tokens kept; past it the cache starts over.
const TARGETS_KEPT: usize = 10_000;

/// Ingest targets by token, as read at most [`TARGET_TTL`] ago: ingest needs one per request, and
/// reading and parsing the connector every time cost more than writing the event. Unknown tokens
/// are not kept, so a scan of made-up URLs cannot fill it.
#[derive(Default)]
pub(crate) struct TargetCache {
    map: Mutex<HashMap<String, (Instant, Arc<IngestTarget>)>>,
}

impl TargetCache {
    pub(crate) fn get(&self, token: &str) -> Option<Arc<IngestTarget>> {
        let map = self.map.lock().expect("lock poisoned");
        let (at, target) = map.get(token)?;
        (at.elapsed() < TARGET_TTL).then(|| target.clone())
    }

    pub(crate) fn put(&self, token: &str, target: Arc<IngestTarget>) {
        let mut map = self.map.lock().expect("lock poisoned");
        if map.len() >= TARGETS_KEPT {
            map.clear();
        }
        map.insert(token.to_owned(), (Instant::now(), target));
    }

    /// A connector changed here: read every target again.
    pub(crate) fn clear(&self) {
        self.map.lock().expect("lock poisoned").clear();
    }
}

/// The columns an ingested event is written with.
const EVENT_INSERT_COLUMNS: [&str; 15] = [
    "id",
    "workspace_id",
    "connector_id",
    "received_at",
    "status",
    "config_version",
    "method",
    "path",
    "query",
    "headers",
    "content_type",
    "body",
    "parsed",
    "error",
    "execution_id",
];

impl SqlStore {
    /// Ingest's write: the events, their executions and jobs, and what they announce.
    pub(crate) async fn insert_events_on(&self, tx: &mut AnyConnection, events: &[NewEvent]) -> StoreResult<()> {
        use crate::db::{insert_rows, Val};
        if events.is_empty() {
            return Ok(());
        }
        // Every column of every row first, then one multi-row INSERT per table.
        let mut headers = Vec::with_capacity(events.len());
        let mut parsed = Vec::with_capacity(events.len());
        for e in events {
            headers.push(serde_json::to_string(&e.headers).map_err(|e| StoreError::internal(e.to_string()))?);
            parsed.push(serde_json::to_string(&e.parsed).map_err(|e| StoreError::internal(e.to_string()))?);
        }
        let event_rows: Vec<Vec<Val>> = events
            .iter()
            .zip(headers.iter().zip(&parsed))
            .map(|(e, (headers, parsed))| {
                vec![
                    Val::Text(e.id.as_str()),
                    Val::Text(e.workspace_id.as_str()),
                    Val::Text(e.connector_id.as_str()),
                    Val::Int(e.received_at.as_millis()),
                    Val::Text(if e.nothing_to_run {
                        "succeeded"
                    } else {
                        e.status.as_str()
                    }),
                    Val::Int(e.config_version),
                    Val::Text(&e.method),
                    Val::Text(&e.path),
                    Val::Text(&e.query),
                    Val::Text(headers),
                    Val::OptText(e.content_type.as_deref()),
                    Val::Bytes(e.body.as_slice()),
                    Val::Text(parsed),
                    Val::OptText(e.error.as_deref()),
                    Val::OptText(e.execution.as_ref().map(ExecutionId::as_str)),
                ]
            })
            .collect();
        insert_rows(&mut *tx, "events", &EVENT_INSERT_COLUMNS, &event_rows).await?;
        let runs: Vec<(&NewEvent, &ExecutionId)> = events
            .iter()
            .filter_map(|e| e.execution.as_ref().map(|x| (e, x)))
            .collect();
        let execution_rows: Vec<Vec<Val>> = runs
            .iter()
            .map(|(e, x)| {
                // An execution with nothing to run succeeded the moment it was received.
                let done = e.nothing_to_run.then_some(e.received_at.as_millis());
                vec![
                    Val::Text(x.as_str()),
                    Val::Text(e.workspace_id.as_str()),
                    Val::Text(e.id.as_str()),
                    Val::Text(e.connector_id.as_str()),
                    Val::Int(e.config_version),
                    Val::Text(if e.nothing_to_run { "succeeded" } else { "received" }),
                    Val::Int(e.received_at.as_millis()),
                    Val::OptInt(done),
                    Val::OptInt(done),
                ]
            })
            .collect();
        insert_rows(
            &mut *tx,
            "executions",
            &[
                "id",
                "workspace_id",
                "event_id",
                "connector_id",
                "config_version",
                "status",
                "created_at",
                "started_at",
                "finished_at",
            ],
            &execution_rows,
        )
        .await?;
        let queued: Vec<&(&NewEvent, &ExecutionId)> = runs.iter().filter(|(e, _)| !e.nothing_to_run).collect();
        let job_ids: Vec<JobId> = queued.iter().map(|_| JobId::new()).collect();
        let job_rows: Vec<Vec<Val>> = queued
            .iter()
            .zip(&job_ids)
            .map(|((e, x), id)| {
                crate::queue::job_row(
                    id,
                    JobKind::Execution,
                    &e.workspace_id,
                    x.as_str(),
                    e.received_at,
                    e.order_group.as_deref(),
                )
            })
            .collect();
        insert_rows(&mut *tx, "jobs", &crate::queue::JOB_INSERT_COLUMNS, &job_rows).await?;

        // (received, rejected, succeeded at once) per connector, applied once per batch.
        let mut counts: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
        // Each workspace's subscriptions, read once per batch.
        let mut subscriptions: BTreeMap<&str, Vec<Subscription>> = BTreeMap::new();
        if events.iter().any(|e| e.capture_structure) {
            self.targets.clear();
        }
        for e in events {
            if e.capture_structure {
                sqlx::query(
                    "UPDATE connectors SET structure = $1, sample_custom_variables = $2 \
                     WHERE id = $3 AND structure IS NULL",
                )
                .bind(to_json(&e.parsed.body))
                .bind(
                    serde_json::to_string(&e.parsed.custom_variables)
                        .map_err(|e| StoreError::internal(e.to_string()))?,
                )
                .bind(e.connector_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
            if !subscriptions.contains_key(e.workspace_id.as_str()) {
                let found = crate::outbox::enabled_subscriptions(&mut *tx, e.workspace_id.as_str()).await?;
                subscriptions.insert(e.workspace_id.as_str(), found);
            }
            let subs = &subscriptions[e.workspace_id.as_str()];
            if !subs.is_empty() {
                let ws = e.workspace_id.as_str();
                crate::outbox::emit_in(&mut *tx, ws, subs, &messages::event_logged(e)).await?;
                if let (true, Some(x)) = (e.nothing_to_run, &e.execution) {
                    let ended = messages::execution_ended(messages::Ended {
                        execution: x.as_str(),
                        event: e.id.as_str(),
                        connector: e.connector_id.as_str(),
                        status: EventStatus::Succeeded,
                        error: None,
                        config_version: e.config_version,
                        finished_at: e.received_at,
                    });
                    if let Some(message) = ended {
                        crate::outbox::emit_in(&mut *tx, ws, subs, &message).await?;
                    }
                }
            }
            let entry = counts.entry(e.connector_id.as_str()).or_default();
            entry.0 += 1;
            entry.1 += i64::from(e.status == EventStatus::Rejected);
            entry.2 += i64::from(e.nothing_to_run);
        }
        if !queued.is_empty() {
            crate::queue::announce_work(&mut *tx, self.dialect).await?;
        }
        for (connector, (received, rejected, succeeded)) in counts {
            sqlx::query(
                "UPDATE connector_stats SET received = received + $1, r_received = r_received + $1, \
                 rejected = rejected + $2, r_rejected = r_rejected + $2, \
                 succeeded = succeeded + $3, r_succeeded = r_succeeded + $3 WHERE connector_id = $4",
            )
            .bind(received)
            .bind(rejected)
            .bind(succeeded)
            .bind(connector)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        Ok(())
    }
}
