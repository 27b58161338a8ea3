//! Executions, their journals, workspace storage and replays.

use std::sync::LazyLock;

use hookflow_core::{ConnectorId, EventId, EventStatus, ExecutionId, JobKind, Timestamp, WorkspaceId};
use hookflow_engine::store::{Execution, StepRecord, StorageOp, StoreResult};
use hookflow_engine::StoreError;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::batch::Val;

use crate::sql::{db_error, SqlStore};
use crate::{col, json, Dialect};

const EXECUTION_COLUMNS: &str =
    "id, workspace_id, event_id, connector_id, config_version, status, error, created_at, started_at, finished_at";

fn parse_status(text: &str) -> StoreResult<EventStatus> {
    text.parse()
        .map_err(|e: hookflow_core::UnknownValue| StoreError::internal(e.to_string()))
}

fn execution(row: &AnyRow) -> StoreResult<Execution> {
    Ok(Execution {
        id: ExecutionId::from_trusted(col(row, "id")?),
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        event_id: EventId::from_trusted(col(row, "event_id")?),
        connector_id: ConnectorId::from_trusted(col(row, "connector_id")?),
        config_version: col(row, "config_version")?,
        status: parse_status(&col::<String>(row, "status")?)?,
        error: col(row, "error")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        started_at: col::<Option<i64>>(row, "started_at")?.map(Timestamp::from_millis),
        finished_at: col::<Option<i64>>(row, "finished_at")?.map(Timestamp::from_millis),
    })
}

fn step(row: &AnyRow) -> StoreResult<StepRecord> {
    Ok(StepRecord {
        execution_id: ExecutionId::from_trusted(col(row, "execution_id")?),
        key: col(row, "step_key")?,
        seq: col(row, "seq")?,
        step_id: col(row, "step_id")?,
        step_type: col(row, "step_type")?,
        status: col::<String>(row, "status")?
            .parse()
            .map_err(|e: hookflow_core::UnknownValue| StoreError::internal(e.to_string()))?,
        input: json(&col::<String>(row, "input")?, "step input")?,
        output: json(&col::<String>(row, "output")?, "step output")?,
        error: col(row, "error")?,
        missing: json(&col::<String>(row, "missing")?, "missing attributes")?,
        started_at: Timestamp::from_millis(col(row, "started_at")?),
        duration_ms: col(row, "duration_ms")?,
        attempts: col(row, "attempts")?,
        attempt_log: json(&col::<String>(row, "attempt_log")?, "attempt log")?,
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

/// The columns of a journal entry, in the order [`step_row`] gives them.
const STEP_COLUMNS: [&str; 14] = [
    "execution_id",
    "step_key",
    "seq",
    "step_id",
    "step_type",
    "status",
    "input",
    "output",
    "error",
    "missing",
    "started_at",
    "duration_ms",
    "attempts",
    "attempt_log",
];

/// A later write of a key replaces the entry but keeps when the step first started.
const STEP_UPSERT: &str = " ON CONFLICT (execution_id, step_key) DO UPDATE SET status = excluded.status, \
     input = excluded.input, output = excluded.output, error = excluded.error, missing = excluded.missing, \
     duration_ms = excluded.duration_ms, attempts = excluded.attempts, attempt_log = excluded.attempt_log";

pub(crate) async fn write_step(tx: &mut AnyConnection, r: &StepRecord) -> StoreResult<()> {
    write_steps(tx, std::slice::from_ref(r)).await
}

/// Writes (or replaces) journal entries with one statement per chunk; of two entries with one
/// key, the later wins.
pub(crate) async fn write_steps(tx: &mut AnyConnection, records: &[StepRecord]) -> StoreResult<()> {
    let mut latest: Vec<&StepRecord> = Vec::with_capacity(records.len());
    for r in records {
        match latest
            .iter_mut()
            .find(|l| l.execution_id == r.execution_id && l.key == r.key)
        {
            Some(slot) => *slot = r,
            None => latest.push(r),
        }
    }
    let texts: Vec<[String; 4]> = latest
        .iter()
        .map(|r| {
            [
                r.input.to_string(),
                r.output.to_string(),
                serde_json::to_string(&r.missing).unwrap_or_else(|_| "[]".into()),
                Value::Array(r.attempt_log.clone()).to_string(),
            ]
        })
        .collect();
    let rows: Vec<Vec<Val>> = latest
        .iter()
        .zip(&texts)
        .map(|(r, [input, output, missing, attempt_log])| {
            vec![
                Val::Text(r.execution_id.as_str()),
                Val::Text(&r.key),
                Val::Int(r.seq),
                Val::Text(&r.step_id),
                Val::Text(&r.step_type),
                Val::Text(r.status.as_str()),
                Val::Text(input),
                Val::Text(output),
                Val::OptText(r.error.as_deref()),
                Val::Text(missing),
                Val::Int(r.started_at.as_millis()),
                Val::Int(r.duration_ms),
                Val::Int(r.attempts),
                Val::Text(attempt_log),
            ]
        })
        .collect();
    crate::batch::insert_rows_then(tx, "execution_steps", &STEP_COLUMNS, &rows, STEP_UPSERT).await
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
    pub(crate) async fn execution_by_id(&self, ws: &WorkspaceId, id: &ExecutionId) -> StoreResult<Option<Execution>> {
        let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE workspace_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(execution).transpose()
    }

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

    pub(crate) async fn steps_of(&self, id: &ExecutionId) -> StoreResult<Vec<StepRecord>> {
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

    pub(crate) async fn put_steps(&self, records: &[StepRecord]) -> StoreResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.submit(crate::writer::Op::RecordSteps(records.to_vec()))
            .await
            .map(|_| ())
    }

    pub(crate) async fn apply_storage(
        &self,
        ws: &WorkspaceId,
        op: &StorageOp,
        journal: Option<&StepRecord>,
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

    pub(crate) async fn replay(
        &self,
        ws: &WorkspaceId,
        event: &EventId,
        version: i64,
    ) -> StoreResult<Option<ExecutionId>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT connector_id, status FROM events WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(event.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        if parse_status(&col::<String>(&row, "status")?)? == EventStatus::Rejected {
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
}
