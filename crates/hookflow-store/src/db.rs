//! The leaf helpers every table family uses, importing none of them: database errors, column
//! and JSON decoding, paging, and multi-row INSERTs.
//!
//! Multi-row INSERTs put many rows in one statement, so a batch of events costs a few statements
//! rather than a few per event. Rows go in chunks whose sizes are powers of two, so each table has
//! at most [`CHUNKS`]`.len()` statement shapes and the prepared-statement cache keeps them all.

use hookflow_engine::store::{Page, StoreError, StoreResult};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// Chunk sizes, largest first; a batch of `n` rows takes one chunk per set bit of `n` (for `n` < 128).
const CHUNKS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// One bound value.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bytes(&'a [u8]),
}

/// `INSERT INTO {table} ({columns}) VALUES (…), (…)` for every row; each row has one value per column.
pub(crate) async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Val<'_>>],
) -> StoreResult<()> {
    insert_rows_then(conn, table, columns, rows, "").await
}

/// [`insert_rows`] with `then` after the values, e.g. an `ON CONFLICT` clause. With one, no two
/// rows may share the conflicting key (PostgreSQL refuses to change one row twice in a statement).
pub(crate) async fn insert_rows_then(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Val<'_>>],
    then: &str,
) -> StoreResult<()> {
    // SQLite looks a `$n` parameter's name up in a list as long as the statement's parameters, for
    // every parameter bound: quadratic in a multi-row INSERT. Its anonymous `?` has no name.
    let numbered = conn.backend_name() != "SQLite";
    let mut rest = rows;
    while !rest.is_empty() {
        let size = CHUNKS.into_iter().find(|&c| c <= rest.len()).unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut sql = insert_sql(table, columns, size, numbered);
        sql.push_str(then);
        let mut query = sqlx::query(&sql);
        for row in chunk {
            debug_assert_eq!(row.len(), columns.len(), "a row of {table} has the wrong width");
            for val in row {
                query = match val {
                    Val::Text(s) => query.bind(*s),
                    Val::OptText(s) => query.bind(*s),
                    Val::Int(i) => query.bind(*i),
                    Val::OptInt(i) => query.bind(*i),
                    Val::Bytes(b) => query.bind(*b),
                };
            }
        }
        query.execute(&mut *conn).await.map_err(db_error)?;
    }
    Ok(())
}

/// The statement for `rows` rows, with `$1, $2, …` (PostgreSQL) or `?` (SQLite) parameters.
fn insert_sql(table: &str, columns: &[&str], rows: usize, numbered: bool) -> String {
    use std::fmt::Write;
    let width = columns.len();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            let sep = if c == 0 { "" } else { ", " };
            if numbered {
                let _ = write!(sql, "{sep}${}", r * width + c + 1);
            } else {
                let _ = write!(sql, "{sep}?");
            }
        }
        sql.push(')');
    }
    sql
}

/// Decodes a JSON column; `what` names it in the error. A value that does not decode is
/// [`StoreError::Corrupt`](StoreError::Corrupt): reading it again will not help.
pub(crate) fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, hookflow_engine::StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("the stored {what} cannot be read: {e}")))
}

/// Reads a column, naming it in the error.
pub(crate) fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, hookflow_engine::StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(name)
        .map_err(|e| StoreError::internal(format!("column {name}: {e}")))
}

/// Reads a text column that names a value of an enum (a status, a kind), naming the column in
/// the error.
pub(crate) fn col_parsed<T>(row: &AnyRow, name: &str) -> StoreResult<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    col::<String>(row, name)?
        .parse()
        .map_err(|e: T::Err| StoreError::internal(format!("column {name}: {e}")))
}

/// `$start, $start+1, …` for an `IN (…)` list of `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps a database error to what the caller should do, keeping it as the cause. A broken
/// uniqueness rule names the rule, never the database's own message, which may quote values.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            let constraint = unique_constraint(d.as_ref());
            StoreError::conflict(&constraint, format!("this value is already taken ({constraint})"))
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::unavailable("the database cannot be reached").caused_by(e),
        sqlx::Error::Database(d) if is_transient(d.code().as_deref()) => {
            StoreError::unavailable("the database is busy").caused_by(e)
        }
        _ => StoreError::internal("a database call failed").caused_by(e),
    }
}

/// The name of the uniqueness rule a database error broke: PostgreSQL names its constraint;
/// SQLite names the columns (`UNIQUE constraint failed: contacts.workspace_id, contacts.mobile`),
/// which become `contacts(workspace_id, mobile)`.
fn unique_constraint(d: &dyn sqlx::error::DatabaseError) -> String {
    if let Some(name) = d.constraint() {
        return name.to_owned();
    }
    let Some(columns) = d.message().strip_prefix("UNIQUE constraint failed: ") else {
        return "unique".to_owned();
    };
    let mut table = "";
    let names: Vec<&str> = columns
        .split(", ")
        .map(|c| match c.split_once('.') {
            Some((t, column)) => {
                table = t;
                column
            }
            None => c,
        })
        .collect();
    format!("{table}({})", names.join(", "))
}

/// SQLite busy/locked, PostgreSQL serialization failure, deadlock, shutdown and connection classes.
fn is_transient(code: Option<&str>) -> bool {
    matches!(code, Some("5" | "6" | "40001" | "40P01" | "57P01" | "57P02" | "57P03"))
        || code.is_some_and(|c| c.starts_with("08"))
}

pub(crate) fn to_json(v: &Value) -> String {
    v.to_string()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_row() {
        assert_eq!(
            insert_sql("t", &["a", "b"], 2, true),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(insert_sql("t", &["a"], 1, true), "INSERT INTO t (a) VALUES ($1)");
        assert_eq!(
            insert_sql("t", &["a", "b"], 2, false),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
