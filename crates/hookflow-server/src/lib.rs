//! The HTTP face of hookflow: the ingest endpoint `/hooks/{token}`, the
//! management API under `/api/v1` with its OpenAPI document, and health;
//! [`serve`] is the listener that bounds how long and how many connections stay open.
//!
//! Invariant: this is the only crate that knows HTTP shapes; handlers turn
//! requests into store and engine calls and never speak SQL.

pub mod api;
pub mod error;
pub mod extract;
pub mod ingest;
pub mod serve;
pub mod wire;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::Router;
use hookflow_engine::intake::Intake;
use hookflow_engine::Store;
use hookflow_expr::Templates;
use tower_http::trace::TraceLayer;

/// The largest body the management API reads (2 MiB); a larger one is answered 413.
pub const API_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What the server needs from the operator's configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The base of connector URLs, e.g. `https://hooks.example.com`.
    pub public_url: String,
    /// The largest accepted request body, in bytes.
    pub max_body: usize,
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// What received requests become: parsing, rate limits, the event and its answer.
    pub intake: Arc<Intake>,
    pub templates: Arc<Templates>,
    pub config: Arc<ServerConfig>,
    /// Wakes this node's workers when work was queued outside the ingest path (a replay).
    pub wake: Arc<tokio::sync::Notify>,
    /// How long a rotated-out subscription secret keeps signing.
    pub rotation_overlap: std::time::Duration,
    /// Counters shown at `/metrics`.
    pub metrics: Arc<hookflow_engine::metrics::Metrics>,
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api::router();
    let openapi = Arc::new(openapi);
    let api = api
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(API_BODY_LIMIT));
    Router::new()
        .route("/hooks/{token}", any(ingest::receive))
        .route("/hooks/{token}/{*rest}", any(ingest::receive))
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(error::fallback)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(error::log_server_errors))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The matched route, never the URI: a connector URL's token is a secret.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), route = %route, request_id = %id)
        }))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// Prometheus metrics: this node's counters, and the queue as the database holds it.
async fn metrics(
    State(state): State<AppState>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), error::AppError> {
    use std::fmt::Write;
    let mut out = String::new();
    state.metrics.render(&mut out);
    let stats = state.store.queue_stats().await?;
    let now = hookflow_core::Timestamp::now();
    let _ = writeln!(
        out,
        "# HELP hookflow_jobs Jobs in the queue, by kind and state.\n# TYPE hookflow_jobs gauge"
    );
    for kind in hookflow_core::JobKind::ALL {
        for st in [hookflow_core::JobState::Queued, hookflow_core::JobState::Running] {
            let n = stats
                .iter()
                .find(|s| s.kind == *kind && s.state == st)
                .map_or(0, |s| s.count);
            let _ = writeln!(out, "hookflow_jobs{{kind=\"{kind}\",state=\"{st}\"}} {n}");
        }
    }
    let _ = writeln!(
        out,
        "# HELP hookflow_oldest_due_job_age_seconds How long the oldest due, unclaimed job has waited.\n# TYPE hookflow_oldest_due_job_age_seconds gauge"
    );
    for kind in hookflow_core::JobKind::ALL {
        let oldest = stats
            .iter()
            .find(|s| s.kind == *kind && s.state == hookflow_core::JobState::Queued)
            .and_then(|s| s.oldest_run_at);
        let age = oldest.map_or(0.0, |t| ((now.as_millis() - t.as_millis()).max(0)) as f64 / 1000.0);
        let _ = writeln!(out, "hookflow_oldest_due_job_age_seconds{{kind=\"{kind}\"}} {age}");
    }
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

const REQUEST_ID: &str = "x-request-id";

/// Gives every request an id (or keeps a sane one the client sent), logged
/// with every line of the request and answered in `x-request-id`.
async fn request_id(mut req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let given = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| format!("req_{}", hookflow_core::id::new_id_body()));
    let value = axum::http::HeaderValue::from_str(&id).expect("request ids are visible ASCII");
    req.headers_mut().insert(REQUEST_ID, value.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

/// What a worker-only node serves: health, readiness and metrics.
pub fn ops_app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(error::fallback)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}

/// Ready when the database answers.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.store.ping().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}
