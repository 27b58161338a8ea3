use hookflow_core::{EventStatus, JobState, StepStatus, Timestamp};
use hookflow_engine::store::{StepRecord, StorageOp};
use hookflow_engine::StoreError;
use serde_json::json;

use crate::utils::{connector, event, on_every_database, workspace};

fn record(e: &hookflow_engine::store::NewEvent, key: &str, seq: i64) -> StepRecord {
    StepRecord {
        execution_id: e.execution.clone().unwrap(),
        key: key.into(),
        seq,
        step_id: key.into(),
        step_type: "storage".into(),
        status: StepStatus::Succeeded,
        input: json!({"key": "k"}),
        output: json!({"value": 1}),
        error: None,
        missing: vec!["event.body.x".into()],
        started_at: Timestamp::now(),
        duration_ms: 3,
        attempts: 1,
        attempt_log: vec![json!({"status": 503})],
    }
}

#[tokio::test]
async fn the_journal_keeps_steps_in_order_and_replaces_by_key() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let e = event(&c, json!({}));
        store.insert_events(std::slice::from_ref(&e)).await.unwrap();
        let exe = e.execution.clone().unwrap();
        let first = record(&e, "b", 2);
        store.record_step(&first).await.unwrap();
        store.record_step(&record(&e, "a", 1)).await.unwrap();
        // A later write of the same key replaces it but keeps when it first started.
        let mut waiting = first.clone();
        waiting.started_at = Timestamp::from_millis(first.started_at.as_millis() + 5_000);
        waiting.status = StepStatus::Waiting;
        waiting.output = json!({"until": "2030-01-01T00:00:00.000Z"});
        store.record_step(&waiting).await.unwrap();
        let journal = store.journal(&exe).await.unwrap();
        assert_eq!(
            journal.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "{db}"
        );
        assert_eq!(
            journal[1],
            StepRecord {
                started_at: first.started_at,
                ..waiting.clone()
            },
            "{db}"
        );
        assert_eq!(journal[0].missing, ["event.body.x"], "{db}");

        store.mark_execution(&exe, EventStatus::Waiting).await.unwrap();
        let got = store.get_execution(&ws, &exe).await.unwrap().unwrap();
        assert_eq!(
            (got.status, got.started_at.is_some(), got.finished_at),
            (EventStatus::Waiting, true, None),
            "{db}"
        );
        assert_eq!(
            store.get_event(&ws, &e.id).await.unwrap().unwrap().status,
            EventStatus::Waiting,
            "{db}"
        );
        let other = workspace(&*store, "b").await;
        assert!(store.get_execution(&other, &exe).await.unwrap().is_none(), "{db}");
        assert!(
            store.mark_execution(&exe, EventStatus::Succeeded).await.is_err(),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn storage_operations_and_their_journal_are_one_transaction() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let other = workspace(&*store, "b").await;
        let get = |key: &str| StorageOp::Get { key: key.into() };
        assert_eq!(
            store.storage_apply(&ws, &get("k"), None).await.unwrap(),
            Ok(json!(null)),
            "{db}"
        );
        let set = StorageOp::Set {
            key: "k".into(),
            value: json!({"a": [1, 2]}),
        };
        store.storage_apply(&ws, &set, None).await.unwrap().unwrap();
        assert_eq!(
            store.storage_apply(&ws, &get("k"), None).await.unwrap(),
            Ok(json!({"a": [1, 2]})),
            "{db}"
        );
        assert_eq!(
            store.storage_apply(&other, &get("k"), None).await.unwrap(),
            Ok(json!(null)),
            "{db}: storage crossed workspaces"
        );
        let bad = store
            .storage_apply(
                &ws,
                &StorageOp::Increment {
                    key: "k".into(),
                    by: 1.0,
                },
                None,
            )
            .await
            .unwrap();
        assert!(bad.unwrap_err().contains("not a number"), "{db}");
        let inc = StorageOp::Increment {
            key: "n".into(),
            by: 2.5,
        };
        assert_eq!(
            store.storage_apply(&ws, &inc, None).await.unwrap(),
            Ok(json!(2.5)),
            "{db}"
        );
        let inc = StorageOp::Increment {
            key: "n".into(),
            by: 0.5,
        };
        assert_eq!(
            store.storage_apply(&ws, &inc, None).await.unwrap(),
            Ok(json!(3)),
            "{db}"
        );
        store
            .storage_apply(&ws, &StorageOp::Delete { key: "n".into() }, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.storage_apply(&ws, &get("n"), None).await.unwrap(),
            Ok(json!(null)),
            "{db}"
        );

        // With a journal entry, the entry lands with the change and carries its value.
        let c = connector(&*store, &ws, "orders").await;
        let e = event(&c, json!({}));
        store.insert_events(std::slice::from_ref(&e)).await.unwrap();
        let rec = record(&e, "count", 1);
        let inc = StorageOp::Increment {
            key: "count".into(),
            by: 1.0,
        };
        store.storage_apply(&ws, &inc, Some(&rec)).await.unwrap().unwrap();
        let journal = store.journal(e.execution.as_ref().unwrap()).await.unwrap();
        assert_eq!(journal[0].output, json!({"value": 1}), "{db}");
        // A failed operation writes no journal entry.
        let mut failing = record(&e, "bad", 2);
        failing.key = "bad".into();
        store
            .storage_apply(
                &ws,
                &StorageOp::Increment {
                    key: "k".into(),
                    by: 1.0,
                },
                Some(&failing),
            )
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            store.journal(e.execution.as_ref().unwrap()).await.unwrap().len(),
            1,
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_increments_never_lose_one() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (store, ws) = (store.clone(), ws.clone());
                tokio::spawn(async move {
                    store
                        .storage_apply(
                            &ws,
                            &StorageOp::Increment {
                                key: "c".into(),
                                by: 1.0,
                            },
                            None,
                        )
                        .await
                        .unwrap()
                        .unwrap()
                })
            })
            .collect();
        let mut seen: Vec<i64> = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap().as_i64().unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=20).collect::<Vec<_>>(), "{db}");
    })
    .await;
}

#[tokio::test]
async fn replay_queues_a_new_execution() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let e = event(&c, json!({"a": 1}));
        let mut rejected = event(&c, json!(null));
        rejected.status = EventStatus::Rejected;
        rejected.execution = None;
        store.insert_events(&[e.clone(), rejected.clone()]).await.unwrap();
        store
            .finish_execution(e.execution.as_ref().unwrap(), EventStatus::Failed, Some("boom"))
            .await
            .unwrap();
        let again = store.replay_event(&ws, &e.id, 1).await.unwrap().unwrap();
        assert_ne!(Some(&again), e.execution.as_ref(), "{db}");
        let event_now = store.get_event(&ws, &e.id).await.unwrap().unwrap();
        assert_eq!(
            (event_now.status, event_now.execution_id),
            (EventStatus::Received, Some(again.clone())),
            "{db}"
        );
        assert_eq!(
            store.job_for_target(again.as_str()).await.unwrap().unwrap().state,
            JobState::Queued,
            "{db}"
        );
        let other = workspace(&*store, "b").await;
        assert!(store.replay_event(&other, &e.id, 1).await.unwrap().is_none(), "{db}");
        assert!(
            matches!(
                store.replay_event(&ws, &rejected.id, 1).await,
                Err(StoreError::Conflict { .. })
            ),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn versions_that_running_executions_need_are_kept() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let e = event(&c, json!({}));
        store.insert_events(std::slice::from_ref(&e)).await.unwrap();
        for i in 0..25 {
            store
                .save_document(&ws, &c.id, &json!({"steps": [], "n": i}), None, "saved")
                .await
                .unwrap();
        }
        assert!(
            store.get_version(&ws, &c.id, 1).await.unwrap().is_some(),
            "{db}: an unfinished execution's version was pruned"
        );
        assert_eq!(store.list_versions(&ws, &c.id).await.unwrap().len(), 20, "{db}");
    })
    .await;
}

/// A claim marks the execution running; its end, its last journal entries and its job's
/// completion commit together; a suspension parks the job until its time; a worker that lost
/// the lease is told so.
#[tokio::test]
async fn finishing_and_suspending_settle_the_job_in_the_same_commit() {
    use hookflow_core::JobKind;
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let events = [event(&c, json!({"n": 1})), event(&c, json!({"n": 2}))];
        store.insert_events(&events).await.unwrap();
        let lease = std::time::Duration::from_secs(30);
        let jobs = store.claim_jobs(&[JobKind::Execution], "w", 2, lease).await.unwrap();
        assert_eq!(jobs.len(), 2, "{db}");
        assert!(jobs.iter().all(|j| j.worker == "w"), "{db}");
        let job_of = |e: &hookflow_engine::store::NewEvent| {
            let exe = e.execution.clone().unwrap();
            jobs.iter().find(|j| j.target_id == exe.as_str()).unwrap().id.clone()
        };
        let (first, second) = (&events[0], &events[1]);
        let exe = first.execution.clone().unwrap();
        let got = store.get_execution(&ws, &exe).await.unwrap().unwrap();
        assert_eq!(
            (got.status, got.started_at.is_some()),
            (EventStatus::Running, true),
            "{db}"
        );
        assert_eq!(
            store.get_event(&ws, &first.id).await.unwrap().unwrap().status,
            EventStatus::Running,
            "{db}"
        );

        // Suspended: the waiting entry is written, the job is queued for later.
        let at = Timestamp::from_millis(Timestamp::now().as_millis() + 60_000);
        let mut waiting = record(first, "wait", 1);
        waiting.status = StepStatus::Waiting;
        let job = job_of(first);
        assert!(
            store
                .suspend_execution(&exe, &[waiting], (&job, "w"), at)
                .await
                .unwrap(),
            "{db}"
        );
        let row = store.get_job(&job).await.unwrap().unwrap();
        assert_eq!(
            (row.state, row.run_at, row.lease_owner),
            (JobState::Queued, at, None),
            "{db}"
        );
        assert_eq!(
            store.journal(&exe).await.unwrap()[0].status,
            StepStatus::Waiting,
            "{db}"
        );
        let got = store.get_execution(&ws, &exe).await.unwrap().unwrap();
        assert_eq!(got.status, EventStatus::Waiting, "{db}");

        // Finished: entries, status and the job's completion at once.
        let exe2 = second.execution.clone().unwrap();
        let job2 = job_of(second);
        let steps = [record(second, "a", 1), record(second, "b", 2)];
        assert!(
            store
                .finish_execution_with(&exe2, EventStatus::Succeeded, None, &steps, Some((&job2, "w")))
                .await
                .unwrap(),
            "{db}"
        );
        assert_eq!(store.journal(&exe2).await.unwrap().len(), 2, "{db}");
        assert_eq!(
            store.get_job(&job2).await.unwrap().unwrap().state,
            JobState::Done,
            "{db}"
        );
        let got = store.get_execution(&ws, &exe2).await.unwrap().unwrap();
        assert_eq!(
            (got.status, got.finished_at.is_some()),
            (EventStatus::Succeeded, true),
            "{db}"
        );

        // A worker that no longer holds the job hears so; the execution stays finished once.
        assert!(
            !store
                .finish_execution_with(&exe2, EventStatus::Failed, Some("late"), &[], Some((&job2, "w")))
                .await
                .unwrap(),
            "{db}"
        );
        let got = store.get_execution(&ws, &exe2).await.unwrap().unwrap();
        assert_eq!(got.status, EventStatus::Succeeded, "{db}");
        let stats = store.stats(&ws, &c.id).await.unwrap().unwrap();
        assert_eq!((stats.lifetime.succeeded, stats.lifetime.failed), (1, 0), "{db}");
    })
    .await;
}
