//! Pruning old data in the background, in small batches that never hold a
//! write lock for long, so ingest is never blocked behind a big delete.

use std::sync::Arc;
use std::time::Duration;

use hookflow_core::Timestamp;

use crate::store::Runs;

/// Rows of each kind deleted per transaction.
pub const BATCH: u32 = 500;

/// Every `every`, deletes what is older than `keep`, until `shutdown` resolves.
pub async fn run(
    store: Arc<dyn Runs>,
    keep: Duration,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(every) => {}
        }
        let before = Timestamp::now().minus(keep);
        let mut total = 0;
        loop {
            match store.prune(before, BATCH).await {
                Ok(n) => {
                    total += n;
                    if n < u64::from(BATCH) {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "Pruning old data failed; it will be tried again.");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(rows = total, before = %before, "Pruned old events and deliveries.");
        }
    }
}
