//! The end-to-end receiver: counts `POST /sink` and the latency from the
//! body's `sent_at` (Unix milliseconds) to receipt; `GET /stats`, `POST /reset`.

use axum::{
    body::Bytes,
    extract::State,
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};
use std::{
    process::ExitCode,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

#[derive(Default)]
struct Stats {
    count: u64,
    /// Bodies without a numeric `sent_at`: counted, no latency.
    unstamped: u64,
    first_ms: u64,
    last_ms: u64,
    latencies_ms: Vec<u64>,
}

type Shared = Arc<Mutex<Stats>>;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn sink(State(stats): State<Shared>, body: Bytes) -> Json<Value> {
    let received = now_ms();
    // hookflow may render the stamp as a number or as a digit string.
    let sent_at = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| match &v["sent_at"] {
            Value::Number(n) => n.as_f64().map(|f| f as u64),
            Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as u64),
            _ => None,
        });
    let mut stats = stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    stats.count += 1;
    if stats.first_ms == 0 {
        stats.first_ms = received;
    }
    stats.last_ms = received;
    match sent_at {
        Some(sent) => stats.latencies_ms.push(received.saturating_sub(sent)),
        None => stats.unstamped += 1,
    }
    Json(json!({"ok": true}))
}

async fn report(State(stats): State<Shared>) -> Json<Value> {
    let stats = stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut sorted = stats.latencies_ms.clone();
    sorted.sort_unstable();
    let p = |q| hookflow_bench::percentile(&sorted, q);
    Json(json!({
        "count": stats.count,
        "unstamped": stats.unstamped,
        "first_ms": stats.first_ms,
        "last_ms": stats.last_ms,
        "now_ms": now_ms(),
        "latency_ms": {"p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "max": p(1.0)},
    }))
}

async fn reset(State(stats): State<Shared>) -> Json<Value> {
    *stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Stats::default();
    Json(json!({"ok": true}))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let addr = hookflow_bench::listen_arg();
    let app = Router::new()
        .route("/sink", post(sink))
        .route("/stats", get(report))
        .route("/reset", post(reset))
        .with_state(Shared::default());
    let listener = match hookflow_bench::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: bind {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("error: serve: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
