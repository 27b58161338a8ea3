use std::collections::HashSet;
use std::time::Duration;

use hookflow_core::{JobKind, JobState, Timestamp};

use crate::utils::{connector, event, on_every_database, workspace};

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn claim_lease_complete() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let id = store
            .enqueue_job(JobKind::Execution, &ws, "exe_1", Timestamp::now())
            .await
            .unwrap();
        let claimed = store.claim_jobs(&[JobKind::Execution], "w1", 10, LEASE).await.unwrap();
        assert_eq!(claimed.len(), 1, "{db}");
        assert_eq!(
            (
                claimed[0].id.clone(),
                claimed[0].attempts,
                claimed[0].target_id.as_str()
            ),
            (id.clone(), 1, "exe_1")
        );
        assert!(claimed[0].lease_until > Timestamp::now(), "{db}");
        // Leased: nobody else gets it.
        assert!(
            store
                .claim_jobs(&[JobKind::Execution], "w2", 10, LEASE)
                .await
                .unwrap()
                .is_empty(),
            "{db}"
        );
        // Only the holder settles it.
        assert!(!store.complete_job(&id, "w2").await.unwrap(), "{db}");
        assert!(store.complete_job(&id, "w1").await.unwrap(), "{db}");
        assert!(!store.complete_job(&id, "w1").await.unwrap(), "{db}: completed twice");
        assert_eq!(store.get_job(&id).await.unwrap().unwrap().state, JobState::Done, "{db}");
        assert!(
            store
                .claim_jobs(&[JobKind::Execution], "w2", 10, LEASE)
                .await
                .unwrap()
                .is_empty(),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn kinds_and_due_times_are_respected() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        store
            .enqueue_job(JobKind::Delivery, &ws, "del_1", Timestamp::now())
            .await
            .unwrap();
        let later = store
            .enqueue_job(
                JobKind::Execution,
                &ws,
                "exe_later",
                Timestamp::now().plus_millis(60_000),
            )
            .await
            .unwrap();
        assert!(
            store
                .claim_jobs(&[JobKind::Execution], "w", 10, LEASE)
                .await
                .unwrap()
                .is_empty(),
            "{db}"
        );
        let deliveries = store
            .claim_jobs(&[JobKind::Delivery, JobKind::Execution], "w", 10, LEASE)
            .await
            .unwrap();
        assert_eq!(deliveries.len(), 1, "{db}");
        assert_eq!(
            store.get_job(&later).await.unwrap().unwrap().state,
            JobState::Queued,
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn retry_waits_for_its_time_and_keeps_the_reason() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let id = store
            .enqueue_job(JobKind::Execution, &ws, "exe_1", Timestamp::now())
            .await
            .unwrap();
        store.claim_jobs(&[JobKind::Execution], "w", 1, LEASE).await.unwrap();
        let at = Timestamp::now().plus_millis(300);
        assert!(store.retry_job(&id, "w", at, "503 from peer").await.unwrap(), "{db}");
        let row = store.get_job(&id).await.unwrap().unwrap();
        assert_eq!(
            (row.state, row.run_at, row.last_error.as_deref()),
            (JobState::Queued, at, Some("503 from peer"))
        );
        assert!(
            store
                .claim_jobs(&[JobKind::Execution], "w", 1, LEASE)
                .await
                .unwrap()
                .is_empty(),
            "{db}: claimed early"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        let again = store.claim_jobs(&[JobKind::Execution], "w", 1, LEASE).await.unwrap();
        assert_eq!(again[0].attempts, 2, "{db}");
        assert!(
            store.kill_job(&id, "w", "gave up after 2 attempts").await.unwrap(),
            "{db}"
        );
        assert_eq!(store.get_job(&id).await.unwrap().unwrap().state, JobState::Dead, "{db}");
    })
    .await;
}

#[tokio::test]
async fn expired_leases_are_reclaimed_and_the_old_holder_is_fenced_off() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let id = store
            .enqueue_job(JobKind::Execution, &ws, "exe_1", Timestamp::now())
            .await
            .unwrap();
        store
            .claim_jobs(&[JobKind::Execution], "dead-node", 1, Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(
            store.reclaim_expired().await.unwrap(),
            0,
            "{db}: reclaimed a live lease"
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(store.reclaim_expired().await.unwrap(), 1, "{db}");
        let row = store.get_job(&id).await.unwrap().unwrap();
        assert_eq!((row.state, row.lease_owner), (JobState::Queued, None), "{db}");
        let taken = store
            .claim_jobs(&[JobKind::Execution], "live-node", 1, LEASE)
            .await
            .unwrap();
        assert_eq!(taken[0].attempts, 2, "{db}");
        assert!(
            !store.complete_job(&id, "dead-node").await.unwrap(),
            "{db}: a fenced worker settled a job"
        );
        assert!(store.complete_job(&id, "live-node").await.unwrap(), "{db}");
    })
    .await;
}

#[tokio::test]
async fn heartbeats_extend_only_held_leases_and_release_gives_back() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let a = store
            .enqueue_job(JobKind::Execution, &ws, "exe_a", Timestamp::now())
            .await
            .unwrap();
        let b = store
            .enqueue_job(JobKind::Execution, &ws, "exe_b", Timestamp::now())
            .await
            .unwrap();
        store
            .claim_jobs(&[JobKind::Execution], "w", 2, Duration::from_millis(100))
            .await
            .unwrap();
        assert!(store.complete_job(&b, "w").await.unwrap());
        let lost = store.heartbeat(&[a.clone(), b.clone()], "w", LEASE).await.unwrap();
        assert_eq!(lost, vec![b], "{db}");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            store.reclaim_expired().await.unwrap(),
            0,
            "{db}: the heartbeat did not extend the lease"
        );
        assert!(store.release_job(&a, "w").await.unwrap(), "{db}");
        let row = store.get_job(&a).await.unwrap().unwrap();
        assert_eq!(
            (row.state, row.attempts),
            (JobState::Queued, 0),
            "{db}: a release counted as an attempt"
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_job() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        for i in 0..120 {
            store
                .enqueue_job(JobKind::Execution, &ws, &format!("exe_{i}"), Timestamp::now())
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for w in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_jobs(&[JobKind::Execution], &format!("w{w}"), 7, LEASE)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|j| j.target_id));
                }
            }));
        }
        let mut seen = HashSet::new();
        let mut total = 0;
        for t in tasks {
            for target in t.await.unwrap() {
                total += 1;
                assert!(seen.insert(target.clone()), "{db}: {target} claimed twice");
            }
        }
        assert_eq!(total, 120, "{db}");
    })
    .await;
}

/// The claim says whether an execution ever ran: only then has it a journal for its run to read.
#[tokio::test]
async fn a_claim_says_whether_the_execution_ran_before() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        let e = event(&c, serde_json::json!({"n": 1}));
        let execution = e.execution.clone().unwrap();
        store.insert_events(&[e]).await.unwrap();
        let first = store
            .claim_jobs(&[JobKind::Execution], "dead-node", 1, Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(first.len(), 1, "{db}");
        assert_eq!(first[0].target_id, execution.as_str(), "{db}");
        assert!(first[0].fresh, "{db}: a new execution's first claim");
        // Its holder stops answering; the next holder must read what the first one wrote.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(store.reclaim_expired().await.unwrap(), 1, "{db}");
        let again = store.claim_jobs(&[JobKind::Execution], "w", 1, LEASE).await.unwrap();
        assert_eq!(again.len(), 1, "{db}");
        assert!(!again[0].fresh, "{db}: an execution that ran before");
    })
    .await;
}
