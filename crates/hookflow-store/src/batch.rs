//! Multi-row INSERTs: many rows in one statement, so a batch of events costs
//! a few statements rather than a few per event.
//!
//! Rows go in chunks whose sizes are powers of two, so each table has at most
//! [`CHUNKS`]`.len()` statement shapes and the prepared-statement cache keeps them all.

use hookflow_engine::store::StoreResult;
use sqlx::AnyConnection;

use crate::sql::db_error;

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
