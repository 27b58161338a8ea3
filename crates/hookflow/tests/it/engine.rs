//! The step engine end to end: real ingest, real workers, the journal read
//! back through the API, on every configured database.

use std::str::FromStr;

use reqwest::Method;
use serde_json::{json, Value};

use crate::utils::{eventually, journal_step, on_every_database, post_event, settled};

const ORDER_FLOW: &str = r#"{"steps": [
  {"id": "paid", "type": "filter", "match": "all", "conditions": [
    {"left": "{{ event.body.order.status }}", "op": "equals", "right": "paid"}]},
  {"id": "when", "type": "formatter", "kind": "datetime", "operation": "format",
   "input": "{{ event.body.order.created_at }}", "format": "%d %b %Y %H:%M", "timezone": "Asia/Kolkata"},
  {"id": "each", "type": "iterator", "over": "{{ event.body.order.line_items }}", "steps": [
    {"id": "line", "type": "formatter", "kind": "math", "expression": "{{ item.quantity }} * {{ item.price }}"}]},
  {"id": "orders", "type": "storage", "operation": "increment", "key": "orders_paid", "by": 1}
]}"#;

#[tokio::test]
async fn filter_datetime_iterator_storage_runs_with_its_journal() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let c = s.create_connector(&token, json!({"name": "Orders"})).await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        let doc: Value = serde_json::from_str(ORDER_FLOW).unwrap();
        assert_eq!(s.put_config(&token, id, &doc).await.status(), 200, "{db}");

        let order = json!({"order": {"id": 1001, "status": "paid", "created_at": "2026-11-22T04:30:00Z",
            "line_items": [{"sku": "A", "quantity": 2, "price": 9.5}, {"sku": "B", "quantity": 3, "price": 10}]}});
        let first = settled(&s, &token, &post_event(&s, url, order.clone()).await).await;
        assert_eq!(first["status"], "succeeded", "{db}: {first}");
        let exe = &first["execution"];
        assert_eq!(
            (exe["status"].as_str(), exe["config_version"].as_i64()),
            (Some("succeeded"), Some(2)),
            "{db}"
        );
        let keys: Vec<&str> = exe["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["paid", "when", "each", "each[0].line", "each[1].line", "orders"],
            "{db}: a parent before its nested steps"
        );
        assert_eq!(journal_step(&first, "paid")["output"], json!({"passed": true}));
        assert_eq!(
            journal_step(&first, "when")["output"]["value"],
            "22 Nov 2026 10:00",
            "{db}"
        );
        assert_eq!(
            journal_step(&first, "each")["output"],
            json!([{"line": {"value": 19}}, {"line": {"value": 30}}]),
            "{db}"
        );
        assert_eq!(journal_step(&first, "orders")["output"], json!({"value": 1}), "{db}");
        assert_eq!(
            journal_step(&first, "when")["input"]["input"],
            "2026-11-22T04:30:00Z",
            "{db}: the rendered input is kept"
        );
        assert!(
            journal_step(&first, "when")["duration_ms"].is_i64()
                && journal_step(&first, "when")["started_at"].is_string()
        );

        let second = settled(&s, &token, &post_event(&s, url, order).await).await;
        assert_eq!(journal_step(&second, "orders")["output"], json!({"value": 2}), "{db}");
        let refunded = json!({"order": {"id": 1002, "status": "refunded"}});
        let third = settled(&s, &token, &post_event(&s, url, refunded).await).await;
        assert_eq!(third["status"], "filtered", "{db}");
        assert_eq!(
            third["execution"]["steps"].as_array().unwrap().len(),
            1,
            "{db}: nothing ran after the filter"
        );

        // The execution is also readable on its own.
        let exe_id = first["execution_id"].as_str().unwrap();
        let alone = s.get_json(&format!("/executions/{exe_id}"), &token).await;
        assert_eq!(alone, first["execution"], "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn twenty_concurrent_increments_end_at_twenty() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let c = s
            .create_connector(
                &token,
                json!({"name": "Count", "config": {"steps": [
            {"id": "n", "type": "formatter", "kind": "counter", "name": "seen"}]}}),
            )
            .await;
        let url = c["url"].as_str().unwrap().to_owned();
        let posts = (0..20).map(|i| {
            let (client, url) = (s.client.clone(), url.clone());
            async move {
                let r = client.post(&url).json(&json!({"i": i})).send().await.unwrap();
                r.json::<Value>().await.unwrap()["event_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        });
        let ids = futures::future::join_all(posts).await;
        let mut values = Vec::new();
        for id in ids {
            let e = settled(&s, &token, &id).await;
            values.push(journal_step(&e, "n")["output"]["value"].as_i64().unwrap());
        }
        values.sort_unstable();
        assert_eq!(
            values,
            (1..=20).collect::<Vec<_>>(),
            "{db}: every increment saw its own count"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_delay_waits_then_resumes() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let c = s
            .create_connector(
                &token,
                json!({"name": "Later", "config": {"steps": [
            {"id": "before", "type": "storage", "operation": "increment", "key": "before"},
            {"id": "wait", "type": "delay", "for": "2s"},
            {"id": "after", "type": "storage", "operation": "increment", "key": "after"}]}}),
            )
            .await;
        let id = post_event(&s, c["url"].as_str().unwrap(), json!({})).await;
        let waiting = eventually(10, || async {
            let e = s.get_json(&format!("/events/{id}"), &token).await;
            (e["status"] == "waiting").then_some(e)
        })
        .await;
        let wait = journal_step(&waiting, "wait");
        assert_eq!(wait["status"], "waiting", "{db}");
        let until = wait["output"]["until"].as_str().unwrap().to_owned();
        let done = settled(&s, &token, &id).await;
        assert_eq!(done["status"], "succeeded", "{db}");
        let after = journal_step(&done, "after");
        assert!(
            after["started_at"].as_str().unwrap() >= until.as_str(),
            "{db}: ran before its time"
        );
        // On an idle node a due job starts within a second of its due time.
        let due = jiff::Timestamp::from_str(&until).unwrap();
        let started = jiff::Timestamp::from_str(after["started_at"].as_str().unwrap()).unwrap();
        let late = started.duration_since(due);
        assert!(
            late < jiff::SignedDuration::from_secs(1),
            "{db}: started {late:?} after it was due"
        );
        assert_eq!(
            (
                journal_step(&done, "before")["output"]["value"].as_i64(),
                after["output"]["value"].as_i64()
            ),
            (Some(1), Some(1))
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn replay_runs_a_logged_event_again() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let c = s
            .create_connector(
                &token,
                json!({"name": "Count", "config": {"steps": [
            {"id": "n", "type": "storage", "operation": "increment", "key": "runs"}]}}),
            )
            .await;
        let (cid, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        let id = post_event(&s, url, json!({"x": 1})).await;
        let first = settled(&s, &token, &id).await;
        let doc = json!({"steps": [{"id": "n", "type": "storage", "operation": "increment", "key": "runs", "by": 10}]});
        assert_eq!(s.put_config(&token, cid, &doc).await.status(), 200);

        let r = s
            .api(Method::POST, &format!("/events/{id}/replay"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{db}");
        let replay: Value = r.json().await.unwrap();
        assert_ne!(replay["execution_id"], first["execution_id"], "{db}");
        assert_eq!(replay["config_version"], 2, "{db}: the current version by default");
        let again = eventually(20, || async {
            let e = s.get_json(&format!("/events/{id}"), &token).await;
            (e["execution_id"] == replay["execution_id"] && e["status"] == "succeeded").then_some(e)
        })
        .await;
        assert_eq!(journal_step(&again, "n")["output"]["value"], 11, "{db}");

        let r = s
            .api(Method::POST, &format!("/events/{id}/replay?version=1"), &token)
            .send()
            .await
            .unwrap();
        let old: Value = r.json().await.unwrap();
        assert_eq!(old["config_version"], 1, "{db}");
        let r = s
            .api(Method::POST, &format!("/events/{id}/replay?version=99"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn stats_match_a_mixed_batch() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let c = s.create_connector(&token, json!({"name": "Mixed", "config": {"steps": [
            {"id": "keep", "type": "filter", "conditions": [{"left": "{{ event.body.kind }}", "op": "not_equals", "right": "skip"}]},
            {"id": "calc", "type": "formatter", "kind": "math", "expression": "{{ event.body.n }} * 2"}]}})).await;
        let (cid, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        let mut ids = Vec::new();
        for (kind, n) in [("ok", "1"), ("ok", "2"), ("skip", "3"), ("ok", "x"), ("skip", "4"), ("ok", "5"), ("ok", "y")] {
            ids.push(post_event(&s, url, json!({"kind": kind, "n": n})).await);
        }
        s.client.post(url).header("content-type", "application/json").body("{broken").send().await.unwrap();
        let mut seen = std::collections::BTreeMap::new();
        for id in &ids {
            let e = settled(&s, &token, id).await;
            *seen.entry(e["status"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
        assert_eq!(seen, [("failed".to_owned(), 2), ("filtered".to_owned(), 2), ("succeeded".to_owned(), 3)].into(), "{db}");
        let stats = s.get_json(&format!("/connectors/{cid}/stats"), &token).await;
        assert_eq!(stats["lifetime"], json!({"received": 8, "succeeded": 3, "failed": 2, "filtered": 2, "rejected": 1}), "{db}");
        let failed = s.get_json(&format!("/connectors/{cid}/events?status=failed"), &token).await;
        let one = s.get_json(&format!("/events/{}", failed["data"][0]["id"].as_str().unwrap()), &token).await;
        assert!(one["execution"]["error"].as_str().unwrap().starts_with("step `calc`:"), "{db}: {one}");
        s.stop().await;
    })
    .await;
}
