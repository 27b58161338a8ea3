//! The HTTP face of hookflow: the ingest endpoint `/hooks/{token}`, the
//! management API under `/api/v1` with its OpenAPI document, and health.
//!
//! Invariant: this is the only crate that knows HTTP shapes; handlers turn
//! requests into store and engine calls and never speak SQL.

pub mod api;
pub mod error;
pub mod extract;
pub mod ingest;
pub mod wire;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::Router;
use hookflow_engine::ingest::IngestQueue;
use hookflow_engine::Store;
use hookflow_expr::Templates;
use tower_http::trace::TraceLayer;

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
    pub ingest: IngestQueue,
    pub templates: Arc<Templates>,
    pub config: Arc<ServerConfig>,
    /// Wakes this node's workers when work was queued outside the ingest path (a replay).
    pub wake: Arc<tokio::sync::Notify>,
    /// How long a rotated-out subscription secret keeps signing.
    pub rotation_overlap: std::time::Duration,
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api::router();
    let openapi = Arc::new(openapi);
    let api = api.route(
        "/openapi.json",
        get(move || {
            let doc = openapi.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    );
    Router::new()
        .route("/hooks/{token}", any(ingest::receive))
        .route("/hooks/{token}/{*rest}", any(ingest::receive))
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .fallback(error::fallback)
        .layer(axum::middleware::from_fn(error::log_server_errors))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The matched route, never the URI: a connector URL's token is a secret.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            tracing::info_span!("request", method = %req.method(), route = %route)
        }))
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
