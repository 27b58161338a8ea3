//! [`SqlStore`]: workspaces, connectors, versions, events and stats.

use std::time::Duration;

use sqlx::AnyPool;

use crate::{Dialect, SqlStore};

impl SqlStore {
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
