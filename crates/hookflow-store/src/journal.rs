//! The journal of an execution: one entry per step, written in the transaction of the change
//! that made it.

use hookflow_core::{ExecutionId, Timestamp};
use hookflow_engine::store::{StepRecord, StoreResult};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::db::{col, col_parsed, json, Val};

pub(crate) fn step(row: &AnyRow) -> StoreResult<StepRecord> {
    Ok(StepRecord {
        execution_id: ExecutionId::from_trusted(col(row, "execution_id")?),
        key: col(row, "step_key")?,
        seq: col(row, "seq")?,
        step_id: col(row, "step_id")?,
        step_type: col(row, "step_type")?,
        status: col_parsed(row, "status")?,
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
    crate::db::insert_rows_then(tx, "execution_steps", &STEP_COLUMNS, &rows, STEP_UPSERT).await
}
