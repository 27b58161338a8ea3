//! Migrations when several processes open one fresh database at once.

use hookflow_store::{SqlStore, StoreOptions};
use hookflow_test_support::TestDatabase;

/// Opens the database twice at once, as `hookflow serve` and `hookflow workspace create` started
/// together on a fresh database do; both must find it migrated.
async fn open_twice_at_once(db: &TestDatabase) {
    let options = StoreOptions::new(db.backend.clone());
    let (a, b) = tokio::join!(SqlStore::connect(&options), SqlStore::connect(&options));
    let (a, b) = (
        a.unwrap_or_else(|e| panic!("{}: the first store: {e}", db.label)),
        b.unwrap_or_else(|e| panic!("{}: the second store: {e}", db.label)),
    );
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn two_stores_opening_a_fresh_database_at_once_both_succeed() {
    for _ in 0..30 {
        open_twice_at_once(&TestDatabase::sqlite()).await;
    }
    for _ in 0..5 {
        let Some(db) = TestDatabase::postgres().await else {
            break;
        };
        open_twice_at_once(&db).await;
    }
}
