//! Operating hookflow: roles, metrics, the queue and rate limits.

use std::collections::HashMap;
use std::sync::Arc;

use hookflow::Role;
use hookflow_test_support::TestDatabase;
use serde_json::json;
use tokio::time::Instant;

use crate::peer::{Peer, Reply};
use crate::utils::{eventually, on_every_database, post_event, problem, TestServer};

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics(s: &TestServer) -> String {
    let r = s.client.get(format!("{}/metrics", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_rate_limited_connector_answers_429_with_retry_after() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let c = s
            .create_connector(
                &token,
                json!({"name": "Limited", "config": {"rate_limit": {"requests": 2, "per": "10s"}, "steps": []}}),
            )
            .await;
        let url = c["url"].as_str().unwrap();
        for _ in 0..2 {
            assert_eq!(
                s.client.post(url).json(&json!({})).send().await.unwrap().status(),
                200,
                "{db}"
            );
        }
        let r = s.client.post(url).json(&json!({})).send().await.unwrap();
        let retry_after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry_after), "{db}: Retry-After {retry_after}");
        let body = problem(r, 429).await;
        assert!(
            body["detail"].as_str().unwrap().contains("at most 2 requests"),
            "{db}: {body}"
        );
        let text = metrics(&s).await;
        assert_eq!(
            metric(&text, "hookflow_ingest_requests_total{outcome=\"rate_limited\"}"),
            Some(1.0),
            "{db}"
        );
        let id = c["id"].as_str().unwrap();
        let bad = problem(
            s.put_config(&token, id, &json!({"rate_limit": {"requests": 0, "per": "forever"}}))
                .await,
            400,
        )
        .await;
        let paths: Vec<&str> = bad["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["rate_limit.requests", "rate_limit.per"], "{db}");
        s.stop().await;
    })
    .await;
}

/// With only an ingest node, events queue up (and the metric shows it);
/// a worker node on the same database drains them.
#[tokio::test]
async fn the_queue_grows_without_workers_and_drains_with_them() {
    for db in TestDatabase::all().await {
        let label = db.label;
        let db = Arc::new(db);
        let ingest = TestServer::start_with(db.clone(), |c| c.role = Role::Ingest).await;
        let token = ingest.workspace("shop").await;
        let c = ingest
            .create_connector(&token, json!({"name": "Queue", "config": crate::utils::one_step()}))
            .await;
        let url = c["url"].as_str().unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(post_event(&ingest, url, json!({"i": i})).await);
        }
        ingest
            .client
            .post(url)
            .header("content-type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap();
        let text = metrics(&ingest).await;
        assert_eq!(
            metric(&text, "hookflow_ingest_requests_total{outcome=\"accepted\"}"),
            Some(5.0),
            "{label}"
        );
        assert_eq!(
            metric(&text, "hookflow_ingest_requests_total{outcome=\"rejected\"}"),
            Some(1.0),
            "{label}"
        );
        assert_eq!(
            metric(&text, "hookflow_jobs{kind=\"execution\",state=\"queued\"}"),
            Some(5.0),
            "{label}: {text}"
        );
        assert!(
            metric(&text, "hookflow_oldest_due_job_age_seconds{kind=\"execution\"}").unwrap() >= 0.0,
            "{label}"
        );
        assert!(
            metric(&text, "hookflow_ingest_duration_seconds_count").unwrap() >= 6.0,
            "{label}"
        );

        let worker = TestServer::start_with(db.clone(), |c| c.role = Role::Worker).await;
        // A worker node takes no events.
        assert_eq!(
            worker
                .client
                .post(url.replace(&ingest.url, &worker.url))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status(),
            404,
            "{label}"
        );
        eventually(20, || async {
            let text = metrics(&ingest).await;
            let queued = metric(&text, "hookflow_jobs{kind=\"execution\",state=\"queued\"}");
            let running = metric(&text, "hookflow_jobs{kind=\"execution\",state=\"running\"}");
            (queued == Some(0.0) && running == Some(0.0)).then_some(())
        })
        .await;
        for id in &ids {
            let e = ingest.get_json(&format!("/events/{id}"), &token).await;
            assert_eq!(e["status"], "succeeded", "{label}");
        }
        let text = metrics(&worker).await;
        assert_eq!(
            metric(&text, "hookflow_executions_finished_total{status=\"succeeded\"}"),
            Some(5.0),
            "{label}"
        );
        worker.stop().await;
        ingest.stop().await;
    }
}

/// Old finished events are pruned in the background; unfinished ones and the stats stay.
#[tokio::test]
async fn old_data_is_pruned_but_unfinished_work_and_stats_stay() {
    for db in TestDatabase::all().await {
        let label = db.label;
        let s = TestServer::start_with(Arc::new(db), |c| {
            c.retention = Some(std::time::Duration::from_secs(1));
            c.retention_every = std::time::Duration::from_millis(200);
        })
        .await;
        let token = s.workspace("shop").await;
        let done = s.create_connector(&token, json!({"name": "Done"})).await;
        let later = s
            .create_connector(
                &token,
                json!({"name": "Later", "config": {"steps": [{"id": "wait", "type": "delay", "for": "1h"}]}}),
            )
            .await;
        let finished: Vec<String> =
            futures::future::join_all((0..3).map(|i| post_event(&s, done["url"].as_str().unwrap(), json!({"i": i}))))
                .await;
        let waiting = post_event(&s, later["url"].as_str().unwrap(), json!({})).await;
        eventually(20, || async {
            let mut gone = 0;
            for id in &finished {
                let r = s
                    .api(reqwest::Method::GET, &format!("/events/{id}"), &token)
                    .send()
                    .await
                    .unwrap();
                gone += usize::from(r.status() == 404);
            }
            (gone == finished.len()).then_some(())
        })
        .await;
        let e = s.get_json(&format!("/events/{waiting}"), &token).await;
        assert_eq!(e["status"], "waiting", "{label}: an unfinished execution was pruned");
        let stats = s
            .get_json(&format!("/connectors/{}/stats", done["id"].as_str().unwrap()), &token)
            .await;
        assert_eq!(
            (
                stats["lifetime"]["received"].as_i64(),
                stats["lifetime"]["succeeded"].as_i64()
            ),
            (Some(3), Some(3)),
            "{label}"
        );
        s.stop().await;
    }
}

/// On PostgreSQL, an event ingested on one node wakes the workers of another
/// at once (LISTEN/NOTIFY), not at their next poll.
#[tokio::test]
async fn work_queued_on_one_node_wakes_another() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let db = Arc::new(db);
    let worker = TestServer::start_with(db.clone(), |c| {
        c.role = Role::Worker;
        c.poll_interval = std::time::Duration::from_secs(30);
    })
    .await;
    let ingest = TestServer::start_with(db.clone(), |c| c.role = Role::Ingest).await;
    let token = ingest.workspace("shop").await;
    let c = ingest.create_connector(&token, json!({"name": "Fast"})).await;
    // Let the worker finish its first look and go idle.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let started = tokio::time::Instant::now();
    let id = post_event(&ingest, c["url"].as_str().unwrap(), json!({})).await;
    eventually(5, || async {
        (ingest.get_json(&format!("/events/{id}"), &token).await["status"] == "succeeded").then_some(())
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_millis(1500),
        "the other node took {took:?}: it waited for its poll"
    );
    ingest.stop().await;
    worker.stop().await;
}

/// Ordering by key: 200 events across 10 keys, sent one after another to a connector ordered by
/// `event.body.key`, calling a peer that answers in 100 ms (longer than ten events take to arrive). The peer sees each key's calls in
/// arrival order and never one before the previous call of its key was answered, while calls of
/// different keys overlap.
#[tokio::test]
async fn executions_of_one_ordering_key_run_one_at_a_time_in_arrival_order() {
    const DELAY: std::time::Duration = std::time::Duration::from_millis(100);
    const EVENTS: u64 = 200;
    on_every_database(|s, db| async move {
        let mut peer = Peer::start(Reply {
            delay: DELAY,
            ..Reply::json(200, json!({"ok": true}))
        })
        .await;
        let token = s.workspace("shop").await;
        let c = s
            .create_connector(
                &token,
                json!({"name": "Ordered", "config": {
                    "ordering": {"key": "{{ event.body.key }}"},
                    "steps": [{"id": "call", "type": "http_request", "method": "POST",
                        "url": format!("{}/call", peer.base),
                        "body": {"key": "{{ event.body.key }}", "n": "{{ event.body.n }}"}}]}}),
            )
            .await;
        let url = c["url"].as_str().unwrap();
        for n in 0..EVENTS {
            post_event(&s, url, json!({"key": format!("k{}", n % 10), "n": n})).await;
        }
        let mut calls = Vec::new();
        while calls.len() < EVENTS as usize {
            let r = peer.next(60).await;
            let body = r.json();
            calls.push((
                body["key"].as_str().unwrap().to_owned(),
                body["n"].as_u64().unwrap(),
                r.at,
            ));
        }
        let mut by_key: HashMap<&str, Vec<(u64, Instant)>> = HashMap::new();
        for (key, n, at) in &calls {
            by_key.entry(key).or_default().push((*n, *at));
        }
        assert_eq!(by_key.len(), 10, "{db}");
        for (key, list) in &by_key {
            let order: Vec<u64> = list.iter().map(|(n, _)| *n).collect();
            let expected: Vec<u64> = (0..EVENTS).filter(|n| format!("k{}", n % 10) == *key).collect();
            assert_eq!(order, expected, "{db}: the calls of {key} came out of arrival order");
            for pair in list.windows(2) {
                assert!(
                    pair[1].1 >= pair[0].1 + DELAY,
                    "{db}: a call of {key} began before the previous one was answered"
                );
            }
        }
        // Keys do not wait for each other: some calls of different keys were in flight together.
        let overlapping = calls
            .windows(2)
            .filter(|w| w[0].0 != w[1].0 && w[1].2 < w[0].2 + DELAY)
            .count();
        assert!(overlapping > 0, "{db}: calls of different keys never overlapped");

        // A key template that does not compile is refused with its path.
        let bad = problem(
            s.put_config(
                &token,
                c["id"].as_str().unwrap(),
                &json!({"ordering": {"key": "{{ event.body.key "}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(bad["errors"][0]["path"], "ordering.key", "{db}: {bad}");
        let bad = problem(
            s.put_config(&token, c["id"].as_str().unwrap(), &json!({"ordering": {"key": ""}}))
                .await,
            400,
        )
        .await;
        assert_eq!(bad["errors"][0]["path"], "ordering.key", "{db}: {bad}");
        s.stop().await;
    })
    .await;
}
