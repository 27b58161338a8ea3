use hookflow_engine::store::{ConnectorPatch, PageRequest};
use hookflow_engine::store::{Connectors, Ingest};
use hookflow_test_support::TestDatabase;
use serde_json::json;

use crate::utils::{connector, on_every_database, workspace};

#[tokio::test]
async fn tokens_find_their_workspace() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "acme").await;
        let found = store.workspace_by_token(&format!("hash-of-{ws}")).await.unwrap();
        assert_eq!(found, Some(ws), "{db}");
        assert_eq!(store.workspace_by_token("hash-of-nobody").await.unwrap(), None, "{db}");
    })
    .await;
}

#[tokio::test]
async fn connectors_stay_in_their_workspace() {
    on_every_database(|store, db| async move {
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let c = connector(&*store, &a, "orders").await;
        assert_eq!(c.version, 1, "{db}");
        assert!(store.get_connector(&a, &c.id).await.unwrap().is_some(), "{db}");
        assert!(
            store.get_connector(&b, &c.id).await.unwrap().is_none(),
            "{db}: b sees a's connector"
        );
        let patch = ConnectorPatch {
            name: Some("stolen".into()),
            ..Default::default()
        };
        assert!(
            store.update_connector(&b, &c.id, &patch).await.unwrap().is_none(),
            "{db}"
        );
        assert!(
            store.rotate_connector_token(&b, &c.id, "x").await.unwrap().is_none(),
            "{db}"
        );
        assert!(
            store
                .save_document(&b, &c.id, &json!({}), None, "saved")
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );
        assert!(store.stats(&b, &c.id).await.unwrap().is_none(), "{db}");
        assert!(store.reset_stats(&b, &c.id).await.unwrap().is_none(), "{db}");
        assert!(store.list_versions(&b, &c.id).await.unwrap().is_empty(), "{db}");
        assert!(!store.delete_connector(&b, &c.id).await.unwrap(), "{db}");
        let page = store
            .list_connectors(
                &b,
                &PageRequest {
                    limit: 50,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert!(page.items.is_empty(), "{db}");
        assert_eq!(
            store.get_connector(&a, &c.id).await.unwrap().unwrap().name,
            "orders",
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn update_and_delete() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let patch = ConnectorPatch {
            name: Some("paid orders".into()),
            enabled: Some(false),
            ..Default::default()
        };
        let updated = store.update_connector(&ws, &c.id, &patch).await.unwrap().unwrap();
        assert_eq!(
            (updated.name.as_str(), updated.enabled, updated.description.as_str()),
            ("paid orders", false, "")
        );
        assert!(store.delete_connector(&ws, &c.id).await.unwrap(), "{db}");
        assert!(store.get_connector(&ws, &c.id).await.unwrap().is_none(), "{db}");
        assert!(store.ingest_target(&c.token).await.unwrap().is_none(), "{db}");
    })
    .await;
}

#[tokio::test]
async fn list_pages_newest_first() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let mut made = Vec::new();
        for i in 0..5 {
            made.push(connector(&*store, &ws, &format!("c{i}")).await.id);
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        made.reverse();
        let first = store
            .list_connectors(&ws, &PageRequest { limit: 2, cursor: None })
            .await
            .unwrap();
        let second = store
            .list_connectors(
                &ws,
                &PageRequest {
                    limit: 2,
                    cursor: first.next_cursor.clone(),
                },
            )
            .await
            .unwrap();
        let third = store
            .list_connectors(
                &ws,
                &PageRequest {
                    limit: 2,
                    cursor: second.next_cursor.clone(),
                },
            )
            .await
            .unwrap();
        let seen: Vec<_> = [&first, &second, &third]
            .iter()
            .flat_map(|p| p.items.iter().map(|c| c.id.clone()))
            .collect();
        assert_eq!(seen, made, "{db}");
        assert!(third.next_cursor.is_none(), "{db}");
    })
    .await;
}

#[tokio::test]
async fn versions_keep_the_newest_twenty() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        for i in 0..25 {
            let doc = json!({"response": null, "steps": [], "n": i});
            store
                .save_document(&ws, &c.id, &doc, None, "saved")
                .await
                .unwrap()
                .unwrap();
        }
        let versions = store.list_versions(&ws, &c.id).await.unwrap();
        let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
        assert_eq!(numbers, (7..=26).rev().collect::<Vec<_>>(), "{db}");
        assert_eq!(versions[0].document["n"], 24, "{db}");
        assert!(store.get_version(&ws, &c.id, 6).await.unwrap().is_none(), "{db}");
        assert_eq!(
            store.get_version(&ws, &c.id, 7).await.unwrap().unwrap().document["n"],
            5,
            "{db}"
        );
        assert_eq!(
            store.get_connector(&ws, &c.id).await.unwrap().unwrap().version,
            26,
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn structure_is_kept_apart_from_versions() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let s = json!({"order": {"id": 1}});
        let saved = store
            .save_document(&ws, &c.id, &json!({"steps": []}), Some(&s), "saved")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(saved.structure, Some(s.clone()), "{db}");
        // A save without a structure keeps the current one.
        let saved = store
            .save_document(&ws, &c.id, &json!({"steps": []}), None, "saved")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(saved.structure, Some(s), "{db}");
        assert!(store
            .set_structure(&ws, &c.id, &json!({"x": true}), &json!({"q": "1"}))
            .await
            .unwrap());
        let now = store.get_connector(&ws, &c.id).await.unwrap().unwrap();
        assert_eq!(
            (now.structure, now.sample_custom_variables, now.version),
            (Some(json!({"x": true})), Some(json!({"q": "1"})), 3)
        );
    })
    .await;
}

#[tokio::test]
async fn rotating_the_token_retires_the_old_one() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        assert!(store.ingest_target(&c.token).await.unwrap().is_some(), "{db}");
        let rotated = store
            .rotate_connector_token(&ws, &c.id, "new-token")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rotated.token, "new-token");
        assert!(store.ingest_target(&c.token).await.unwrap().is_none(), "{db}");
        let target = store.ingest_target("new-token").await.unwrap().unwrap();
        assert_eq!((&target.connector_id, target.has_structure), (&c.id, false), "{db}");
    })
    .await;
}

/// Ingest keeps what it read of a connector for a second: the node that changes a connector
/// answers from the change at once, another node within that second.
#[tokio::test]
async fn ingest_sees_a_connector_change_at_once_here_and_within_a_second_elsewhere() {
    for db in TestDatabase::all().await {
        let (here, elsewhere) = (db.store().await, db.store().await);
        let ws = workspace(&*here, "a").await;
        let c = connector(&*here, &ws, "orders").await;
        assert!(elsewhere.ingest_target(&c.token).await.unwrap().unwrap().enabled);
        let off = ConnectorPatch {
            enabled: Some(false),
            ..Default::default()
        };
        here.update_connector(&ws, &c.id, &off).await.unwrap().unwrap();
        let label = db.label;
        assert!(!here.ingest_target(&c.token).await.unwrap().unwrap().enabled, "{label}");
        let changed = std::time::Instant::now();
        while elsewhere.ingest_target(&c.token).await.unwrap().unwrap().enabled {
            assert!(
                changed.elapsed() < std::time::Duration::from_millis(1_500),
                "{label}: another node still takes events for a disabled connector"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        here.close().await;
        elsewhere.close().await;
    }
}
