//! `/hooks/{token}`: any method, any body. The HTTP half of ingest: the body read within its
//! limit and timeout, the connector looked up by its token, and the engine's answer
//! ([`hookflow_engine::intake`]) turned into a response. The event and its execution job are
//! committed before the answer is sent.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hookflow_core::Timestamp;
use hookflow_engine::intake::{IncomingRequest, IntakeError, Reply};
use serde::Deserialize;

use crate::error::AppError;
use crate::extract::Path;
use crate::AppState;

#[derive(Deserialize)]
pub struct HookPath {
    token: String,
    rest: Option<String>,
}

/// Receives, and counts what became of the request and how long it took.
pub async fn receive(
    State(state): State<AppState>,
    method: Method,
    path: Path<HookPath>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let started = std::time::Instant::now();
    let metrics = state.metrics.clone();
    let result = receive_inner(state, method, path, query, headers, body).await;
    let outcome = match &result {
        Ok(r) if r.extensions().get::<Rejected>().is_some() => "rejected",
        Ok(_) => "accepted",
        Err(AppError::PayloadTooLarge { .. }) => "too_large",
        Err(AppError::RequestTimeout) => "timed_out",
        Err(AppError::NotFound(_)) => "not_found",
        Err(AppError::TooManyRequests { .. }) => "rate_limited",
        Err(AppError::Unavailable { .. }) => "unavailable",
        Err(AppError::BadRequest { .. }) => "rejected",
        Err(_) => "other",
    };
    metrics.ingest.inc(outcome);
    metrics.observe_ingest(started.elapsed());
    result
}

/// Marks an answer to a request that was logged as rejected.
#[derive(Clone)]
struct Rejected;

async fn receive_inner(
    state: AppState,
    method: Method,
    Path(path): Path<HookPath>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let received_at = Timestamp::now();
    let limit = state.config.max_body;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    let target = state
        .store
        .ingest_target(&path.token)
        .await?
        .ok_or_else(|| AppError::NotFound("no connector answers at this URL".into()))?;
    // Turned off or over its rate limit: answered before the body is read.
    let admitted = state.intake.admit(&target)?;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            AppError::PayloadTooLarge { limit }
        } else if crate::error::is_body_timeout(&e) {
            AppError::RequestTimeout
        } else {
            AppError::bad_request(format!("the request body could not be read: {e}"))
        }
    })?;

    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let received = admitted
        .receive(IncomingRequest {
            method: method.to_string(),
            path: path.rest.map(|r| format!("/{r}")).unwrap_or_default(),
            query: query.unwrap_or_default(),
            headers: header_pairs,
            content_type,
            body: bytes,
            received_at,
        })
        .await?;
    let mut response = response(received.reply);
    if received.rejected.is_some() {
        response.extensions_mut().insert(Rejected);
    }
    Ok(response)
}

/// The engine's answer as a response: a status HTTP cannot carry is sent as 200, a content type
/// it cannot carry as `text/plain; charset=utf-8`.
fn response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let content_type = HeaderValue::from_str(&reply.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("text/plain; charset=utf-8"));
    let mut response = (status, reply.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response
}

impl From<IntakeError> for AppError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Disabled { retry_after } | IntakeError::Unavailable { retry_after } => AppError::Unavailable {
                detail: e.to_string(),
                retry_after,
            },
            IntakeError::RateLimited { retry_after, .. } => AppError::TooManyRequests {
                detail: e.to_string(),
                retry_after,
            },
            IntakeError::Internal(message) => AppError::Internal(message),
        }
    }
}
