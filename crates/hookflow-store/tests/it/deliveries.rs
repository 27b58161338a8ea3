//! Deliveries through `Deliveries`: the work of a delivery job, attempts and what they lead to
//! (retries, failures, disabled subscriptions), lists, retries and recoveries.

use std::collections::HashSet;

use hookflow_core::{DeliveryId, EventType, JobKind, JobState, SubscriptionId, Timestamp, WorkspaceId};
use hookflow_engine::messages::Message;
use hookflow_engine::store::{DeliveryAttempt, DeliveryResult, PageRequest};
use hookflow_engine::{Store, StoreError};
use serde_json::{json, Value};

use crate::utils::{delivered_types, deliveries, on_every_database, subscription, workspace};

const DAY: i64 = 86_400_000;

fn custom(name: &str, data: Value) -> Message {
    Message {
        event_type: EventType::custom(name).unwrap(),
        connector: None,
        data,
    }
}

/// Emits one `custom.{name}` message and answers the delivery it made for `sub`.
async fn deliver(store: &dyn Store, ws: &WorkspaceId, sub: &SubscriptionId, name: &str) -> DeliveryId {
    let id = store
        .emit(ws, &custom(name, json!({"n": name})), Some(sub), None)
        .await
        .unwrap()
        .expect("sent");
    let all = deliveries(store, ws, sub).await;
    let d = all.iter().find(|d| d.message_id == id).expect("its delivery");
    d.id.clone()
}

fn attempt(n: i64, at: Timestamp, status: Option<i64>, error: Option<&str>) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt: n,
        at,
        status_code: status,
        latency_ms: Some(12),
        response_headers: json!({"content-type": "text/plain"}),
        response_body: format!("answer {n}"),
        error: error.map(Into::into),
    }
}

fn retry_at(at: Timestamp) -> DeliveryResult {
    DeliveryResult::Retry {
        at,
        disable_after_ms: 5 * DAY,
    }
}

fn failed(disable: Option<&str>) -> DeliveryResult {
    DeliveryResult::Failed {
        disable: disable.map(Into::into),
        disable_after_ms: 5 * DAY,
    }
}

#[tokio::test]
async fn a_delivery_job_gets_the_envelope_and_the_subscription() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let sub = subscription(&*store, &ws, &["custom.*"], &[]).await;
        let before = Timestamp::now();
        store
            .emit(&ws, &custom("order_paid", json!({"total": 5})), None, None)
            .await
            .unwrap()
            .unwrap();
        let [d] = &deliveries(&*store, &ws, &sub.id).await[..] else {
            panic!("{db}: one delivery")
        };
        let work = store.delivery_work(&d.id).await.unwrap().expect("work");
        assert_eq!(
            (&work.delivery.id, work.delivery.status.as_str(), work.delivery.attempts),
            (&d.id, "pending", 0),
            "{db}"
        );
        assert_eq!(
            (&work.subscription.id, &work.subscription.url),
            (&sub.id, &sub.url),
            "{db}"
        );
        assert_eq!(work.subscription.secret, sub.secret, "{db}: signing needs the secret");
        let Value::Object(payload) = &work.payload else {
            panic!("{db}: {}", work.payload)
        };
        let mut keys: Vec<&str> = payload.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["data", "timestamp", "type"], "{db}");
        assert_eq!(
            (&payload["type"], &payload["data"]),
            (&json!("custom.order_paid"), &json!({"total": 5})),
            "{db}"
        );
        let at = Timestamp::parse_rfc3339(payload["timestamp"].as_str().unwrap()).expect("an RFC 3339 time");
        assert!(at >= before && at <= Timestamp::now(), "{db}");
        assert!(store.delivery_work(&DeliveryId::new()).await.unwrap().is_none(), "{db}");
    })
    .await;
}

#[tokio::test]
async fn attempts_move_a_delivery_along() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let sub = subscription(&*store, &ws, &["custom.*"], &[]).await;
        let d = deliver(&*store, &ws, &sub.id, "a").await;

        let first = attempt(1, Timestamp::now(), Some(503), Some("503 Service Unavailable"));
        let next = Timestamp::now().plus_millis(60_000);
        store
            .record_delivery_attempt(&d, &first, &retry_at(next))
            .await
            .unwrap();
        let (got, attempts) = store.get_delivery(&ws, &d).await.unwrap().unwrap();
        assert_eq!(
            (
                got.status.as_str(),
                got.attempts,
                got.next_at,
                got.last_error.as_deref()
            ),
            ("pending", 1, Some(next), Some("503 Service Unavailable")),
            "{db}"
        );
        assert_eq!(attempts.len(), 1, "{db}");
        let s = store.get_subscription(&ws, &sub.id).await.unwrap().unwrap();
        assert_eq!(
            (s.enabled, s.failing_since),
            (true, Some(first.at)),
            "{db}: failing since the attempt"
        );

        let second = attempt(2, Timestamp::now(), Some(200), None);
        store
            .record_delivery_attempt(&d, &second, &DeliveryResult::Delivered)
            .await
            .unwrap();
        let (got, attempts) = store.get_delivery(&ws, &d).await.unwrap().unwrap();
        assert_eq!(
            (got.status.as_str(), got.attempts, got.next_at, got.last_error),
            ("delivered", 2, None, None),
            "{db}"
        );
        let log: Vec<(i64, Timestamp, Option<i64>, Option<String>)> = attempts
            .iter()
            .map(|a| (a.attempt, a.at, a.status_code, a.error.clone()))
            .collect();
        assert_eq!(
            log,
            [
                (1, first.at, Some(503), first.error.clone()),
                (2, second.at, Some(200), None)
            ],
            "{db}"
        );
        assert_eq!(
            (
                &attempts[1].response_headers,
                attempts[1].response_body.as_str(),
                attempts[1].latency_ms
            ),
            (&json!({"content-type": "text/plain"}), "answer 2", Some(12)),
            "{db}"
        );
        let s = store.get_subscription(&ws, &sub.id).await.unwrap().unwrap();
        assert_eq!(s.failing_since, None, "{db}: a success ends the failing");

        // A failure with no reason to disable leaves the subscription on.
        let other = deliver(&*store, &ws, &sub.id, "b").await;
        let timeout = attempt(1, Timestamp::now(), None, Some("timed out"));
        store
            .record_delivery_attempt(&other, &timeout, &failed(None))
            .await
            .unwrap();
        let (got, _) = store.get_delivery(&ws, &other).await.unwrap().unwrap();
        assert_eq!(
            (
                got.status.as_str(),
                got.attempts,
                got.next_at,
                got.last_error.as_deref()
            ),
            ("failed", 1, None, Some("timed out")),
            "{db}"
        );
        let s = store.get_subscription(&ws, &sub.id).await.unwrap().unwrap();
        assert_eq!(
            (s.enabled, s.disabled_reason, s.failing_since),
            (true, None, Some(timeout.at)),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_gone_subscriber_is_disabled_and_that_is_announced() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let gone = subscription(&*store, &ws, &["*"], &[]).await;
        let watcher = subscription(&*store, &ws, &["subscription.*"], &[]).await;
        let exact = subscription(&*store, &ws, &["subscription.disabled"], &[]).await;
        let unrelated = subscription(&*store, &ws, &["execution.*", "custom.*"], &[]).await;
        let d = deliver(&*store, &ws, &gone.id, "a").await;

        let at = Timestamp::now();
        store
            .record_delivery_attempt(
                &d,
                &attempt(1, at, Some(410), Some("410 Gone")),
                &failed(Some("the URL answered 410 Gone")),
            )
            .await
            .unwrap();
        let s = store.get_subscription(&ws, &gone.id).await.unwrap().unwrap();
        assert_eq!(
            (s.enabled, s.disabled_reason.as_deref()),
            (false, Some("the URL answered 410 Gone")),
            "{db}"
        );
        assert_eq!(
            store.get_delivery(&ws, &d).await.unwrap().unwrap().0.status,
            "failed",
            "{db}"
        );

        for watching in [&watcher.id, &exact.id] {
            let [announced] = &deliveries(&*store, &ws, watching).await[..] else {
                panic!("{db}: one announcement")
            };
            let work = store.delivery_work(&announced.id).await.unwrap().unwrap();
            assert_eq!(work.payload["type"], "subscription.disabled", "{db}");
            assert_eq!(
                (
                    &work.payload["data"]["subscription_id"],
                    &work.payload["data"]["url"],
                    &work.payload["data"]["reason"]
                ),
                (&json!(gone.id), &json!(gone.url), &json!("the URL answered 410 Gone")),
                "{db}"
            );
            let job = store.job_for_target(announced.id.as_str()).await.unwrap().unwrap();
            assert_eq!((job.kind, job.state), (JobKind::Delivery, JobState::Queued), "{db}");
        }
        assert!(deliveries(&*store, &ws, &unrelated.id).await.is_empty(), "{db}");
        assert_eq!(
            delivered_types(&*store, &ws, &gone.id).await,
            ["custom.a"],
            "{db}: not to itself"
        );

        // Already off: another failure announces nothing more.
        let again = deliver(&*store, &ws, &unrelated.id, "b").await;
        store
            .record_delivery_attempt(&again, &attempt(1, at, Some(410), None), &failed(Some("again")))
            .await
            .unwrap();
        store
            .record_delivery_attempt(&d, &attempt(2, at, Some(410), None), &failed(Some("again")))
            .await
            .unwrap();
        assert_eq!(
            deliveries(&*store, &ws, &exact.id).await.len(),
            2,
            "{db}: one for `unrelated`"
        );
        let s = store.get_subscription(&ws, &gone.id).await.unwrap().unwrap();
        assert_eq!(
            s.disabled_reason.as_deref(),
            Some("the URL answered 410 Gone"),
            "{db}: the first reason stays"
        );
    })
    .await;
}

#[tokio::test]
async fn failing_for_too_long_disables() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let patient = subscription(&*store, &ws, &["custom.*"], &[]).await;
        let watcher = subscription(&*store, &ws, &["subscription.disabled"], &[]).await;
        let ten_seconds_ago = Timestamp::now().plus_millis(-10_000);
        let later = Timestamp::now().plus_millis(60_000);

        // Failing for 10 s of a minute allowed: still on.
        let d = deliver(&*store, &ws, &patient.id, "a").await;
        let result = DeliveryResult::Retry {
            at: later,
            disable_after_ms: 60_000,
        };
        store
            .record_delivery_attempt(&d, &attempt(1, ten_seconds_ago, Some(500), Some("500")), &result)
            .await
            .unwrap();
        let s = store.get_subscription(&ws, &patient.id).await.unwrap().unwrap();
        assert_eq!((s.enabled, s.failing_since), (true, Some(ten_seconds_ago)), "{db}");
        assert!(deliveries(&*store, &ws, &watcher.id).await.is_empty(), "{db}");

        // Of 5 s allowed: off, since the first failure, not this attempt.
        let result = DeliveryResult::Retry {
            at: later,
            disable_after_ms: 5_000,
        };
        store
            .record_delivery_attempt(&d, &attempt(2, Timestamp::now(), Some(500), Some("500")), &result)
            .await
            .unwrap();
        let s = store.get_subscription(&ws, &patient.id).await.unwrap().unwrap();
        assert!(!s.enabled, "{db}");
        let reason = s.disabled_reason.unwrap_or_default();
        assert!(reason.contains("5 seconds"), "{db}: {reason}");
        assert_eq!(
            delivered_types(&*store, &ws, &watcher.id).await,
            ["subscription.disabled"],
            "{db}"
        );
        let (got, _) = store.get_delivery(&ws, &d).await.unwrap().unwrap();
        assert_eq!(
            (got.status.as_str(), got.next_at),
            ("pending", Some(later)),
            "{db}: the retry stands"
        );
    })
    .await;
}

#[tokio::test]
async fn lists_filter_by_status_and_page_without_repeats() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let sub = subscription(&*store, &ws, &["custom.*"], &[]).await;
        let other = subscription(&*store, &ws, &["custom.*"], &[]).await;
        let mut made = Vec::new();
        for i in 0..5 {
            made.push(deliver(&*store, &ws, &sub.id, &format!("m{i}")).await);
        }
        deliver(&*store, &ws, &other.id, "elsewhere").await;
        for d in [&made[1], &made[3]] {
            store
                .record_delivery_attempt(
                    d,
                    &attempt(1, Timestamp::now(), Some(200), None),
                    &DeliveryResult::Delivered,
                )
                .await
                .unwrap();
        }
        store
            .record_delivery_attempt(&made[4], &attempt(1, Timestamp::now(), Some(500), None), &failed(None))
            .await
            .unwrap();

        let list = |status: Option<&'static str>, limit: u32, cursor: Option<String>| {
            let store = store.clone();
            let ws = ws.clone();
            let sub = sub.id.clone();
            async move {
                store
                    .list_deliveries(&ws, &sub, status, &PageRequest { limit, cursor })
                    .await
                    .unwrap()
            }
        };
        let ids = |p: &hookflow_engine::store::Page<hookflow_engine::store::Delivery>| {
            p.items.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&list(Some("delivered"), 10, None).await),
            [made[3].clone(), made[1].clone()],
            "{db}"
        );
        assert_eq!(ids(&list(Some("failed"), 10, None).await), [made[4].clone()], "{db}");
        assert_eq!(
            ids(&list(Some("pending"), 10, None).await),
            [made[2].clone(), made[0].clone()],
            "{db}"
        );

        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let p = list(None, 2, cursor).await;
            assert!(p.items.len() <= 2, "{db}");
            seen.extend(ids(&p));
            pages += 1;
            cursor = p.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        made.reverse();
        assert_eq!((pages, &seen), (3, &made), "{db}: every delivery once, newest first");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5, "{db}");
        let first = list(Some("pending"), 1, None).await;
        let rest = list(Some("pending"), 1, first.next_cursor.clone()).await;
        assert_eq!(
            (ids(&first), ids(&rest), rest.next_cursor),
            (vec![made[2].clone()], vec![made[4].clone()], None),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_retry_sends_a_settled_delivery_again() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let sub = subscription(&*store, &ws, &["custom.*"], &[]).await;
        let d = deliver(&*store, &ws, &sub.id, "a").await;
        let first_job = store.job_for_target(d.as_str()).await.unwrap().unwrap();

        let pending = store.retry_delivery(&ws, &d).await;
        assert!(matches!(pending, Err(StoreError::Conflict { .. })), "{db}: {pending:?}");

        store
            .record_delivery_attempt(&d, &attempt(1, Timestamp::now(), Some(500), Some("500")), &failed(None))
            .await
            .unwrap();
        let before = Timestamp::now();
        let again = store.retry_delivery(&ws, &d).await.unwrap().expect("retried");
        assert_eq!((&again.id, again.status.as_str()), (&d, "pending"), "{db}");
        assert!(again.next_at.is_some_and(|t| t >= before), "{db}: due now");
        let job = store.job_for_target(d.as_str()).await.unwrap().unwrap();
        assert_ne!(job.id, first_job.id, "{db}: a new job");
        assert_eq!((job.kind, job.state), (JobKind::Delivery, JobState::Queued), "{db}");
        assert!(job.run_at <= Timestamp::now(), "{db}");
        let (_, attempts) = store.get_delivery(&ws, &d).await.unwrap().unwrap();
        assert_eq!(attempts.len(), 1, "{db}: the attempt log stays");

        // Pending again, so a second retry is refused.
        assert!(
            matches!(store.retry_delivery(&ws, &d).await, Err(StoreError::Conflict { .. })),
            "{db}"
        );
        assert!(
            store.retry_delivery(&ws, &DeliveryId::new()).await.unwrap().is_none(),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn recovery_resends_failed_deliveries_since_a_time() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let sub = subscription(&*store, &ws, &["custom.*"], &[]).await;
        let fail = |d: DeliveryId| {
            let store = store.clone();
            async move {
                store
                    .record_delivery_attempt(&d, &attempt(1, Timestamp::now(), Some(500), None), &failed(None))
                    .await
                    .unwrap();
                d
            }
        };
        let old = fail(deliver(&*store, &ws, &sub.id, "old").await).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let since = Timestamp::now();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let recent = fail(deliver(&*store, &ws, &sub.id, "recent").await).await;
        let delivered = deliver(&*store, &ws, &sub.id, "delivered").await;
        store
            .record_delivery_attempt(
                &delivered,
                &attempt(1, Timestamp::now(), Some(200), None),
                &DeliveryResult::Delivered,
            )
            .await
            .unwrap();
        let waiting = deliver(&*store, &ws, &sub.id, "waiting").await;

        let recent_job = store.job_for_target(recent.as_str()).await.unwrap().unwrap();
        assert_eq!(store.recover_deliveries(&ws, &sub.id, since).await.unwrap(), 1, "{db}");
        let status = |d: DeliveryId| {
            let store = store.clone();
            let ws = ws.clone();
            async move { store.get_delivery(&ws, &d).await.unwrap().unwrap().0.status }
        };
        assert_eq!(status(recent.clone()).await, "pending", "{db}");
        assert_eq!(status(old.clone()).await, "failed", "{db}: before `since`");
        assert_eq!(status(delivered).await, "delivered", "{db}");
        assert_eq!(status(waiting).await, "pending", "{db}");
        let job = store.job_for_target(recent.as_str()).await.unwrap().unwrap();
        assert_ne!(job.id, recent_job.id, "{db}: a new job");
        assert_eq!(job.state, JobState::Queued, "{db}");

        // From the beginning: the old one too; the recent one is pending now.
        assert_eq!(
            store
                .recover_deliveries(&ws, &sub.id, Timestamp::from_millis(0))
                .await
                .unwrap(),
            1,
            "{db}"
        );
        assert_eq!(status(old).await, "pending", "{db}");
        let missing = SubscriptionId::new();
        assert_eq!(store.recover_deliveries(&ws, &missing, since).await.unwrap(), 0, "{db}");
    })
    .await;
}

#[tokio::test]
async fn deliveries_stay_in_their_workspace() {
    on_every_database(|store, db| async move {
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let sub = subscription(&*store, &a, &["custom.*"], &[]).await;
        let d = deliver(&*store, &a, &sub.id, "a").await;
        store
            .record_delivery_attempt(&d, &attempt(1, Timestamp::now(), Some(500), Some("500")), &failed(None))
            .await
            .unwrap();

        assert!(store.get_delivery(&b, &d).await.unwrap().is_none(), "{db}");
        let req = PageRequest {
            limit: 10,
            cursor: None,
        };
        assert!(
            store
                .list_deliveries(&b, &sub.id, None, &req)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{db}"
        );
        assert!(store.retry_delivery(&b, &d).await.unwrap().is_none(), "{db}");
        assert_eq!(
            store
                .recover_deliveries(&b, &sub.id, Timestamp::from_millis(0))
                .await
                .unwrap(),
            0,
            "{db}"
        );
        let (got, attempts) = store.get_delivery(&a, &d).await.unwrap().unwrap();
        assert_eq!((got.status.as_str(), attempts.len()), ("failed", 1), "{db}: untouched");

        // Deleting the subscription takes its deliveries and their waiting jobs with it.
        let waiting = deliver(&*store, &a, &sub.id, "b").await;
        assert!(store.job_for_target(waiting.as_str()).await.unwrap().is_some(), "{db}");
        assert!(store.delete_subscription(&a, &sub.id).await.unwrap(), "{db}");
        assert!(store.get_delivery(&a, &d).await.unwrap().is_none(), "{db}");
        assert!(store.job_for_target(waiting.as_str()).await.unwrap().is_none(), "{db}");
        assert!(store.delivery_work(&d).await.unwrap().is_none(), "{db}");
    })
    .await;
}
