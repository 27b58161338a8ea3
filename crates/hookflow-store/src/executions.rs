//! Executions, their journals, workspace storage and replays.

use std::sync::LazyLock;

use async_trait::async_trait;
use hookflow_core::{ConnectorId, EventId, EventStatus, ExecutionId, JobId, JobKind, JobState, Timestamp, WorkspaceId};
use hookflow_engine::store::{Event, Execution, Runs, StorageOp, StoreResult};
use hookflow_engine::{messages, StoreError};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::db::{col, col_parsed, db_error, json, placeholders};
use crate::journal::{step, write_step};
use crate::op::{Done, Op};
use crate::{Dialect, SqlStore};

const EXECUTION_COLUMNS: &str =
    "id, workspace_id, event_id, connector_id, config_version, status, error, created_at, started_at, finished_at";

fn execution(row: &AnyRow) -> StoreResult<Execution> {
    Ok(Execution {
        id: ExecutionId::from_trusted(col(row, "id")?),
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        event_id: EventId::from_trusted(col(row, "event_id")?),
        connector_id: ConnectorId::from_trusted(col(row, "connector_id")?),
        config_version: col(row, "config_version")?,
        status: col_parsed(row, "status")?,
        error: col(row, "error")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        started_at: col::<Option<i64>>(row, "started_at")?.map(Timestamp::from_millis),
        finished_at: col::<Option<i64>>(row, "finished_at")?.map(Timestamp::from_millis),
    })
}

/// Moves an unfinished execution, and its event if the execution is the event's latest, to `status`.
pub(crate) async fn set_status_in(tx: &mut AnyConnection, id: &ExecutionId, status: EventStatus) -> StoreResult<()> {
    sqlx::query(
        "UPDATE executions SET status = $1, started_at = COALESCE(started_at, $2) WHERE id = $3 AND finished_at IS NULL",
    )
    .bind(status.as_str())
    .bind(Timestamp::now().as_millis())
    .bind(id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    set_event_status(tx, id, status).await
}

/// Gives the event whose latest execution is `id` that execution's status.
pub(crate) async fn set_event_status(tx: &mut AnyConnection, id: &ExecutionId, status: EventStatus) -> StoreResult<()> {
    sqlx::query("UPDATE events SET status = $1 WHERE execution_id = $2")
        .bind(status.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// `a + b`, an integer when both are integral and it fits.
fn add(current: &Value, by: f64) -> Result<Value, String> {
    let base = match current {
        Value::Null => 0.0,
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("the value `{s}` is not a number"))?,
        other => return Err(format!("the value {other} is not a number")),
    };
    let sum = base + by;
    if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
        Ok(json!(sum as i64))
    } else {
        Ok(json!(sum))
    }
}

impl SqlStore {
    /// An execution and its event in one query (a run needs both).
    pub(crate) async fn execution_and_event(
        &self,
        ws: &WorkspaceId,
        id: &ExecutionId,
    ) -> StoreResult<Option<(Execution, Option<hookflow_engine::store::Event>)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            let execution_columns: Vec<String> = EXECUTION_COLUMNS.split(", ").map(|c| format!("x.{c}")).collect();
            let event_columns: Vec<String> = crate::rows::EVENT_COLUMNS
                .split(", ")
                .map(|c| format!("e.{c} AS e_{c}"))
                .collect();
            format!(
                "SELECT {}, {} FROM executions x LEFT JOIN events e ON e.id = x.event_id \
                 AND e.workspace_id = x.workspace_id WHERE x.workspace_id = $1 AND x.id = $2",
                execution_columns.join(", "),
                event_columns.join(", ")
            )
        });
        let Some(row) = sqlx::query(SQL.as_str())
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let event = match col::<Option<String>>(&row, "e_id")? {
            Some(_) => Some(crate::rows::event_prefixed(&row, "e_")?),
            None => None,
        };
        Ok(Some((execution(&row)?, event)))
    }

    pub(crate) async fn set_execution_status(&self, id: &ExecutionId, status: EventStatus) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        set_status_in(&mut tx, id, status).await?;
        tx.commit().await.map_err(db_error)
    }
}

#[async_trait]
impl Runs for SqlStore {
    async fn prune(&self, before: Timestamp, batch: u32) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let events: Vec<String> = sqlx::query(
            "SELECT id FROM events WHERE received_at < $1 AND status IN ('succeeded', 'failed', 'filtered', 'rejected') \
             ORDER BY received_at LIMIT $2",
        )
        .bind(before.as_millis())
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| col(r, "id"))
        .collect::<StoreResult<_>>()?;
        let deliveries: Vec<String> = sqlx::query(
            "SELECT id FROM deliveries WHERE created_at < $1 AND status IN ('delivered', 'failed') ORDER BY created_at LIMIT $2",
        )
        .bind(before.as_millis())
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| col(r, "id"))
        .collect::<StoreResult<_>>()?;
        if !events.is_empty() {
            let list = placeholders(1, events.len());
            for sql in [
                format!("DELETE FROM execution_steps WHERE execution_id IN (SELECT id FROM executions WHERE event_id IN ({list}))"),
                format!(
                    "DELETE FROM jobs WHERE state IN ('done', 'dead') AND target_id IN (SELECT id FROM executions WHERE event_id IN ({list}))"
                ),
                format!("DELETE FROM executions WHERE event_id IN ({list})"),
                format!("DELETE FROM events WHERE id IN ({list})"),
            ] {
                let mut q = sqlx::query(&sql);
                for id in &events {
                    q = q.bind(id.as_str());
                }
                q.execute(&mut *tx).await.map_err(db_error)?;
            }
        }
        if !deliveries.is_empty() {
            let list = placeholders(1, deliveries.len());
            for sql in [
                format!("DELETE FROM delivery_attempts WHERE delivery_id IN ({list})"),
                format!("DELETE FROM jobs WHERE state IN ('done', 'dead') AND target_id IN ({list})"),
                format!("DELETE FROM deliveries WHERE id IN ({list})"),
            ] {
                let mut q = sqlx::query(&sql);
                for id in &deliveries {
                    q = q.bind(id.as_str());
                }
                q.execute(&mut *tx).await.map_err(db_error)?;
            }
            sqlx::query(
                "DELETE FROM messages WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id)",
            )
            .bind(before.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok((events.len() + deliveries.len()) as u64)
    }

    async fn get_execution(
        &self,
        ws: &WorkspaceId,
        id: &ExecutionId,
    ) -> StoreResult<Option<hookflow_engine::store::Execution>> {
        let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE workspace_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(execution).transpose()
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
            other => Err(StoreError::internal(format!("`{other}` is not an in-progress status"))),
        }
    }

    async fn journal(&self, id: &ExecutionId) -> StoreResult<Vec<hookflow_engine::store::StepRecord>> {
        let rows = sqlx::query(
            "SELECT execution_id, step_key, seq, step_id, step_type, status, input, output, error, missing, \
             started_at, duration_ms, attempts, attempt_log FROM execution_steps WHERE execution_id = $1 ORDER BY seq, step_key",
        )
        .bind(id.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(step).collect()
    }

    async fn record_steps(&self, records: &[hookflow_engine::store::StepRecord]) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.submit(crate::op::Op::RecordSteps(records.to_vec()))
            .await
            .map(|_| ())
    }

    async fn storage_apply(
        &self,
        ws: &WorkspaceId,
        op: &hookflow_engine::store::StorageOp,
        journal: Option<&hookflow_engine::store::StepRecord>,
    ) -> StoreResult<Result<Value, String>> {
        let now = Timestamp::now().as_millis();
        let mut tx = self.begin().await?;
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let read = |key: &str| {
            let sql = format!("SELECT value FROM storage WHERE workspace_id = $1 AND key = $2{lock}");
            (sql, key.to_owned())
        };
        let result: Result<Value, String> = match op {
            StorageOp::Get { key } => {
                let (sql, key) = read(key);
                let row = sqlx::query(&sql)
                    .bind(ws.as_str())
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                Ok(match row {
                    Some(r) => json(&col::<String>(&r, "value")?, "stored value")?,
                    None => Value::Null,
                })
            }
            StorageOp::Set { key, value } => {
                sqlx::query(
                    "INSERT INTO storage (workspace_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(ws.as_str())
                .bind(key)
                .bind(value.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                Ok(value.clone())
            }
            StorageOp::Increment { key, by } => {
                // Make the row exist, then lock it: concurrent increments queue on the row.
                sqlx::query(
                    "INSERT INTO storage (workspace_id, key, value, updated_at) VALUES ($1, $2, '0', $3) \
                     ON CONFLICT (workspace_id, key) DO NOTHING",
                )
                .bind(ws.as_str())
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                let (sql, key_owned) = read(key);
                let row = sqlx::query(&sql)
                    .bind(ws.as_str())
                    .bind(key_owned)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let current = json(&col::<String>(&row, "value")?, "stored value")?;
                match add(&current, *by) {
                    Ok(next) => {
                        sqlx::query(
                            "UPDATE storage SET value = $1, updated_at = $2 WHERE workspace_id = $3 AND key = $4",
                        )
                        .bind(next.to_string())
                        .bind(now)
                        .bind(ws.as_str())
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                        Ok(next)
                    }
                    Err(message) => Err(format!("cannot increment `{key}`: {message}")),
                }
            }
            StorageOp::Delete { key } => {
                sqlx::query("DELETE FROM storage WHERE workspace_id = $1 AND key = $2")
                    .bind(ws.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                Ok(Value::Null)
            }
        };
        let Ok(value) = result else {
            tx.rollback().await.map_err(db_error)?;
            return Ok(result);
        };
        if let Some(record) = journal {
            let mut record = record.clone();
            record.output = json!({ "value": value });
            write_step(&mut tx, &record).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(Ok(value))
    }

    async fn replay_event(&self, ws: &WorkspaceId, event: &EventId, version: i64) -> StoreResult<Option<ExecutionId>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT connector_id, status FROM events WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(event.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        if col_parsed::<EventStatus>(&row, "status")? == EventStatus::Rejected {
            return Err(StoreError::conflict(
                "events(status)",
                "a rejected event has no body to run",
            ));
        }
        let connector: String = col(&row, "connector_id")?;
        let id = ExecutionId::new();
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO executions (id, workspace_id, event_id, connector_id, config_version, status, error, \
             created_at, finished_at) VALUES ($1, $2, $3, $4, $5, 'received', NULL, $6, NULL)",
        )
        .bind(id.as_str())
        .bind(ws.as_str())
        .bind(event.as_str())
        .bind(&connector)
        .bind(version)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("UPDATE events SET execution_id = $1, status = 'received' WHERE id = $2")
            .bind(id.as_str())
            .bind(event.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        crate::queue::insert_job(&mut tx, JobKind::Execution, ws, id.as_str(), now).await?;
        crate::queue::announce_work(&mut tx, self.dialect).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(id))
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
        let subs = crate::outbox::enabled_subscriptions(tx, &ws).await?;
        let ended = messages::execution_ended(messages::Ended {
            execution: id.as_str(),
            event: &event_id,
            connector: &connector,
            status,
            error,
            config_version: version,
            finished_at: Timestamp::now(),
        });
        if let Some(message) = ended {
            crate::outbox::emit_in(tx, &ws, &subs, &message).await?;
        }
        set_event_status(tx, id, status).await?;
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
            other => return Err(StoreError::internal(format!("`{other}` does not finish an execution"))),
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
            crate::journal::write_steps(&mut *tx, steps).await?;
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
        crate::journal::write_steps(&mut *tx, steps).await?;
        set_status_in(&mut *tx, id, EventStatus::Waiting).await?;
        let held = crate::queue::settle_on(&mut *tx, job.0, job.1, JobState::Queued, Some(at), None, false).await?;
        Ok(held)
    }
}
