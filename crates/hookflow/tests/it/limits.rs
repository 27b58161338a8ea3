//! Payload limits end to end: what ingest accepts can be read and run by everything after it,
//! what it refuses is answered 400 and logged `rejected`, a stored body that cannot be read back
//! fails its execution once, and large bodies parse without holding up other requests.

use hookflow_engine::store::{Ingest, Queue};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookflow_core::{ConnectorId, EventId, EventStatus, ExecutionId, JobState, Timestamp, WorkspaceId};
use hookflow_engine::intake::{BodyKind, Parsed};
use hookflow_engine::store::NewEvent;
use hookflow_test_support::TestDatabase;
use reqwest::Method;
use serde_json::{json, Value};

use crate::utils::{on_every_database, problem, settled, TestServer};

/// `levels` objects inside each other around `inner`: `{"a": {"a": ... inner}}`.
fn nested(levels: usize, inner: Value) -> Value {
    (0..levels).fold(inner, |inner, _| json!({"a": inner}))
}

/// `elements` XML elements inside each other around a text.
fn xml_nested(elements: usize) -> String {
    format!("{}x{}", "<a>".repeat(elements), "</a>".repeat(elements))
}

/// Posts a body; answers the response.
async fn post(s: &TestServer, url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    let request = s.client.post(url).header("content-type", content_type).body(body);
    request.send().await.unwrap()
}

#[tokio::test]
async fn bodies_nested_too_deep_are_refused_and_logged_rejected() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Deep"})).await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        // The probe's bodies: accepted before, then unreadable once stored.
        let json_body = nested(127, json!(1)).to_string();
        let refused = [
            ("application/json", json_body.clone()),
            ("application/xml", xml_nested(128)),
        ];
        for (content_type, body) in refused {
            let answer = problem(post(&s, url, content_type, body.clone()).await, 400).await;
            assert_eq!(
                answer["detail"], "the body is nested deeper than 64 levels",
                "{db}: {content_type}"
            );
            let e = s
                .get_json(&format!("/events/{}", answer["event_id"].as_str().unwrap()), &token)
                .await;
            assert_eq!(
                (e["status"].as_str(), e["raw_body"].as_str(), &e["execution_id"]),
                (Some("rejected"), Some(body.as_str()), &Value::Null),
                "{db}: {content_type}"
            );
        }
        let rejected = s
            .get_json(&format!("/connectors/{id}/events?status=rejected"), &token)
            .await;
        assert_eq!(rejected["data"].as_array().unwrap().len(), 2, "{db}");
        let stats = s.get_json(&format!("/connectors/{id}/stats"), &token).await;
        assert_eq!(stats["lifetime"]["rejected"], 2, "{db}: {stats}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_body_at_the_limit_is_read_run_journaled_and_replayed() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        // The whole body goes into the journal and workspace storage, one level deeper there.
        let config = json!({"ordering": {"key": "{{ event.body.a.a }}"}, "steps": [
            {"id": "keep", "type": "storage", "operation": "set", "key": "last", "value": "{{ event.body }}"}]});
        let c = s
            .create_connector(&token, json!({"name": "Deep", "config": config}))
            .await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        let bodies = [
            (
                "application/json",
                nested(64, json!(1)).to_string(),
                nested(64, json!(1)),
            ),
            ("application/xml", xml_nested(64), nested(64, json!("x"))),
        ];
        for (content_type, body, understood) in bodies {
            let r = post(&s, url, content_type, body).await;
            assert_eq!(r.status(), 200, "{db}: {content_type}");
            let event_id = r.json::<Value>().await.unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned();
            let e = settled(&s, &token, &event_id).await;
            assert_eq!(
                (e["status"].as_str(), &e["body"]),
                (Some("succeeded"), &understood),
                "{db}: {content_type}"
            );
            let keep = &e["execution"]["steps"][0];
            assert_eq!(keep["output"]["value"], understood, "{db}: {content_type}");

            let r = s
                .api(Method::POST, &format!("/events/{event_id}/replay"), &token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "{db}: {content_type}");
            let replay: Value = r.json().await.unwrap();
            let e = crate::utils::eventually(30, || async {
                let e = s.get_json(&format!("/events/{event_id}"), &token).await;
                (e["execution_id"] == replay["execution_id"] && e["status"] == "succeeded").then_some(e)
            })
            .await;
            assert_eq!(
                e["execution"]["steps"][0]["output"]["value"], understood,
                "{db}: {content_type}"
            );
        }
        let all = s.get_json(&format!("/connectors/{id}/events"), &token).await;
        assert_eq!(all["data"].as_array().unwrap().len(), 2, "{db}");
        s.stop().await;
    })
    .await;
}

/// Writes an event the way ingest did before payload limits: its body 127 levels deep, which
/// the stored event wraps in one level more than serde_json reads back.
async fn store_unreadable_event(s: &TestServer, token: &str, connector: &Value, order: u64) -> NewEvent {
    let ws: WorkspaceId = s.get_json("/workspace", token).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let connector_id: ConnectorId = connector["id"].as_str().unwrap().parse().unwrap();
    let body = json!({"order": order, "deep": nested(126, json!(1))});
    let event = NewEvent {
        id: EventId::new(),
        workspace_id: ws,
        received_at: Timestamp::now(),
        status: EventStatus::Received,
        config_version: connector["version"].as_i64().unwrap(),
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        content_type: Some("application/json".into()),
        body: body.to_string().into_bytes(),
        parsed: Parsed {
            kind: Some(BodyKind::Json),
            body,
            ..Parsed::default()
        },
        error: None,
        execution: Some(ExecutionId::new()),
        nothing_to_run: false,
        capture_structure: false,
        order_group: Some(format!("order:{connector_id}:{order}")),
        connector_id,
    };
    let store = hookflow::open_store(&s.db.backend).await.unwrap();
    store.insert_events(std::slice::from_ref(&event)).await.unwrap();
    store.close().await;
    event
}

#[tokio::test]
async fn an_unreadable_stored_event_fails_its_execution_once_and_stays_readable() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let config = json!({"ordering": {"key": "{{ event.body.order }}"}, "steps": [
            {"id": "upper", "type": "formatter", "kind": "text", "operation": "upper", "input": "{{ event.id }}"}]});
        let c = s
            .create_connector(&token, json!({"name": "Old", "config": config}))
            .await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        let old = store_unreadable_event(&s, &token, &c, 7).await;
        // A later event of the same ordering key waits for the old one, then runs.
        let r = s.client.post(url).json(&json!({"order": 7})).send().await.unwrap();
        let later = r.json::<Value>().await.unwrap()["event_id"]
            .as_str()
            .unwrap()
            .to_owned();

        let e = settled(&s, &token, old.id.as_str()).await;
        assert_eq!(e["status"], "failed", "{db}: {e}");
        assert_eq!((&e["body"], &e["kind"]), (&Value::Null, &Value::Null), "{db}");
        let reason = e["body_error"].as_str().unwrap_or_default();
        assert!(reason.contains("recursion limit exceeded"), "{db}: {e}");
        assert_eq!(
            e["execution"]["error"].as_str(),
            Some(reason),
            "{db}: failed with the reason"
        );
        assert_eq!(e["raw_body"].as_str().map(str::len), Some(old.body.len()), "{db}");
        let store = hookflow::open_store(&s.db.backend).await.unwrap();
        let job = store
            .job_for_target(old.execution.as_ref().unwrap().as_str())
            .await
            .unwrap()
            .unwrap();
        store.close().await;
        assert_eq!(
            (job.state, job.attempts),
            (JobState::Done, 1),
            "{db}: run once, not retried"
        );

        let e = settled(&s, &token, &later).await;
        assert_eq!(e["status"], "succeeded", "{db}: the ordering key is free again");
        let page = s.get_json(&format!("/connectors/{id}/events"), &token).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 2, "{db}");
        let replay = s
            .api(Method::POST, &format!("/events/{}/replay", old.id), &token)
            .send()
            .await
            .unwrap();
        let answer = problem(replay, 409).await;
        assert!(
            answer["detail"].as_str().unwrap().contains("recursion limit"),
            "{db}: {answer}"
        );
        s.stop().await;
    })
    .await;
}

/// The slowest of `probes` requests to `/healthz`, one after another.
async fn slowest_health(s: &TestServer, probes: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..probes {
        let started = Instant::now();
        let r = s.client.get(format!("{}/healthz", s.url)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

/// A JSON array of small objects, `bytes` long, that is invalid at its very end: slow to parse
/// (every object is built before the error), and rejected, so nothing large is stored.
fn slow_body(bytes: usize) -> Vec<u8> {
    let item = br#"{"a":1},"#;
    let mut body = b"[".to_vec();
    while body.len() + item.len() < bytes {
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"x");
    body
}

/// The test runtime has one thread, shared by the server and this test: a body parsed on it
/// holds up every other request until it is done.
#[tokio::test]
async fn healthz_answers_while_two_large_bodies_parse() {
    let s = TestServer::start(Arc::new(TestDatabase::sqlite())).await;
    let token = s.workspace("acme").await;
    let c = s.create_connector(&token, json!({"name": "Large"})).await;
    let url = c["url"].as_str().unwrap().to_owned();
    let baseline = slowest_health(&s, 20).await;

    let body = slow_body(2 * 1024 * 1024);
    let started = Instant::now();
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let request = s
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone());
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let mut probes = Vec::new();
    while senders.iter().any(|sender| !sender.is_finished()) {
        probes.push(slowest_health(&s, 1).await);
    }
    let parsing = started.elapsed();
    for sender in senders {
        assert_eq!(sender.await.unwrap(), 400, "the large bodies are invalid at their end");
    }
    let slowest = probes.iter().max().copied().unwrap_or_default();
    assert!(
        probes.len() >= 5 && slowest <= parsing / 5,
        "{} probes while two bodies took {parsing:?}: the slowest {slowest:?} (at rest {baseline:?})",
        probes.len()
    );
    s.stop().await;
}

/// A step can make a value deeper than any body (a data parser reads 127 levels of JSON text):
/// the journal keeps it cut at the stored limit, so the event and its execution stay readable.
#[tokio::test]
async fn a_step_output_too_deep_for_the_journal_is_cut_and_the_event_stays_readable() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let config = json!({"steps": [
            {"id": "parse", "type": "formatter", "kind": "data_parser", "format": "json", "input": "{{ event.body.text }}"}]});
        let c = s.create_connector(&token, json!({"name": "Parser", "config": config})).await;
        let deep = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        let r = s.client.post(c["url"].as_str().unwrap()).json(&json!({"text": deep})).send().await.unwrap();
        assert_eq!(r.status(), 200, "{db}");
        let event_id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_owned();
        let e = settled(&s, &token, &event_id).await;
        let step = &e["execution"]["steps"][0];
        assert_eq!(step["status"], "succeeded", "{db}: {e}");
        assert!(step["error"].as_str().unwrap_or_default().contains("to 100 levels"), "{db}: {step}");
        assert!(step["output"].to_string().contains("[cut: nested too deep to keep]"), "{db}");
        let list = s.get_json(&format!("/connectors/{}/events", c["id"].as_str().unwrap()), &token).await;
        assert_eq!(list["data"][0]["id"], json!(event_id), "{db}: {list}");
        s.stop().await;
    })
    .await;
}

/// Executions whose templates compute for their whole time limit, and a simulation of one, do not
/// hold up `/healthz`: a render past 5 ms hands its thread's other tasks to another thread. On a
/// runtime of two threads, as in production; they used to hold HTTP for a second at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_templates_do_not_hold_up_http() {
    let s = TestServer::start(Arc::new(TestDatabase::sqlite())).await;
    let token = s.workspace("acme").await;
    let heavy =
        "{% set s = 'x' * 1000000 %}{% for i in range(100000) %}{% set y = s | replace('x', 'y') %}{% endfor %}";
    let steps = json!([
        {"id": "a", "type": "storage", "operation": "set", "key": "a", "value": heavy},
        {"id": "b", "type": "storage", "operation": "set", "key": "b", "value": heavy}]);
    let c = s
        .create_connector(&token, json!({"name": "Heavy", "config": {"steps": steps}}))
        .await;
    let baseline = slowest_health(&s, 20).await;
    let started = Instant::now();
    for _ in 0..3 {
        let r = s
            .client
            .post(c["url"].as_str().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let simulate = {
        let request = s
            .client
            .post(format!(
                "{}/api/v1/connectors/{}/simulate",
                s.url,
                c["id"].as_str().unwrap()
            ))
            .bearer_auth(&token)
            .json(&json!({"payload": {}}));
        tokio::spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap() })
    };
    // Probed from a thread of its own: a probe on the test runtime would not see the time the
    // runtime was held up before the probe started.
    let address = s.url.trim_start_matches("http://").to_owned();
    let probes = tokio::task::spawn_blocking(move || {
        let mut probes = Vec::new();
        while started.elapsed() < Duration::from_secs(3) {
            probes.push(blocking_health(&address));
            std::thread::sleep(Duration::from_millis(20));
        }
        probes
    })
    .await
    .unwrap();
    let slowest = probes.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_millis(300),
        "{} probes while templates computed for 1 s each: the slowest {slowest:?} (at rest {baseline:?})",
        probes.len()
    );
    let simulated = simulate.await.unwrap();
    assert_eq!(simulated["status"], "failed", "{simulated}");
    assert!(simulated.to_string().contains("time limit"), "{simulated}");
    s.stop().await;
}

/// One `GET /healthz` over a plain socket, timed; the answer must be 200.
fn blocking_health(address: &str) -> Duration {
    use std::io::{Read, Write};
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: hookflow\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    started.elapsed()
}
