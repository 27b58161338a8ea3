use std::sync::Arc;

use base64::Engine;
use hookflow_test_support::TestDatabase;
use reqwest::Method;
use serde_json::{json, Value};

use crate::utils::{on_every_database, problem, TestServer};

/// Posts `body` with `content_type` and answers the stored event.
async fn roundtrip(s: &TestServer, token: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Value {
    let mut req = s.client.post(url).body(body.to_vec());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["status"], "accepted");
    s.get_json(&format!("/events/{}", answer["event_id"].as_str().unwrap()), token)
        .await
}

#[tokio::test]
async fn every_body_kind_is_kept_and_understood() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Any"})).await;
        let url = c["url"].as_str().unwrap();

        let e = roundtrip(&s, &token, url, Some("application/json"), br#"[1, {"a": "b"}]"#).await;
        assert_eq!((e["kind"].as_str(), &e["body"]), (Some("json"), &json!([1, {"a": "b"}])), "{db}");
        let e = roundtrip(&s, &token, url, Some("application/json"), b"42").await;
        assert_eq!(e["body"], 42, "{db}");
        let e = roundtrip(&s, &token, url, Some("application/x-www-form-urlencoded"), b"name=Ann+Lee&tag=a&tag=b&msg=caf%C3%A9").await;
        assert_eq!(e["body"], json!({"name": "Ann Lee", "tag": ["a", "b"], "msg": "café"}), "{db}");
        let multipart = b"--XX\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--XX--\r\n";
        let e = roundtrip(&s, &token, url, Some("multipart/form-data; boundary=XX"), multipart).await;
        assert_eq!(e["body"]["note"], "hello", "{db}");
        assert_eq!(e["body"]["file"]["filename"], "a.txt", "{db}");
        assert_eq!(e["body"]["file"]["size"], 9, "{db}");
        assert_eq!(e["files"][0]["sha256"].as_str().unwrap().len(), 64, "{db}");
        let e = roundtrip(&s, &token, url, Some("application/xml"), b"<order id=\"7\"><item>a</item><item>b</item></order>").await;
        assert_eq!(e["body"], json!({"order": {"@id": "7", "item": ["a", "b"]}}), "{db}");
        let e = roundtrip(&s, &token, url, Some("text/plain"), b"just words\n").await;
        assert_eq!((e["kind"].as_str(), e["body"].as_str()), (Some("text"), Some("just words\n")), "{db}");
        let e = roundtrip(&s, &token, url, Some("text/plain; charset=UTF-8"), br#"{"Type": "Notification"}"#).await;
        assert_eq!(e["body"]["Type"], "Notification", "{db}: JSON inside text/plain is parsed");
        let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2, 255];
        let e = roundtrip(&s, &token, url, Some("image/png"), &png).await;
        assert_eq!(e["body"], base64::engine::general_purpose::STANDARD.encode(png), "{db}");
        assert_eq!(e["raw_body"], Value::Null, "{db}: not UTF-8");
        let email = b"From: Ann <ann@example.com>\r\nTo: shop@example.com\r\nSubject: Order 7\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nWhere is my order?\r\n";
        let e = roundtrip(&s, &token, url, Some("message/rfc822"), email).await;
        assert_eq!((e["body"]["subject"].as_str(), e["body"]["from"]["email"].as_str()), (Some("Order 7"), Some("ann@example.com")), "{db}");

        // No body, only a query string: the query becomes the body (the seeds' query-string method).
        let r = s.client.get(format!("{url}?name=Ann&mobile=%2B15551234567")).send().await.unwrap();
        let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_owned();
        let e = s.get_json(&format!("/events/{id}"), &token).await;
        assert_eq!(e["body"], json!({"name": "Ann", "mobile": "+15551234567"}), "{db}");
        assert_eq!(e["custom_variables"], e["body"], "{db}");
        assert_eq!((e["method"].as_str(), e["kind"].as_str()), (Some("GET"), Some("empty")), "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn any_method_and_subpaths_are_received() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let url = s.create_connector(&token, json!({"name": "Any"})).await["url"]
            .as_str()
            .unwrap()
            .to_owned();
        for method in [Method::PUT, Method::PATCH, Method::DELETE, Method::GET] {
            let r = s
                .client
                .request(method.clone(), format!("{url}/deep/path?x=1"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{db}: {method}");
            let id = r.json::<Value>().await.unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned();
            let e = s.get_json(&format!("/events/{id}"), &token).await;
            assert_eq!(
                (e["method"].as_str(), e["path"].as_str(), e["query"].as_str()),
                (Some(method.as_str()), Some("/deep/path"), Some("x=1"))
            );
        }
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_response_map_answers_the_sender() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Bot", "config": {
            "response": {"status": 201, "content_type": "application/json",
                         "body": "{\"message-out\": \"Hi {{ event.body.name }}, you said {{ event.body['message-in'] }}\", \"ref\": \"{{ event.custom_variables.ref }}\", \"id\": \"{{ event.id }}\"}"},
            "steps": []}})).await;
        let url = c["url"].as_str().unwrap();
        let r = s.client.post(format!("{url}?ref=R9")).json(&json!({"name": "Ann", "message-in": "test"})).send().await.unwrap();
        assert_eq!(r.status(), 201, "{db}");
        assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
        let body: Value = r.json().await.unwrap();
        assert_eq!((body["message-out"].as_str(), body["ref"].as_str()), (Some("Hi Ann, you said test"), Some("R9")), "{db}");
        assert!(body["id"].as_str().unwrap().starts_with("evt_"), "{db}");
        let logged = s.get_json(&format!("/events/{}", body["id"].as_str().unwrap()), &token).await;
        assert_eq!(logged["body"]["name"], "Ann", "{db}");

        // Plain text and HTML answers, and a missing attribute renders empty.
        let id = c["id"].as_str().unwrap();
        let doc = json!({"response": {"status": 200, "content_type": "text/html", "body": "<p>ok {{ event.body.nope }}</p>"}, "steps": []});
        assert_eq!(s.put_config(&token, id, &doc).await.status(), 200);
        let r = s.client.post(url).json(&json!({})).send().await.unwrap();
        assert_eq!(r.headers().get("content-type").unwrap(), "text/html");
        assert_eq!(r.text().await.unwrap(), "<p>ok </p>", "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn limits_and_malformed_bodies() {
    for db in TestDatabase::all().await {
        let label = db.label;
        let s = TestServer::start_with(Arc::new(db), |c| c.max_body = 1024).await;
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Orders"})).await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());

        let body = problem(
            s.client
                .post(url)
                .json(&json!({"pad": "x".repeat(2000)}))
                .send()
                .await
                .unwrap(),
            413,
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains("1024"), "{label}: {body}");
        // Without a declared length (chunked), the limit holds too.
        let chunks = futures_chunks(3000);
        let r = s
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        problem(r, 413).await;

        // Invalid JSON: 400 with the position, and the request is still logged as rejected.
        let r = s
            .client
            .post(url)
            .header("content-type", "application/json")
            .body("{\n  \"a\": 1,\n  \"b\" 2\n}")
            .send()
            .await
            .unwrap();
        let body = problem(r, 400).await;
        assert!(
            body["detail"].as_str().unwrap().contains("line 3, column"),
            "{label}: {body}"
        );
        let event_id = body["event_id"].as_str().unwrap();
        let e = s.get_json(&format!("/events/{event_id}"), &token).await;
        assert_eq!(
            (e["status"].as_str(), e["raw_body"].as_str()),
            (Some("rejected"), Some("{\n  \"a\": 1,\n  \"b\" 2\n}")),
            "{label}"
        );
        assert_eq!(e["execution_id"], Value::Null, "{label}");
        let rejected = s
            .get_json(&format!("/connectors/{id}/events?status=rejected"), &token)
            .await;
        assert_eq!(rejected["data"].as_array().unwrap().len(), 1, "{label}");
        problem(
            s.api(Method::GET, &format!("/connectors/{id}/events?status=sleepy"), &token)
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;

        // Unknown tokens reveal nothing.
        let body = problem(
            s.client
                .post(format!("{}/hooks/not-a-real-token", s.url))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        assert_eq!(body["detail"], "no connector answers at this URL", "{label}");
        s.stop().await;
    }
}

fn futures_chunks(total: usize) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::iter((0..total / 100).map(|_| Ok(vec![b' '; 100])))
}

#[tokio::test]
async fn credentials_in_request_headers_are_masked_in_the_log() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let url = s.create_connector(&token, json!({"name": "Any"})).await["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = s
            .client
            .post(&url)
            .header("authorization", "Basic c2VjcmV0OnB3")
            .header("x-shop", "s1")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let id = r.json::<Value>().await.unwrap()["event_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let e = s.get_json(&format!("/events/{id}"), &token).await;
        assert_eq!(
            (e["headers"]["authorization"].as_str(), e["headers"]["x-shop"].as_str()),
            (Some("[redacted]"), Some("s1")),
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

/// A connector with no steps and no field mapping has nothing to run: its executions succeed as the
/// events are stored, on a node without workers too, with no job queued, and subscribers hear
/// `event.received` then `execution.succeeded` as from any other execution.
#[tokio::test]
async fn an_execution_with_nothing_to_run_succeeds_at_ingest() {
    for db in TestDatabase::all().await {
        let label = db.label;
        let s = TestServer::start_with(Arc::new(db), |c| c.role = hookflow::Role::Ingest).await;
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Inbox"})).await;
        let peer = crate::peer::Peer::start(crate::peer::Reply::status(204)).await;
        let r = s
            .api(Method::POST, "/subscriptions", &token)
            .json(&json!({"url": format!("{}/hook", peer.base), "event_types": ["event.received", "execution.succeeded"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let subscription: Value = r.json().await.unwrap();

        let id = crate::utils::post_event(&s, c["url"].as_str().unwrap(), json!({"n": 1})).await;
        let e = s.get_json(&format!("/events/{id}"), &token).await;
        assert_eq!(e["status"], "succeeded", "{label}: {e}");
        let execution = e["execution_id"].as_str().unwrap();
        let x = s.get_json(&format!("/executions/{execution}"), &token).await;
        assert_eq!(x["status"], "succeeded", "{label}: {x}");
        assert!(x["finished_at"].is_string(), "{label}: {x}");
        assert_eq!(x["steps"], json!([]), "{label}");
        let store = s.db.store().await;
        let job = hookflow_engine::store::Queue::job_for_target(&*store, execution)
            .await
            .unwrap();
        assert!(job.is_none(), "{label}: a job was queued");
        let stats = s
            .get_json(&format!("/connectors/{}/stats", c["id"].as_str().unwrap()), &token)
            .await;
        assert_eq!(
            stats["lifetime"],
            json!({"received": 1, "succeeded": 1, "failed": 0, "filtered": 0, "rejected": 0}),
            "{label}"
        );
        let path = format!("/subscriptions/{}/deliveries", subscription["id"].as_str().unwrap());
        let deliveries = s.get_json(&path, &token).await;
        let mut types: Vec<&str> = deliveries["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["event_type"].as_str().unwrap())
            .collect();
        types.sort_unstable();
        assert_eq!(types, ["event.received", "execution.succeeded"], "{label}");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_raw_html_body_is_a_sandboxed_download() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Any"})).await;
        let html = b"<script>fetch('/api/v1/workspace')</script>";
        let e = roundtrip(&s, &token, c["url"].as_str().unwrap(), Some("text/html"), html).await;
        let id = e["id"].as_str().unwrap();
        let r = s
            .api(Method::GET, &format!("/events/{id}/raw"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{db}");
        let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            header("content-type").as_deref(),
            Some("text/html"),
            "{db}: the sender's type is kept"
        );
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{db}");
        assert_eq!(header("content-security-policy").as_deref(), Some("sandbox"), "{db}");
        assert_eq!(header("content-disposition").as_deref(), Some("attachment"), "{db}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), html, "{db}");
        s.stop().await;
    })
    .await;
}
