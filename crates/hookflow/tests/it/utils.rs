use std::future::Future;
use std::sync::Arc;

use hookflow::Config;
use hookflow_test_support::TestDatabase;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A hookflow server running in this process on `127.0.0.1:0`.
pub struct TestServer {
    pub url: String,
    pub client: reqwest::Client,
    pub db: Arc<TestDatabase>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(db: Arc<TestDatabase>) -> Self {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Arc<TestDatabase>, adjust: impl FnOnce(&mut Config)) -> Self {
        hookflow::setup_tracing(false, true);
        let mut config = Config::new(db.backend.clone());
        // Tests talk to peers on the loopback address.
        config.allow_networks = hookflow_delivery::Guard::parse("127.0.0.1/32").unwrap();
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(hookflow::run(config, listener, async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        // Ready when the database answers.
        for _ in 0..200 {
            if client
                .get(format!("{url}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Self {
            url,
            client,
            db,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// A new workspace; answers its API token.
    pub async fn workspace(&self, name: &str) -> String {
        let store = hookflow::open_store(&self.db.backend).await.unwrap();
        let created = hookflow::create_workspace(&*store, name).await.unwrap();
        store.close().await;
        created.token
    }

    pub fn api(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(token)
    }

    pub async fn create_connector(&self, token: &str, body: Value) -> Value {
        let r = self
            .api(Method::POST, "/connectors", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let r = self.api(Method::GET, path, token).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {path}: {}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn put_config(&self, token: &str, connector: &str, doc: &Value) -> Response {
        self.api(Method::PUT, &format!("/connectors/{connector}/config"), token)
            .json(doc)
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }
}

/// Runs `check` against a server on every configured database.
pub async fn on_every_database<F, Fut>(check: F)
where
    F: Fn(TestServer, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDatabase::all().await {
        let label = db.label;
        let server = TestServer::start(Arc::new(db)).await;
        check(server, label).await;
    }
}

/// Asserts an RFC 9457 answer and returns its body.
pub async fn problem(r: Response, status: u16) -> Value {
    assert_eq!(r.status(), status, "expected {status}");
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["type"].is_string(), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

/// Polls until `f` answers `Some`, for at most `secs` seconds.
pub async fn eventually<T, Fut: Future<Output = Option<T>>>(secs: u64, mut f: impl FnMut() -> Fut) -> T {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {secs}s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Posts `body` to a connector URL; answers the acknowledged event's id.
pub async fn post_event(s: &TestServer, url: &str, body: Value) -> String {
    let r = s.client.post(url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "the event was not accepted");
    r.json::<Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until an event's execution has ended; answers the event with its journal.
pub async fn settled(s: &TestServer, token: &str, event_id: &str) -> Value {
    eventually(30, || async {
        let e = s.get_json(&format!("/events/{event_id}"), token).await;
        ["succeeded", "failed", "filtered"]
            .contains(&e["status"].as_str().unwrap())
            .then_some(e)
    })
    .await
}

/// Posts an event and waits for its execution to end.
pub async fn run_event(s: &TestServer, token: &str, url: &str, body: Value) -> Value {
    let id = post_event(s, url, body).await;
    settled(s, token, &id).await
}

/// The journal entry of `key` in an event's latest execution.
pub fn journal_step<'a>(e: &'a Value, key: &str) -> &'a Value {
    e["execution"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no step {key} in {e}"))
}

/// A document whose one step only computes (a text formatter): each event's execution is a job
/// that a worker runs. A connector with no steps has nothing to run, and its executions succeed at
/// ingest without a job.
pub fn one_step() -> Value {
    serde_json::json!({"steps": [
        {"id": "upper", "type": "formatter", "kind": "text", "operation": "upper", "input": "{{ event.id }}"}]})
}
