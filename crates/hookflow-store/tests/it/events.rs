use hookflow_core::{EventStatus, JobState};
use hookflow_engine::store::{Counts, PageRequest};
use hookflow_engine::StoreError;
use serde_json::json;

use crate::utils::{connector, event, on_every_database, workspace};

#[tokio::test]
async fn a_batch_writes_events_executions_jobs_and_stats_together() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let first = event(&c, json!({"order": {"id": 1}}));
        let second = event(&c, json!({"other": true}));
        let mut rejected = event(&c, json!(null));
        rejected.status = EventStatus::Rejected;
        rejected.execution = None;
        rejected.capture_structure = false;
        rejected.error = Some("invalid JSON at line 1, column 2".into());
        rejected.body = b"{x".to_vec();
        store
            .insert_events(&[first.clone(), second.clone(), rejected.clone()])
            .await
            .unwrap();

        let stored = store.get_event(&ws, &first.id).await.unwrap().unwrap();
        assert_eq!(stored.body, first.body, "{db}");
        assert_eq!(stored.headers, first.headers, "{db}");
        assert_eq!(stored.parsed, first.parsed, "{db}");
        assert_eq!(stored.execution_id, first.execution, "{db}");
        let job = store
            .job_for_target(first.execution.as_ref().unwrap().as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.state, JobState::Queued, "{db}");
        let bad = store.get_event(&ws, &rejected.id).await.unwrap().unwrap();
        assert_eq!(
            (bad.status, bad.body.as_slice(), bad.execution_id),
            (EventStatus::Rejected, &b"{x"[..], None)
        );

        // The first event's body became the structure; the second did not replace it.
        let now = store.get_connector(&ws, &c.id).await.unwrap().unwrap();
        assert_eq!(now.structure, Some(json!({"order": {"id": 1}})), "{db}");
        assert_eq!(now.sample_custom_variables, Some(json!({"a": "1"})), "{db}");
        assert!(
            store.ingest_target(&c.token).await.unwrap().unwrap().has_structure,
            "{db}"
        );

        let stats = store.stats(&ws, &c.id).await.unwrap().unwrap();
        assert_eq!(
            stats.lifetime,
            Counts {
                received: 3,
                rejected: 1,
                ..Default::default()
            },
            "{db}"
        );
        assert_eq!(stats.since_reset, stats.lifetime, "{db}");

        // Other workspaces see nothing.
        let other = workspace(&*store, "b").await;
        assert!(store.get_event(&other, &first.id).await.unwrap().is_none(), "{db}");
        let page = store
            .list_events(
                &other,
                &c.id,
                None,
                &PageRequest {
                    limit: 10,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert!(page.items.is_empty(), "{db}");
    })
    .await;
}

#[tokio::test]
async fn binary_bodies_survive_byte_for_byte() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "files").await;
        let mut e = event(&c, json!("x"));
        e.body = (0..=255u8).chain((0..=255u8).rev()).collect();
        store.insert_events(std::slice::from_ref(&e)).await.unwrap();
        assert_eq!(store.get_event(&ws, &e.id).await.unwrap().unwrap().body, e.body, "{db}");
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_id_fails_the_batch_and_writes_nothing() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let e = event(&c, json!({}));
        store.insert_events(std::slice::from_ref(&e)).await.unwrap();
        let fresh = event(&c, json!({"fresh": 1}));
        let mut dup = event(&c, json!({}));
        dup.id = e.id.clone();
        let err = store.insert_events(&[fresh.clone(), dup]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{db}: {err}");
        assert!(
            store.get_event(&ws, &fresh.id).await.unwrap().is_none(),
            "{db}: half a batch was written"
        );
        assert_eq!(
            store.stats(&ws, &c.id).await.unwrap().unwrap().lifetime.received,
            1,
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_log_filters_by_status_and_pages() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let mut all = Vec::new();
        for i in 0..7 {
            let mut e = event(&c, json!({"i": i}));
            if i % 3 == 0 {
                e.status = EventStatus::Rejected;
                e.execution = None;
            }
            all.push(e);
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        store.insert_events(&all).await.unwrap();
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_events(&ws, &c.id, None, &PageRequest { limit: 3, cursor })
                .await
                .unwrap();
            ids.extend(page.items.iter().map(|e| e.id.clone()));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        let mut expected: Vec<_> = all.iter().map(|e| e.id.clone()).collect();
        expected.reverse();
        assert_eq!(ids, expected, "{db}");
        let rejected = store
            .list_events(
                &ws,
                &c.id,
                Some(EventStatus::Rejected),
                &PageRequest {
                    limit: 50,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(rejected.items.len(), 3, "{db}");
    })
    .await;
}

#[tokio::test]
async fn finishing_executions_counts_them_and_reset_starts_over() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let events: Vec<_> = (0..4).map(|i| event(&c, json!({"i": i}))).collect();
        store.insert_events(&events).await.unwrap();
        let outcomes = [
            EventStatus::Succeeded,
            EventStatus::Succeeded,
            EventStatus::Failed,
            EventStatus::Filtered,
        ];
        for (e, status) in events.iter().zip(outcomes) {
            store
                .finish_execution(e.execution.as_ref().unwrap(), status, None)
                .await
                .unwrap();
        }
        assert_eq!(
            store.get_event(&ws, &events[2].id).await.unwrap().unwrap().status,
            EventStatus::Failed,
            "{db}"
        );
        let stats = store.stats(&ws, &c.id).await.unwrap().unwrap();
        assert_eq!(
            stats.lifetime,
            Counts {
                received: 4,
                succeeded: 2,
                failed: 1,
                filtered: 1,
                rejected: 0
            },
            "{db}"
        );
        let reset = store.reset_stats(&ws, &c.id).await.unwrap().unwrap();
        assert!(reset.reset_at.is_some(), "{db}");
        assert_eq!(reset.since_reset, Counts::default(), "{db}");
        assert_eq!(reset.lifetime, stats.lifetime, "{db}");
        store.insert_events(&[event(&c, json!({}))]).await.unwrap();
        let after = store.stats(&ws, &c.id).await.unwrap().unwrap();
        assert_eq!((after.lifetime.received, after.since_reset.received), (5, 1), "{db}");
        assert!(store
            .finish_execution(events[0].execution.as_ref().unwrap(), EventStatus::Running, None)
            .await
            .is_err());
    })
    .await;
}

/// Concurrent writes share commits on SQLite; one that fails takes back only its own changes,
/// and every other one is kept and answered Ok.
#[tokio::test]
async fn a_failing_write_among_concurrent_ones_takes_back_only_itself() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let existing = event(&c, json!({"n": 0}));
        store.insert_events(std::slice::from_ref(&existing)).await.unwrap();
        let good: Vec<_> = (1..=40).map(|n| event(&c, json!({"n": n}))).collect();
        // A fresh event and a second copy of an existing one: the write fails as a whole.
        let fresh = event(&c, json!({"n": "fresh"}));
        let bad = vec![fresh.clone(), existing.clone()];
        let mut writes: Vec<_> = good
            .iter()
            .map(|e| {
                let (store, e) = (store.clone(), e.clone());
                tokio::spawn(async move { store.insert_events(&[e]).await })
            })
            .collect();
        writes.insert(20, {
            let store = store.clone();
            tokio::spawn(async move { store.insert_events(&bad).await })
        });
        let mut results = Vec::new();
        for write in writes {
            results.push(write.await.unwrap());
        }
        assert!(
            matches!(results[20], Err(StoreError::Conflict { .. })),
            "{db}: {:?}",
            results[20]
        );
        assert!(
            results.iter().enumerate().all(|(i, r)| i == 20 || r.is_ok()),
            "{db}: {results:?}"
        );
        assert!(
            store.get_event(&ws, &fresh.id).await.unwrap().is_none(),
            "{db}: half of a failed write was kept"
        );
        for e in &good {
            assert!(store.get_event(&ws, &e.id).await.unwrap().is_some(), "{db}");
        }
        let stats = store.stats(&ws, &c.id).await.unwrap().unwrap();
        assert_eq!(stats.lifetime.received, 41, "{db}");
    })
    .await;
}

/// `levels` arrays inside each other around a number.
fn nested(levels: usize) -> serde_json::Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

/// An event stored before payload limits, its body 127 levels deep inside the stored `parsed`
/// (128 levels, one past serde_json's reader), is still listed and read, marked unreadable; a
/// journal entry that cannot be read is `Corrupt`, which no caller retries.
#[tokio::test]
async fn a_stored_body_that_cannot_be_read_back_is_marked_not_an_error() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let mut deep = event(&c, nested(127));
        deep.capture_structure = false;
        let fine = event(&c, nested(63));
        store.insert_events(&[deep.clone(), fine.clone()]).await.unwrap();

        let got = store.get_event(&ws, &deep.id).await.unwrap().unwrap();
        let reason = got.parsed_error.as_deref().unwrap_or_default();
        assert!(reason.contains("recursion limit exceeded"), "{db}: {reason}");
        assert_eq!((&got.parsed.body, &got.body), (&json!(null), &deep.body), "{db}");
        let (_, run) = store
            .execution_and_event(&ws, deep.execution.as_ref().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(run.unwrap().parsed_error.as_deref(), Some(reason), "{db}");
        let page = store
            .list_events(
                &ws,
                &c.id,
                None,
                &PageRequest {
                    limit: 10,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        let unreadable: Vec<bool> = page.items.iter().map(|e| e.parsed_error.is_some()).collect();
        assert_eq!(unreadable, [false, true], "{db}: newest first");

        let fine_execution = fine.execution.clone().unwrap();
        let mut step = hookflow_engine::store::StepRecord {
            execution_id: fine_execution.clone(),
            key: "s".into(),
            seq: 0,
            step_id: "s".into(),
            step_type: "storage".into(),
            status: hookflow_core::StepStatus::Succeeded,
            input: json!({}),
            output: json!({"value": nested(127)}),
            error: None,
            missing: Vec::new(),
            started_at: hookflow_core::Timestamp::now(),
            duration_ms: 1,
            attempts: 1,
            attempt_log: Vec::new(),
        };
        store.record_step(&step).await.unwrap();
        let err = store.journal(&fine_execution).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{db}: {err}");
        step.output = json!({"value": nested(63)});
        store.record_step(&step).await.unwrap();
        assert_eq!(
            store.journal(&fine_execution).await.unwrap()[0].output,
            step.output,
            "{db}"
        );
    })
    .await;
}
