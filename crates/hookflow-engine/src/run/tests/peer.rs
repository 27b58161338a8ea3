//! A real HTTP peer on 127.0.0.1: records every call and answers `{"n": <calls so far>}` with the
//! next status scripted for the path (200 when none is).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub body: Value,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    script: Mutex<HashMap<String, VecDeque<u16>>>,
}

pub struct Peer {
    pub base: String,
    shared: Arc<Shared>,
}

impl Peer {
    pub async fn start() -> Peer {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Peer { base, shared }
    }

    /// The statuses the next calls to `path` get, in order.
    pub fn script(&self, path: &str, statuses: &[u16]) {
        self.shared
            .script
            .lock()
            .unwrap()
            .insert(path.to_owned(), statuses.iter().copied().collect());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// The calls to `path` so far.
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.path == path).collect()
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let path = uri.path().to_owned();
    let status = shared
        .script
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(VecDeque::pop_front)
        .unwrap_or(200);
    let mut calls = shared.calls.lock().unwrap();
    calls.push(Call {
        path,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    (StatusCode::from_u16(status).unwrap(), Json(json!({"n": calls.len()})))
}
