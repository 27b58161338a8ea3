//! [`SqlStore`]: workspaces, connectors, versions, events and stats.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hookflow_core::{
    ChannelId, ConnectorId, ContactId, DeliveryId, EventId, EventStatus, ExecutionId, JobId, JobKind, JobState,
    MemberId, MessageId, SubscriptionId, Timestamp, WorkspaceId,
};
use hookflow_engine::store::{
    AttributeDefinition, Channel, Connector, ConnectorPatch, Contact, ContactChanges, ContactFilter, ContactMatch,
    Delivery, DeliveryAttempt, DeliveryResult, DeliveryWork, Event, IngestTarget, Job, JobRow, Member, NewConnector,
    NewEvent, NewWorkspace, Page, PageRequest, SecretInfo, Stats, StepRecord, StoreResult, Subscription,
    SubscriptionChanges, Version, Workspace, WorkspaceSettings, VERSIONS_KEPT,
};
use hookflow_engine::{Store, StoreError};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

use crate::rows::{self, CONNECTOR_COLUMNS, EVENT_COLUMNS, STATS_COLUMNS};
use crate::writer::{Done, Op};
use crate::{col, Dialect, StoreOptions};

/// The store over SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    /// Writes go here: one connection on SQLite, the shared pool on PostgreSQL.
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    pub(crate) dialect: Dialect,
    /// Where the database is, for the PostgreSQL listener.
    pub(crate) backend: crate::Backend,
    /// SQLite's group-commit task for the hot writes; `None` on PostgreSQL.
    pub(crate) writer: Option<crate::writer::Writer>,
    targets: Arc<TargetCache>,
    /// Seals secret values at rest (channel credentials, subscription secrets and headers,
    /// workspace secrets).
    pub(crate) cipher: Arc<crate::Cipher>,
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
struct TargetCache {
    map: Mutex<HashMap<String, (Instant, Arc<IngestTarget>)>>,
}

impl TargetCache {
    fn get(&self, token: &str) -> Option<Arc<IngestTarget>> {
        let map = self.map.lock().expect("lock poisoned");
        let (at, target) = map.get(token)?;
        (at.elapsed() < TARGET_TTL).then(|| target.clone())
    }

    fn put(&self, token: &str, target: Arc<IngestTarget>) {
        let mut map = self.map.lock().expect("lock poisoned");
        if map.len() >= TARGETS_KEPT {
            map.clear();
        }
        map.insert(token.to_owned(), (Instant::now(), target));
    }

    /// A connector changed here: read every target again.
    fn clear(&self) {
        self.map.lock().expect("lock poisoned").clear();
    }
}

/// `ANALYZE` of `jobs`, and of `executions` and `events` when a tenth of them changed since.
async fn analyze_stale(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let stale: Vec<(String,)> = sqlx::query_as(
        "SELECT relname::text FROM pg_stat_user_tables WHERE relname = 'jobs' \
         OR (relname IN ('executions', 'events') AND n_mod_since_analyze > 50 + n_live_tup / 10)",
    )
    .fetch_all(pool)
    .await?;
    // The names come from the fixed list above.
    for (table,) in stale {
        sqlx::query(&format!("ANALYZE {table}")).execute(pool).await?;
    }
    Ok(())
}

pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.message().to_owned()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d) if is_transient(d.code().as_deref()) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// SQLite busy/locked, PostgreSQL serialization failure, deadlock, shutdown and connection classes.
fn is_transient(code: Option<&str>) -> bool {
    matches!(code, Some("5" | "6" | "40001" | "40P01" | "57P01" | "57P02" | "57P03"))
        || code.is_some_and(|c| c.starts_with("08"))
}

fn to_json(v: &Value) -> String {
    v.to_string()
}

impl SqlStore {
    /// Opens (creating if needed) and migrates the database.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let cipher = Arc::new(crate::Cipher::load(&options.keys).map_err(StoreError::Internal)?);
        let (write, read, dialect) = crate::open(options).await.map_err(|e| match e {
            sqlx::Error::Migrate(m) => StoreError::Internal(format!("migration failed: {m}")),
            other => db_error(other),
        })?;
        let mut store = Self {
            write,
            read,
            dialect,
            backend: options.backend.clone(),
            writer: None,
            targets: Arc::default(),
            cipher,
        };
        store.reseal().await?;
        if dialect == Dialect::Sqlite {
            store.writer = Some(crate::writer::Writer::start(store.clone()));
        }
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// On PostgreSQL, keeps the planner's statistics of the hot tables fresh, checking every
    /// `every` until the task is aborted: the job queue each time, and executions and events once a
    /// tenth of them changed since they were last analyzed (autovacuum's own rule, for when it is
    /// late or off). The queue's due rows change faster than autovacuum re-analyzes a big table:
    /// with statistics of an empty table, PostgreSQL took a backlog of 400,000 due jobs for one
    /// row and sorted all of them in every claim, and read every event to mark 64 running.
    /// `ANALYZE` samples a fixed number of rows, so it costs about the same on any size of table.
    pub fn keep_planner_statistics(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        if self.dialect != Dialect::Postgres {
            return None;
        }
        let pool = self.write.clone();
        Some(tokio::spawn(async move {
            loop {
                if let Err(error) = analyze_stale(&pool).await {
                    tracing::warn!(%error, "Refreshing the planner's statistics failed.");
                }
                tokio::time::sleep(every).await;
            }
        }))
    }

    /// On PostgreSQL, listens for work queued by any node and wakes this node's
    /// workers; answers `None` on SQLite (one node: local commits wake it).
    pub fn listen(&self, wake: std::sync::Arc<tokio::sync::Notify>) -> Option<tokio::task::JoinHandle<()>> {
        let crate::Backend::Postgres(url) = &self.backend else {
            return None;
        };
        let url = url.clone();
        Some(tokio::spawn(async move {
            loop {
                let listener = async {
                    let mut l = sqlx::postgres::PgListener::connect(&url).await?;
                    l.listen(crate::queue::WORK_CHANNEL).await?;
                    Ok::<_, sqlx::Error>(l)
                };
                match listener.await {
                    Ok(mut l) => loop {
                        match l.recv().await {
                            Ok(_) => wake.notify_waiters(),
                            Err(error) => {
                                tracing::warn!(%error, "Lost the work notifications; polling until they are back.");
                                break;
                            }
                        }
                    },
                    Err(error) => tracing::warn!(%error, "Cannot listen for work notifications; polling meanwhile."),
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }))
    }

    /// How many ingest batches should be under way at once on this database. On SQLite
    /// one waits in the group-commit queue while the other commits.
    pub fn ingest_in_flight(&self) -> usize {
        match self.dialect {
            Dialect::Sqlite => 2,
            Dialect::Postgres => 4,
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        self.write.begin().await.map_err(db_error)
    }

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

/// `limit + 1` rows were read: the extra one says there is a next page.
pub(crate) fn page<T>(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(&cursor_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    async fn get_workspace(&self, ws: &WorkspaceId) -> StoreResult<Option<WorkspaceSettings>> {
        self.workspace_get(ws).await
    }

    async fn update_workspace(
        &self,
        ws: &WorkspaceId,
        name: Option<&str>,
        timezone: Option<&str>,
        default_country: Option<Option<&str>>,
    ) -> StoreResult<Option<WorkspaceSettings>> {
        self.workspace_update(ws, name, timezone, default_country).await
    }

    async fn create_member(&self, ws: &WorkspaceId, name: &str, email: &str) -> StoreResult<Member> {
        self.member_create(ws, name, email).await
    }

    async fn list_members(&self, ws: &WorkspaceId) -> StoreResult<Vec<Member>> {
        self.member_where(ws, "id", "").await
    }

    async fn get_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<Option<Member>> {
        Ok(self.member_where(ws, "id", id.as_str()).await?.pop())
    }

    async fn member_by_email(&self, ws: &WorkspaceId, email: &str) -> StoreResult<Option<Member>> {
        if email.is_empty() {
            return Ok(None);
        }
        Ok(self.member_where(ws, "email", email).await?.pop())
    }

    async fn delete_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<bool> {
        self.member_delete(ws, id).await
    }

    async fn upsert_contact(
        &self,
        ws: &WorkspaceId,
        find: &ContactMatch,
        changes: &ContactChanges,
        create: bool,
    ) -> StoreResult<Option<(Contact, bool)>> {
        self.contact_upsert(ws, find, changes, create).await
    }

    async fn find_contact(&self, ws: &WorkspaceId, find: &ContactMatch) -> StoreResult<Option<Contact>> {
        self.contact_find(ws, find).await
    }

    async fn get_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<Option<Contact>> {
        self.contact_get(ws, id).await
    }

    async fn update_contact(
        &self,
        ws: &WorkspaceId,
        id: &ContactId,
        changes: &ContactChanges,
    ) -> StoreResult<Option<Contact>> {
        self.contact_update(ws, id, changes).await
    }

    async fn delete_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<bool> {
        self.contact_delete(ws, id).await
    }

    async fn list_contacts(
        &self,
        ws: &WorkspaceId,
        filter: &ContactFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Contact>> {
        self.contact_list(ws, filter, page).await
    }

    async fn define_attribute(&self, ws: &WorkspaceId, name: &str, kind: &str) -> StoreResult<AttributeDefinition> {
        self.attribute_define(ws, name, kind).await
    }

    async fn list_attribute_definitions(&self, ws: &WorkspaceId) -> StoreResult<Vec<AttributeDefinition>> {
        self.attribute_list(ws).await
    }

    async fn delete_attribute_definition(&self, ws: &WorkspaceId, name: &str) -> StoreResult<bool> {
        self.attribute_delete(ws, name).await
    }

    async fn put_secret(
        &self,
        ws: &WorkspaceId,
        name: &str,
        value: &str,
        create: bool,
    ) -> StoreResult<Option<SecretInfo>> {
        self.secret_put(ws, name, value, create).await
    }

    async fn list_secrets(&self, ws: &WorkspaceId) -> StoreResult<Vec<SecretInfo>> {
        self.secret_list(ws).await
    }

    async fn delete_secret(&self, ws: &WorkspaceId, name: &str) -> StoreResult<bool> {
        self.secret_delete(ws, name).await
    }

    async fn secret_values(&self, ws: &WorkspaceId) -> StoreResult<std::collections::BTreeMap<String, String>> {
        self.secret_values_of(ws).await
    }

    async fn create_channel(&self, channel: &Channel) -> StoreResult<()> {
        self.channel_create(channel).await
    }

    async fn list_channels(&self, ws: &WorkspaceId) -> StoreResult<Vec<Channel>> {
        self.channel_where(ws, None).await
    }

    async fn get_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<Option<Channel>> {
        Ok(self.channel_where(ws, Some(id)).await?.pop())
    }

    async fn update_channel(
        &self,
        ws: &WorkspaceId,
        id: &ChannelId,
        name: Option<&str>,
        settings: Option<&Value>,
        credentials: Option<&Value>,
    ) -> StoreResult<Option<Channel>> {
        self.channel_update(ws, id, name, settings, credentials).await
    }

    async fn delete_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<bool> {
        self.channel_delete(ws, id).await
    }

    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<()> {
        self.subscription_create(subscription).await
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
        changes: &SubscriptionChanges,
    ) -> StoreResult<Option<Subscription>> {
        self.subscription_update(ws, id, changes).await
    }

    async fn rotate_subscription_secret(
        &self,
        ws: &WorkspaceId,
        id: &SubscriptionId,
        secret: &str,
        keep_old_until: Timestamp,
    ) -> StoreResult<Option<Subscription>> {
        self.subscription_rotate(ws, id, secret, keep_old_until).await
    }

    async fn delete_subscription(&self, ws: &WorkspaceId, id: &SubscriptionId) -> StoreResult<bool> {
        self.subscription_delete(ws, id).await
    }

    async fn emit(
        &self,
        ws: &WorkspaceId,
        event_type: &str,
        connector: Option<&ConnectorId>,
        data: &Value,
        only: Option<&SubscriptionId>,
        journal: Option<&StepRecord>,
    ) -> StoreResult<Option<MessageId>> {
        self.emit_event(ws, event_type, connector, data, only, journal).await
    }

    async fn delivery_work(&self, id: &DeliveryId) -> StoreResult<Option<DeliveryWork>> {
        self.work_for(id).await
    }

    async fn record_delivery_attempt(
        &self,
        id: &DeliveryId,
        attempt: &DeliveryAttempt,
        result: &DeliveryResult,
    ) -> StoreResult<()> {
        self.attempt_record(id, attempt, result).await
    }

    async fn list_deliveries(
        &self,
        ws: &WorkspaceId,
        subscription: &SubscriptionId,
        status: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        self.deliveries_of(ws, subscription, status, page).await
    }

    async fn get_delivery(
        &self,
        ws: &WorkspaceId,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, Vec<DeliveryAttempt>)>> {
        self.delivery_get(ws, id).await
    }

    async fn retry_delivery(&self, ws: &WorkspaceId, id: &DeliveryId) -> StoreResult<Option<Delivery>> {
        self.delivery_retry(ws, id).await
    }

    async fn recover_deliveries(&self, ws: &WorkspaceId, id: &SubscriptionId, since: Timestamp) -> StoreResult<u64> {
        self.delivery_recover(ws, id, since).await
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
        .bind(crate::secrets::token_hash(&new.token))
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
            .ok_or_else(|| StoreError::Internal("connector vanished after insert".into()))?;
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
        .bind(crate::secrets::token_hash(token))
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

    async fn ingest_target(&self, token: &str) -> StoreResult<Option<Arc<IngestTarget>>> {
        if let Some(target) = self.targets.get(token) {
            return Ok(Some(target));
        }
        let row = sqlx::query(
            "SELECT id, workspace_id, event_source, enabled, version, document, \
             CASE WHEN structure IS NULL THEN 0 ELSE 1 END AS has_structure FROM connectors WHERE token_hash = $1",
        )
        .bind(crate::secrets::token_hash(token))
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let target = Arc::new(IngestTarget {
            connector_id: ConnectorId::from_trusted(col(&row, "id")?),
            workspace_id: WorkspaceId::from_trusted(col(&row, "workspace_id")?),
            event_source: col::<String>(&row, "event_source")?
                .parse()
                .map_err(|e: hookflow_core::UnknownValue| StoreError::Internal(e.to_string()))?,
            enabled: col::<i64>(&row, "enabled")? != 0,
            version: col(&row, "version")?,
            document: crate::json(&col::<String>(&row, "document")?, "document")?,
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

    async fn enqueue_job(
        &self,
        kind: JobKind,
        ws: &WorkspaceId,
        target: &str,
        run_at: Timestamp,
    ) -> StoreResult<JobId> {
        let mut tx = self.begin().await?;
        let id = crate::queue::insert_job(&mut tx, kind, ws, target, run_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }

    async fn claim_jobs(&self, kinds: &[JobKind], worker: &str, limit: u32, lease: Duration) -> StoreResult<Vec<Job>> {
        self.claim(kinds, worker, limit, lease).await
    }

    async fn heartbeat(&self, jobs: &[JobId], worker: &str, lease: Duration) -> StoreResult<Vec<JobId>> {
        self.extend_leases(jobs, worker, lease).await
    }

    async fn complete_job(&self, job: &JobId, worker: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Done, None, None, false).await
    }

    async fn retry_job(&self, job: &JobId, worker: &str, run_at: Timestamp, error: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Queued, Some(run_at), Some(error), false)
            .await
    }

    async fn kill_job(&self, job: &JobId, worker: &str, error: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Dead, None, Some(error), false).await
    }

    async fn release_job(&self, job: &JobId, worker: &str) -> StoreResult<bool> {
        self.settle(job, worker, JobState::Queued, Some(Timestamp::now()), None, true)
            .await
    }

    async fn reclaim_expired(&self) -> StoreResult<u64> {
        self.reclaim().await
    }

    async fn get_job(&self, job: &JobId) -> StoreResult<Option<JobRow>> {
        self.job_where("id", job.as_str()).await
    }

    async fn prune(&self, before: Timestamp, batch: u32) -> StoreResult<u64> {
        self.prune_older(before, batch).await
    }

    async fn queue_stats(&self) -> StoreResult<Vec<hookflow_engine::store::QueueStat>> {
        self.stats_of_queue().await
    }

    async fn job_for_target(&self, target: &str) -> StoreResult<Option<JobRow>> {
        self.job_where("target_id", target).await
    }

    async fn get_execution(
        &self,
        ws: &WorkspaceId,
        id: &ExecutionId,
    ) -> StoreResult<Option<hookflow_engine::store::Execution>> {
        self.execution_by_id(ws, id).await
    }

    async fn execution_and_event(
        &self,
        ws: &WorkspaceId,
        id: &ExecutionId,
    ) -> StoreResult<Option<(hookflow_engine::store::Execution, Option<Event>)>> {
        SqlStore::execution_and_event(self, ws, id).await
    }

    async fn mark_execution(&self, id: &ExecutionId, status: EventStatus) -> StoreResult<()> {
        match status {
            EventStatus::Running | EventStatus::Waiting => self.set_execution_status(id, status).await,
            other => Err(StoreError::Internal(format!("`{other}` is not an in-progress status"))),
        }
    }

    async fn journal(&self, id: &ExecutionId) -> StoreResult<Vec<hookflow_engine::store::StepRecord>> {
        self.steps_of(id).await
    }

    async fn record_steps(&self, records: &[hookflow_engine::store::StepRecord]) -> StoreResult<()> {
        self.put_steps(records).await
    }

    async fn storage_apply(
        &self,
        ws: &WorkspaceId,
        op: &hookflow_engine::store::StorageOp,
        journal: Option<&hookflow_engine::store::StepRecord>,
    ) -> StoreResult<Result<Value, String>> {
        self.apply_storage(ws, op, journal).await
    }

    async fn replay_event(&self, ws: &WorkspaceId, event: &EventId, version: i64) -> StoreResult<Option<ExecutionId>> {
        self.replay(ws, event, version).await
    }

    async fn finish_execution_with(
        &self,
        id: &ExecutionId,
        status: EventStatus,
        error: Option<&str>,
        steps: &[hookflow_engine::store::StepRecord],
        job: Option<(&JobId, &str)>,
    ) -> StoreResult<bool> {
        let op = Op::Finish {
            id: id.clone(),
            status,
            error: error.map(str::to_owned),
            steps: steps.to_vec(),
            job: job.map(|(j, w)| (j.clone(), w.to_owned())),
        };
        self.submit(op).await.map(Done::held)
    }

    async fn suspend_execution(
        &self,
        id: &ExecutionId,
        steps: &[hookflow_engine::store::StepRecord],
        job: (&JobId, &str),
        at: Timestamp,
    ) -> StoreResult<bool> {
        let op = Op::Suspend {
            id: id.clone(),
            steps: steps.to_vec(),
            job: job.0.clone(),
            worker: job.1.to_owned(),
            at,
        };
        self.submit(op).await.map(Done::held)
    }
}

impl SqlStore {
    /// What finishing an execution changes besides its row: the `execution.*` message, the event's
    /// status and the connector's counters. `row` is the finished execution's.
    async fn finished_in(
        &self,
        tx: &mut AnyConnection,
        id: &ExecutionId,
        status: EventStatus,
        column: &str,
        error: Option<&str>,
        row: &AnyRow,
    ) -> StoreResult<()> {
        let connector: String = col(row, "connector_id")?;
        let (ws, event_id, version): (String, String, i64) = (
            col(row, "workspace_id")?,
            col(row, "event_id")?,
            col(row, "config_version")?,
        );
        let subs = crate::subscriptions::enabled_subscriptions(tx, &ws).await?;
        let data = execution_message(
            id.as_str(),
            &event_id,
            &connector,
            status,
            error,
            version,
            Timestamp::now(),
        );
        crate::subscriptions::emit_in(
            tx,
            &ws,
            &subs,
            &format!("execution.{}", status.as_str()),
            Some(&connector),
            &data,
        )
        .await?;
        crate::steps::set_event_status(tx, id, status).await?;
        if let Some(error) = error {
            tracing::debug!(execution_id = %id, %error, "Execution failed.");
        }
        let sql = format!(
            "UPDATE connector_stats SET {column} = {column} + 1, r_{column} = r_{column} + 1 WHERE connector_id = $1"
        );
        sqlx::query(&sql)
            .bind(&connector)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

impl SqlStore {
    /// Ingest's write: the events, their executions and jobs, and what they announce.
    pub(crate) async fn insert_events_on(&self, tx: &mut AnyConnection, events: &[NewEvent]) -> StoreResult<()> {
        use crate::batch::{insert_rows, Val};
        if events.is_empty() {
            return Ok(());
        }
        // Every column of every row first, then one multi-row INSERT per table.
        let mut headers = Vec::with_capacity(events.len());
        let mut parsed = Vec::with_capacity(events.len());
        for e in events {
            headers.push(serde_json::to_string(&e.headers).map_err(|e| StoreError::Internal(e.to_string()))?);
            parsed.push(serde_json::to_string(&e.parsed).map_err(|e| StoreError::Internal(e.to_string()))?);
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
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                )
                .bind(e.connector_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
            if !subscriptions.contains_key(e.workspace_id.as_str()) {
                let found = crate::subscriptions::enabled_subscriptions(&mut *tx, e.workspace_id.as_str()).await?;
                subscriptions.insert(e.workspace_id.as_str(), found);
            }
            let subs = &subscriptions[e.workspace_id.as_str()];
            if !subs.is_empty() {
                let (event_type, data) = match e.status {
                    EventStatus::Rejected => (
                        "event.rejected",
                        json!({"event_id": e.id, "connector_id": e.connector_id,
                        "received_at": e.received_at.to_rfc3339(), "method": e.method, "content_type": e.content_type,
                        "size": e.body.len(), "error": e.error}),
                    ),
                    _ => (
                        "event.received",
                        json!({"event_id": e.id, "connector_id": e.connector_id,
                        "received_at": e.received_at.to_rfc3339(), "method": e.method, "content_type": e.content_type,
                        "size": e.body.len(), "execution_id": e.execution}),
                    ),
                };
                crate::subscriptions::emit_in(
                    &mut *tx,
                    e.workspace_id.as_str(),
                    subs,
                    event_type,
                    Some(e.connector_id.as_str()),
                    &data,
                )
                .await?;
                if let (true, Some(x)) = (e.nothing_to_run, &e.execution) {
                    let status = EventStatus::Succeeded;
                    let data = execution_message(
                        x.as_str(),
                        e.id.as_str(),
                        e.connector_id.as_str(),
                        status,
                        None,
                        e.config_version,
                        e.received_at,
                    );
                    let (ws, connector) = (e.workspace_id.as_str(), Some(e.connector_id.as_str()));
                    crate::subscriptions::emit_in(&mut *tx, ws, subs, "execution.succeeded", connector, &data).await?;
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

    pub(crate) async fn finish_on(
        &self,
        tx: &mut AnyConnection,
        id: &ExecutionId,
        status: EventStatus,
        error: Option<&str>,
        steps: &[hookflow_engine::store::StepRecord],
        job: Option<(&JobId, &str)>,
    ) -> StoreResult<bool> {
        let column = match status {
            EventStatus::Succeeded => "succeeded",
            EventStatus::Failed => "failed",
            EventStatus::Filtered => "filtered",
            other => return Err(StoreError::Internal(format!("`{other}` does not finish an execution"))),
        };
        let row = sqlx::query(
            "UPDATE executions SET status = $1, error = $2, finished_at = $3, started_at = COALESCE(started_at, $3) \
             WHERE id = $4 AND finished_at IS NULL RETURNING connector_id, workspace_id, event_id, config_version",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(Timestamp::now().as_millis())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        // Already finished (by an earlier holder of the job): its journal stays as that run left
        // it, and only the job is left to settle.
        if let Some(row) = row {
            crate::steps::write_steps(&mut *tx, steps).await?;
            self.finished_in(&mut *tx, id, status, column, error, &row).await?;
        }
        let held = match job {
            Some((job, worker)) => {
                crate::queue::settle_on(&mut *tx, job, worker, JobState::Done, None, None, false).await?
            }
            None => true,
        };
        Ok(held)
    }

    pub(crate) async fn suspend_on(
        &self,
        tx: &mut AnyConnection,
        id: &ExecutionId,
        steps: &[hookflow_engine::store::StepRecord],
        job: (&JobId, &str),
        at: Timestamp,
    ) -> StoreResult<bool> {
        crate::steps::write_steps(&mut *tx, steps).await?;
        crate::steps::set_status_in(&mut *tx, id, EventStatus::Waiting).await?;
        let held = crate::queue::settle_on(&mut *tx, job.0, job.1, JobState::Queued, Some(at), None, false).await?;
        Ok(held)
    }
}

/// The data of an `execution.*` message.
fn execution_message(
    execution: &str,
    event: &str,
    connector: &str,
    status: EventStatus,
    error: Option<&str>,
    version: i64,
    finished_at: Timestamp,
) -> Value {
    json!({"execution_id": execution, "event_id": event, "connector_id": connector, "status": status.as_str(),
        "error": error, "config_version": version, "finished_at": finished_at.to_rfc3339()})
}
