//! Secrets at rest: the secret store, sealed columns, and key rotation.

use hookflow_engine::store::{Contacts, Workspaces};
use std::sync::Arc;

use hookflow_core::{ChannelId, Timestamp};
use hookflow_engine::store::Channel;
use hookflow_store::{SecretKeys, SqlStore, StoreOptions};
use hookflow_test_support::TestDatabase;
use serde_json::json;

use crate::utils::workspace;

fn key(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

async fn open(db: &TestDatabase, current: u8, previous: &[u8]) -> Result<Arc<SqlStore>, String> {
    let mut options = StoreOptions::new(db.backend.clone());
    options.keys = SecretKeys {
        current: Some(key(current)),
        previous: previous.iter().map(|b| key(*b)).collect(),
        file: None,
    };
    SqlStore::connect(&options)
        .await
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_secret_store_keeps_values_write_only_and_per_workspace() {
    for db in TestDatabase::all().await {
        let store = open(&db, 1, &[]).await.unwrap();
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let made = store.put_secret(&a, "crm", "tok-1", true).await.unwrap().unwrap();
        assert_eq!(made.name, "crm", "{}", db.label);
        let again = store.put_secret(&a, "crm", "tok-2", true).await;
        assert!(again.is_err(), "{}: a second create is a conflict", db.label);
        assert!(store.put_secret(&a, "crm", "tok-2", false).await.unwrap().is_some());
        assert!(
            store.put_secret(&b, "crm", "x", false).await.unwrap().is_none(),
            "{}: not b's",
            db.label
        );
        let names: Vec<String> = store
            .list_secrets(&a)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["crm"], "{}", db.label);
        assert!(store.list_secrets(&b).await.unwrap().is_empty(), "{}", db.label);
        assert_eq!(
            store.secret_values(&a).await.unwrap().get("crm").map(String::as_str),
            Some("tok-2")
        );
        assert!(
            !store.delete_secret(&b, "crm").await.unwrap(),
            "{}: b cannot delete a's",
            db.label
        );
        assert!(store.delete_secret(&a, "crm").await.unwrap());
        assert!(store.secret_values(&a).await.unwrap().is_empty());
        store.close().await;
    }
}

#[tokio::test]
async fn a_rotated_key_reseals_at_start_and_a_missing_key_is_a_clear_error() {
    for db in TestDatabase::all().await {
        let store = open(&db, 1, &[]).await.unwrap();
        let ws = workspace(&*store, "w").await;
        store.put_secret(&ws, "crm", "tok-1", true).await.unwrap();
        let now = Timestamp::now();
        let channel = Channel {
            id: ChannelId::new(),
            workspace_id: ws.clone(),
            name: "SMS".into(),
            kind: "sms_http".into(),
            settings: json!({"account_sid": "AC1", "from": "+15005550006"}),
            credentials: json!({"auth_token": "tw-secret"}),
            created_at: now,
            updated_at: now,
        };
        store.create_channel(&channel).await.unwrap();
        store.close().await;

        // Key 2 seals now; key 1 still opens, and every value is resealed with key 2 at start.
        let store = open(&db, 2, &[1]).await.unwrap();
        assert_eq!(store.secret_values(&ws).await.unwrap()["crm"], "tok-1", "{}", db.label);
        store.close().await;
        // So key 1 can go.
        let store = open(&db, 2, &[]).await.unwrap();
        assert_eq!(store.secret_values(&ws).await.unwrap()["crm"], "tok-1", "{}", db.label);
        let read = store.get_channel(&ws, &channel.id).await.unwrap().unwrap();
        assert_eq!(read.credentials, json!({"auth_token": "tw-secret"}), "{}", db.label);
        store.close().await;

        let Err(wrong) = open(&db, 3, &[]).await else {
            panic!("{}: a store whose values no key opens started", db.label)
        };
        assert!(wrong.contains("HOOKFLOW_SECRET_KEY"), "{}: {wrong}", db.label);
    }
}
