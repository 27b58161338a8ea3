//! One data-driven file per step type: a step list, a payload, and the
//! journal the simulate endpoint answers (or the 400 a bad config gets).

mod delay;
mod filter;
mod formatter;
mod iterator;
mod paths;
mod storage;

use std::fmt::Write;
use std::sync::{Arc, OnceLock};

use expect_test::Expect;
use hookflow_test_support::TestDatabase;
use reqwest::Method;
use serde_json::{json, Value};

use crate::utils::TestServer;

/// One server (SQLite) and one connector shared by the checks of this binary.
/// The server lives on a thread and runtime of its own: each test's runtime ends with the test.
struct Fixture {
    url: String,
    token: String,
    connector: String,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime for the shared server");
            runtime.block_on(async move {
                let server = TestServer::start(Arc::new(TestDatabase::sqlite())).await;
                let token = server.workspace("steps").await;
                let created = server.create_connector(&token, json!({"name": "steps"})).await;
                let connector = created["id"].as_str().unwrap().to_owned();
                tx.send(Fixture {
                    url: server.url.clone(),
                    token,
                    connector,
                })
                .unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("the shared server started")
    })
}

fn api(method: Method, path: &str) -> reqwest::RequestBuilder {
    let f = fixture();
    reqwest::Client::new()
        .request(method, format!("{}/api/v1{path}", f.url))
        .bearer_auth(&f.token)
}

async fn simulate(steps: &str, payload: &str) -> reqwest::Response {
    let f = fixture();
    let steps: Value = serde_json::from_str(steps).expect("the steps fixture is JSON");
    let payload: Value = serde_json::from_str(payload).expect("the payload fixture is JSON");
    api(Method::POST, &format!("/connectors/{}/simulate", f.connector))
        .json(&json!({"payload": payload, "config": {"steps": steps}}))
        .send()
        .await
        .unwrap()
}

/// Runs `steps` over `payload` and compares the journal, one line a step.
pub async fn check(steps: &str, payload: &str, expect: Expect) {
    let r = simulate(steps, payload).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let out: Value = r.json().await.unwrap();
    let mut text = format!("status: {}", out["status"].as_str().unwrap());
    if let Some(e) = out["error"].as_str() {
        write!(text, " ({e})").unwrap();
    }
    text.push('\n');
    for step in out["steps"].as_array().unwrap() {
        write!(
            text,
            "{} {}: {}",
            step["key"].as_str().unwrap(),
            step["status"].as_str().unwrap(),
            step["output"]
        )
        .unwrap();
        if let Some(e) = step["error"].as_str() {
            write!(text, " error={e}").unwrap();
        }
        if let Some(missing) = step["missing"].as_array().filter(|m| !m.is_empty()) {
            write!(text, " missing={}", Value::Array(missing.clone())).unwrap();
        }
        text.push('\n');
    }
    for effect in out["side_effects"].as_array().unwrap() {
        writeln!(text, "side effect: {effect}").unwrap();
    }
    expect.assert_eq(&text);
}

/// Saves `steps` as a document and compares the 400's errors.
pub async fn check_config(steps: &str, expect: Expect) {
    let f = fixture();
    let steps: Value = serde_json::from_str(steps).expect("the steps fixture is JSON");
    let r = api(Method::PUT, &format!("/connectors/{}/config", f.connector))
        .json(&json!({"steps": steps}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a bad config was accepted");
    let body: Value = r.json().await.unwrap();
    let mut text = String::new();
    for e in body["errors"].as_array().unwrap() {
        writeln!(
            text,
            "{}: {}",
            e["path"].as_str().unwrap(),
            e["message"].as_str().unwrap()
        )
        .unwrap();
    }
    expect.assert_eq(&text);
}
