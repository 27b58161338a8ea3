//! Outbound event webhooks against real receivers on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hookflow_test_support::TestDatabase;
use reqwest::Method;
use serde_json::{json, Value};

use crate::peer::{Peer, Recorded, Reply};
use crate::utils::{eventually, on_every_database, problem, TestServer};

async fn subscribe(s: &TestServer, token: &str, body: Value) -> Value {
    let r = s
        .api(Method::POST, "/subscriptions", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn ingest(s: &TestServer, url: &str, body: Value) -> String {
    let r = s.client.post(url).json(&body).send().await.unwrap();
    r.json::<Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn verify(secret: &str, r: &Recorded) -> Value {
    let (id, ts, sig) = (
        r.header("webhook-id").unwrap(),
        r.header("webhook-timestamp").unwrap(),
        r.header("webhook-signature").unwrap(),
    );
    let now = jiff::Timestamp::now().as_second();
    hookflow_delivery::signing::verify(secret, id, ts.parse().unwrap(), &r.body, sig, now, 300)
        .expect("a valid signature");
    r.json()
}

/// A server whose deliveries retry quickly.
async fn quick_server(db: TestDatabase, schedule: &str, timeout: Duration) -> TestServer {
    let schedule: Vec<Duration> = schedule
        .split(',')
        .map(|d| hookflow_core::retry::parse_duration(d).unwrap())
        .collect();
    TestServer::start_with(Arc::new(db), |c| {
        c.delivery.schedule = schedule;
        c.delivery.timeout = timeout;
    })
    .await
}

#[tokio::test]
async fn subscriptions_show_their_secret_once() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let sub = subscribe(
            &s,
            &token,
            json!({"url": "https://crm.example/hooks/hookflow", "event_types": ["execution.*", "contact.created"],
            "headers": {"X-Api-Key": "abc"}, "extra_fields": {"campaignId": "13010"}, "description": "CRM sync"}),
        )
        .await;
        let id = sub["id"].as_str().unwrap();
        assert!(id.starts_with("sub_"), "{db}");
        let secret = sub["secret"].as_str().unwrap().to_owned();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32, "{db}: whsec_ + base64 of 32 random bytes");
        let mut seen = s
            .api(Method::GET, "/subscriptions", &token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        seen.push_str(
            &s.api(Method::GET, &format!("/subscriptions/{id}"), &token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        let r = s
            .api(Method::PATCH, &format!("/subscriptions/{id}"), &token)
            .json(&json!({"description": "renamed"}))
            .send()
            .await
            .unwrap();
        seen.push_str(&r.text().await.unwrap());
        assert!(
            !seen.contains(&secret) && !seen.contains("whsec_"),
            "{db}: the secret was shown again: {seen}"
        );
        let rotated: Value = s
            .api(Method::POST, &format!("/subscriptions/{id}/rotate-secret"), &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            rotated["secret"].as_str().unwrap().starts_with("whsec_") && rotated["secret"] != sub["secret"],
            "{db}"
        );

        let bad = problem(
            s.api(Method::POST, "/subscriptions", &token)
                .json(&json!({"url": "ftp://x", "event_types": ["order.shipped"],
            "connector_ids": ["con_nope"], "headers": {"webhook-id": "x"}, "extra_fields": {"data": 1}}))
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
        let paths: Vec<&str> = bad["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "url",
                "event_types[0]",
                "connector_ids[0]",
                "headers.webhook-id",
                "extra_fields.data"
            ],
            "{db}: {bad}"
        );
        let types = s.get_json("/event-types", &token).await;
        let names: Vec<&str> = types["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        for name in [
            "event.received",
            "event.rejected",
            "execution.succeeded",
            "execution.failed",
            "execution.filtered",
            "contact.created",
            "contact.updated",
            "contact.tagged",
            "subscription.disabled",
            "custom.*",
        ] {
            assert!(names.contains(&name), "{db}: {name} is missing from the catalog");
        }
        let other = s.workspace("other").await;
        problem(
            s.api(Method::GET, &format!("/subscriptions/{id}"), &other)
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        assert_eq!(
            s.api(Method::DELETE, &format!("/subscriptions/{id}"), &token)
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn subscription_urls_and_headers_are_checked() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let refused = |url: &str, headers: Value| {
            let body = json!({"url": url, "event_types": ["*"], "headers": headers});
            s.api(Method::POST, "/subscriptions", &token).json(&body).send()
        };
        for url in ["https://", "https://:443/hooks", "crm.example/hooks", "https://crm.example/\r\nX-Injected: 1"] {
            let bad = problem(refused(url, json!({})).await.unwrap(), 400).await;
            assert_eq!(bad["errors"][0]["path"], "url", "{db}: {url}: {bad}");
        }
        let headers = json!({
            "X-Ok": "a\r\nX-Injected: 1", "": "empty", "Host": "internal.example", "Transfer-Encoding": "chunked",
            "Content-Length": "0", "Connection": "close", "Keep-Alive": "5", "Proxy-Authorization": "x", "TE": "trailers",
            "Trailer": "x", "Upgrade": "h2c", "X Bad": "name"});
        let bad = problem(refused("https://crm.example/hooks", headers).await.unwrap(), 400).await;
        let paths: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "headers.X-Ok",
                "headers.",
                "headers.Host",
                "headers.Transfer-Encoding",
                "headers.Content-Length",
                "headers.Connection",
                "headers.Keep-Alive",
                "headers.Proxy-Authorization",
                "headers.TE",
                "headers.Trailer",
                "headers.Upgrade",
                "headers.X Bad"
            ],
            "{db}: {bad}"
        );
        let fine = refused("https://crm.example/hooks", json!({"X-Api-Key": "abc"})).await.unwrap();
        assert_eq!(fine.status(), 201, "{db}");
        let id = fine.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let patch = json!({"headers": {"Host": "internal.example"}});
        let r = s.api(Method::PATCH, &format!("/subscriptions/{id}"), &token).json(&patch).send().await.unwrap();
        assert_eq!(problem(r, 400).await["errors"][0]["path"], "headers.Host", "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn deliveries_are_signed_with_custom_headers_and_extra_fields() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let mut rx = Peer::start(Reply::status(204)).await;
        let c = s.create_connector(&token, json!({"name": "Orders", "config": {"steps": [
            {"id": "tell", "type": "emit_event", "event_type": "order_paid", "data": {"order": "{{ event.body.order }}", "total": "{{ event.body.total }}"}}]}})).await;
        let sub = subscribe(&s, &token, json!({"url": format!("{}/hooks", rx.base), "event_types": ["execution.*", "custom.*"],
            "headers": {"X-Api-Key": "abc"}, "extra_fields": {"campaignId": "13010"}})).await;
        let secret = sub["secret"].as_str().unwrap();
        let event = ingest(&s, c["url"].as_str().unwrap(), json!({"order": 1001, "total": 250})).await;
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let got = rx.next(10).await;
            assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/hooks"), "{db}");
            assert_eq!(got.header("x-api-key"), Some("abc"), "{db}");
            assert_eq!(got.header("content-type"), Some("application/json"), "{db}");
            assert!(got.header("webhook-id").unwrap().starts_with("msg_"), "{db}");
            bodies.push(verify(secret, &got));
        }
        bodies.sort_by_key(|b| b["type"].as_str().unwrap().to_owned());
        let (custom, done) = (&bodies[0], &bodies[1]);
        assert_eq!((custom["type"].as_str(), &custom["data"]), (Some("custom.order_paid"), &json!({"order": 1001, "total": 250})), "{db}");
        assert_eq!(custom["campaignId"], "13010", "{db}: extra fields are merged at the top level");
        assert_eq!((done["type"].as_str(), done["data"]["event_id"].as_str()), (Some("execution.succeeded"), Some(event.as_str())), "{db}");
        assert!(done["timestamp"].as_str().unwrap().ends_with('Z'), "{db}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(rx.drain().is_empty(), "{db}: event.received was delivered though not subscribed");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn retries_follow_the_schedule_and_keep_the_webhook_id() {
    for db in TestDatabase::all().await {
        let label = db.label;
        let s = quick_server(db, "300ms,600ms,1s", Duration::from_millis(700)).await;
        let token = s.workspace("shop").await;
        let mut rx = Peer::start(Reply::status(200)).await;
        let slow = Reply {
            delay: Duration::from_secs(2),
            ..Reply::status(200)
        };
        rx.script(vec![Reply::status(500), slow]);
        let sub = subscribe(&s, &token, json!({"url": rx.base, "event_types": ["event.received"]})).await;
        let c = s.create_connector(&token, json!({"name": "In"})).await;
        ingest(&s, c["url"].as_str().unwrap(), json!({})).await;
        let calls = [rx.next(10).await, rx.next(10).await, rx.next(10).await];
        let ids: Vec<&str> = calls.iter().map(|c| c.header("webhook-id").unwrap()).collect();
        assert!(
            ids.iter().all(|i| *i == ids[0]),
            "{label}: the webhook-id changed between attempts"
        );
        let gap = |a: &Recorded, b: &Recorded| b.at.duration_since(a.at);
        assert!(
            gap(&calls[0], &calls[1]) >= Duration::from_millis(240),
            "{label}: the first retry came too soon"
        );
        assert!(
            gap(&calls[1], &calls[2]) >= Duration::from_millis(700 + 480),
            "{label}: the retry after a timeout came too soon"
        );
        let sid = sub["id"].as_str().unwrap();
        let delivery = eventually(10, || async {
            let list = s.get_json(&format!("/subscriptions/{sid}/deliveries"), &token).await;
            let d = list["data"][0].clone();
            (d["status"] == "delivered").then_some(d)
        })
        .await;
        let full = s
            .get_json(&format!("/deliveries/{}", delivery["id"].as_str().unwrap()), &token)
            .await;
        let log = full["attempt_log"].as_array().unwrap();
        let codes: Vec<Value> = log.iter().map(|a| a["status_code"].clone()).collect();
        assert_eq!(codes, [json!(500), Value::Null, json!(200)], "{label}: {full}");
        assert!(
            log[1]["error"].as_str().unwrap().contains("timed out"),
            "{label}: {}",
            log[1]
        );
        assert_eq!(full["attempts"], 3, "{label}");
        s.stop().await;
    }
}

#[tokio::test]
async fn gone_disables_the_subscription_at_once_and_says_so() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let mut gone = Peer::start(Reply::status(410)).await;
        let mut watcher = Peer::start(Reply::status(200)).await;
        let sub = subscribe(&s, &token, json!({"url": gone.base, "event_types": ["event.received"]})).await;
        subscribe(
            &s,
            &token,
            json!({"url": watcher.base, "event_types": ["subscription.disabled"]}),
        )
        .await;
        let c = s.create_connector(&token, json!({"name": "In"})).await;
        ingest(&s, c["url"].as_str().unwrap(), json!({})).await;
        gone.next(10).await;
        let told = watcher.next(10).await.json();
        assert_eq!(
            (told["type"].as_str(), told["data"]["subscription_id"].as_str()),
            (Some("subscription.disabled"), sub["id"].as_str()),
            "{db}"
        );
        assert_eq!(told["data"]["reason"], "the endpoint answered 410 Gone", "{db}");
        let now = s
            .get_json(&format!("/subscriptions/{}", sub["id"].as_str().unwrap()), &token)
            .await;
        assert_eq!(
            (now["enabled"].as_bool(), now["disabled_reason"].as_str()),
            (Some(false), Some("the endpoint answered 410 Gone")),
            "{db}"
        );
        ingest(&s, c["url"].as_str().unwrap(), json!({})).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            gone.drain().is_empty(),
            "{db}: a disabled subscription still got deliveries"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_slow_subscriber_does_not_delay_a_fast_one() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let slow = Peer::start(Reply {
            delay: Duration::from_secs(10),
            ..Reply::status(200)
        })
        .await;
        let mut fast = Peer::start(Reply::status(200)).await;
        subscribe(&s, &token, json!({"url": slow.base, "event_types": ["event.received"]})).await;
        subscribe(&s, &token, json!({"url": fast.base, "event_types": ["event.received"]})).await;
        let c = s.create_connector(&token, json!({"name": "In"})).await;
        let started = tokio::time::Instant::now();
        for i in 0..20 {
            ingest(&s, c["url"].as_str().unwrap(), json!({"i": i})).await;
        }
        for _ in 0..20 {
            fast.next(5).await;
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "{db}: the fast subscriber waited {took:?} behind the slow one"
        );
        drop(slow);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn test_sends_manual_retries_and_recovery() {
    for db in TestDatabase::all().await {
        let label = db.label;
        let s = quick_server(db, "200ms", Duration::from_secs(2)).await;
        let token = s.workspace("shop").await;
        let mut rx = Peer::start(Reply::status(500)).await;
        let sub = subscribe(&s, &token, json!({"url": rx.base, "event_types": ["event.received"]})).await;
        let sid = sub["id"].as_str().unwrap();
        let r = s
            .api(Method::POST, &format!("/subscriptions/{sid}/test"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{label}");
        let test = rx.next(10).await.json();
        assert_eq!(test["type"], "subscription.test", "{label}");
        // It fails twice (one retry in this schedule) and stays failed.
        rx.next(10).await;
        let failed = eventually(10, || async {
            let list = s
                .get_json(&format!("/subscriptions/{sid}/deliveries?status=failed"), &token)
                .await;
            list["data"].as_array().unwrap().first().cloned()
        })
        .await;
        let did = failed["id"].as_str().unwrap();
        rx.script(vec![Reply::status(200)]);
        let r = s
            .api(Method::POST, &format!("/deliveries/{did}/retry"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{label}");
        rx.next(10).await;
        eventually(10, || async {
            (s.get_json(&format!("/deliveries/{did}"), &token).await["status"] == "delivered").then_some(())
        })
        .await;
        rx.script(vec![Reply::status(200)]);
        let again = s
            .api(Method::POST, &format!("/deliveries/{did}/retry"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 202, "{label}: a delivered delivery can be sent again");
        rx.next(10).await;

        // Two more failures, then recover sends both again.
        let c = s.create_connector(&token, json!({"name": "In"})).await;
        let since = jiff::Timestamp::now().to_string();
        for _ in 0..2 {
            ingest(&s, c["url"].as_str().unwrap(), json!({})).await;
        }
        eventually(15, || async {
            let list = s
                .get_json(&format!("/subscriptions/{sid}/deliveries?status=failed"), &token)
                .await;
            (list["data"].as_array().unwrap().len() == 2).then_some(())
        })
        .await;
        rx.drain();
        rx.script(vec![Reply::status(200), Reply::status(200)]);
        let r: Value = s
            .api(
                Method::POST,
                &format!("/subscriptions/{sid}/recover?since={since}"),
                &token,
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["queued"], 2, "{label}");
        rx.next(10).await;
        rx.next(10).await;
        problem(
            s.api(
                Method::POST,
                &format!("/subscriptions/{sid}/recover?since=yesterday"),
                &token,
            )
            .send()
            .await
            .unwrap(),
            400,
        )
        .await;
        s.stop().await;
    }
}

/// The independent verifier from PyPI checks captured deliveries, during a secret rotation too.
#[tokio::test]
async fn the_standardwebhooks_library_verifies_deliveries() {
    let Ok(python) = std::env::var("HOOKFLOW_TEST_PYTHON") else {
        eprintln!("HOOKFLOW_TEST_PYTHON is not set: the standardwebhooks verification is skipped");
        return;
    };
    let s = TestServer::start(Arc::new(TestDatabase::sqlite())).await;
    let token = s.workspace("shop").await;
    let mut rx = Peer::start(Reply::status(200)).await;
    let sub = subscribe(
        &s,
        &token,
        json!({"url": rx.base, "event_types": ["event.received"], "extra_fields": {"campaignId": "13010"}}),
    )
    .await;
    let old = sub["secret"].as_str().unwrap().to_owned();
    let c = s.create_connector(&token, json!({"name": "In"})).await;
    let url = c["url"].as_str().unwrap().to_owned();
    let mut captured = Vec::new();
    let capture = |r: &Recorded, secrets: &[&str]| {
        let headers: serde_json::Map<String, Value> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|h| ((*h).to_owned(), json!(r.header(h).unwrap())))
            .collect();
        json!({"secrets": secrets, "headers": headers, "body": String::from_utf8(r.body.clone()).unwrap()})
    };
    ingest(&s, &url, json!({"before": "rotation"})).await;
    captured.push(capture(&rx.next(10).await, &[&old]));
    let rotated: Value = s
        .api(
            Method::POST,
            &format!("/subscriptions/{}/rotate-secret", sub["id"].as_str().unwrap()),
            &token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    ingest(&s, &url, json!({"during": "rotation"})).await;
    let during = rx.next(10).await;
    assert_eq!(
        during.header("webhook-signature").unwrap().split(' ').count(),
        2,
        "both secrets sign during a rotation"
    );
    captured.push(capture(&during, &[&old, &new]));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&captured).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify_standardwebhooks.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(file.path())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the verifier refused a delivery:\n{report}");
    assert!(report.contains("3 signatures verified"), "{report}");
    s.stop().await;
}

/// A subscription whose deliveries keep failing past the configured time is
/// disabled, and the others hear of it.
#[tokio::test]
async fn a_subscription_failing_too_long_is_disabled() {
    for db in TestDatabase::all().await {
        let label = db.label;
        let schedule: Vec<Duration> = vec![Duration::from_millis(300); 8];
        let s = TestServer::start_with(Arc::new(db), |c| {
            c.delivery.schedule = schedule;
            c.delivery.disable_after = Duration::from_millis(800);
        })
        .await;
        let token = s.workspace("shop").await;
        let failing = Peer::start(Reply::status(500)).await;
        let mut watcher = Peer::start(Reply::status(200)).await;
        let sub = subscribe(
            &s,
            &token,
            json!({"url": failing.base, "event_types": ["event.received"]}),
        )
        .await;
        subscribe(
            &s,
            &token,
            json!({"url": watcher.base, "event_types": ["subscription.disabled"]}),
        )
        .await;
        let c = s.create_connector(&token, json!({"name": "In"})).await;
        ingest(&s, c["url"].as_str().unwrap(), json!({})).await;
        let told = watcher.next(15).await.json();
        assert_eq!(told["data"]["subscription_id"], sub["id"], "{label}");
        assert!(
            told["data"]["reason"]
                .as_str()
                .unwrap()
                .starts_with("every delivery failed for"),
            "{label}: {told}"
        );
        let now = s
            .get_json(&format!("/subscriptions/{}", sub["id"].as_str().unwrap()), &token)
            .await;
        assert_eq!(now["enabled"], false, "{label}");
        // Turning it on again clears the reason.
        let r = s
            .api(
                Method::PATCH,
                &format!("/subscriptions/{}", sub["id"].as_str().unwrap()),
                &token,
            )
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap();
        let back: Value = r.json().await.unwrap();
        assert_eq!(
            (back["enabled"].as_bool(), &back["disabled_reason"]),
            (Some(true), &Value::Null),
            "{label}"
        );
        s.stop().await;
    }
}
