//! `/hooks/{token}`: any method, any body. The event and its execution job
//! are committed before the answer is sent.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hookflow_core::{EventId, EventSource, EventStatus, ExecutionId, Timestamp};
use hookflow_engine::store::NewEvent;
use hookflow_engine::{context, document};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::AppError;
use crate::extract::Path;
use crate::AppState;

#[derive(Deserialize)]
pub struct HookPath {
    token: String,
    rest: Option<String>,
}

/// Content types an email connector parses as they are; anything else is taken as a raw message.
fn email_content_type(content_type: Option<&str>) -> Option<String> {
    let essence = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some(e) if e.starts_with("multipart/") || e.contains("json") || e == "application/x-www-form-urlencoded" => {
            content_type.map(str::to_owned)
        }
        _ => Some("message/rfc822".to_owned()),
    }
}

/// Token buckets of connectors with a `rate_limit`, on this node.
#[derive(Default)]
pub struct RateLimiter {
    buckets: std::sync::Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>,
}

impl RateLimiter {
    /// Takes a token for `connector`, or answers how many seconds until one is free.
    pub fn take(&self, connector: &str, requests: f64, per: std::time::Duration) -> Result<(), u32> {
        let rate = requests / per.as_secs_f64().max(0.001);
        let now = std::time::Instant::now();
        let mut buckets = self.buckets.lock().expect("lock poisoned");
        let (tokens, last) = buckets.entry(connector.to_owned()).or_insert((requests, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(requests);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u32)
        }
    }
}

/// The document's `rate_limit`: `{"requests": 10, "per": "1s"}`.
fn rate_limit(doc: &Value) -> Option<(f64, std::time::Duration)> {
    let limit = doc.get("rate_limit")?;
    let requests = limit.get("requests")?.as_f64()?;
    let per = hookflow_core::retry::parse_duration(limit.get("per").and_then(Value::as_str).unwrap_or("1s")).ok()?;
    Some((requests, per))
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

/// Bodies up to this size are parsed on the thread that received them, where a hop to another
/// thread would cost more than the parse; larger ones take long enough (a 10 MB body, tens of
/// milliseconds) to hold up every other request on that thread, `/healthz` included.
const INLINE_PARSE_MAX: usize = 64 * 1024;

/// Parses request bodies: small ones inline, large ones on the blocking pool, as many at once
/// as there are cores, so that a burst of large bodies neither stalls the async workers nor
/// crowds them out with a thread per request.
pub struct BodyParser {
    slots: tokio::sync::Semaphore,
}

impl Default for BodyParser {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            slots: tokio::sync::Semaphore::new(cores),
        }
    }
}

impl BodyParser {
    /// The `parsed` value of the event, and why the body was rejected if it was; see
    /// [`understand`].
    ///
    /// Panics if the semaphore was closed, which nothing does (an invariant).
    pub async fn parse(
        &self,
        content_type: Option<String>,
        body: bytes::Bytes,
        custom_variables: Map<String, Value>,
    ) -> Result<(Value, Option<String>), AppError> {
        if body.len() <= INLINE_PARSE_MAX {
            return Ok(understand(content_type.as_deref(), &body, custom_variables));
        }
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("invariant: the semaphore is never closed");
        tokio::task::spawn_blocking(move || understand(content_type.as_deref(), &body, custom_variables))
            .await
            .map_err(|e| AppError::Internal(format!("parsing a body failed: {e}")))
    }
}

/// Parses a body into the `parsed` value an event keeps (`kind`, `body`, `custom_variables`,
/// `files`, with `kind` and `body` null when the body was rejected) and the reason it was
/// rejected. The body moves into the value: it can be megabytes.
fn understand(
    content_type: Option<&str>,
    body: &[u8],
    custom_variables: Map<String, Value>,
) -> (Value, Option<String>) {
    let (kind, body, files, error) = match hookflow_payload::parse_body(content_type, body, &custom_variables) {
        Ok(parsed) => (json!(parsed.kind.as_str()), parsed.body, json!(parsed.files), None),
        Err(e) => (Value::Null, Value::Null, json!([]), Some(e.to_string())),
    };
    let mut value = Map::new();
    value.insert("kind".into(), kind);
    value.insert("body".into(), body);
    value.insert("custom_variables".into(), Value::Object(custom_variables));
    value.insert("files".into(), files);
    (Value::Object(value), error)
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
    if !target.enabled {
        return Err(AppError::Unavailable {
            detail: "this connector is turned off".into(),
            retry_after: 60,
        });
    }
    if let Some((requests, per)) = rate_limit(&target.document) {
        if let Err(retry_after) = state.limiter.take(target.connector_id.as_str(), requests, per) {
            return Err(AppError::TooManyRequests {
                detail: format!(
                    "this connector takes at most {requests} requests per {}s",
                    per.as_secs_f64()
                ),
                retry_after,
            });
        }
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            AppError::PayloadTooLarge { limit }
        } else if crate::error::is_body_timeout(&e) {
            AppError::RequestTimeout
        } else {
            AppError::bad_request(format!("the request body could not be read: {e}"))
        }
    })?;

    let query = query.unwrap_or_default();
    let custom_variables = hookflow_payload::parse_query(&query);
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
    let parse_as = match target.event_source {
        EventSource::Email if !bytes.is_empty() => email_content_type(content_type.as_deref()),
        _ => content_type.clone(),
    };
    let (parsed_value, error) = state.parser.parse(parse_as, bytes.clone(), custom_variables).await?;

    let id = EventId::new();
    let (status, execution) = match error {
        None => (EventStatus::Received, Some(ExecutionId::new())),
        Some(_) => (EventStatus::Rejected, None),
    };
    let mut event = NewEvent {
        id: id.clone(),
        workspace_id: target.workspace_id.clone(),
        connector_id: target.connector_id.clone(),
        received_at,
        status,
        config_version: target.version,
        method: method.to_string(),
        path: path.rest.map(|r| format!("/{r}")).unwrap_or_default(),
        query,
        headers: header_pairs,
        content_type,
        body: bytes.to_vec(),
        parsed: parsed_value,
        error: error.clone(),
        execution,
        capture_structure: !target.has_structure && status == EventStatus::Received,
        order_group: None,
        nothing_to_run: false,
    };
    if event.execution.is_some() {
        // No steps and no field mapping: the execution succeeds as it is stored, with no job.
        event.nothing_to_run = document::runs_nothing(&target.document);
        if !event.nothing_to_run {
            event.order_group = order_group(&state, &target.document, &event);
        }
    }
    // Rendered before the write so the event moves into the queue without a copy.
    let reply = match &error {
        None => Some(respond(&state, &target.document, &event)),
        Some(_) => None,
    };
    let finished_here = event.nothing_to_run;
    state.ingest.submit(event).await.map_err(|e| {
        tracing::warn!(error = %e, "Ingest could not be stored.");
        AppError::Unavailable {
            detail: "the event could not be stored; nothing was accepted, send it again".into(),
            retry_after: 5,
        }
    })?;
    if finished_here {
        state.metrics.executions.inc(EventStatus::Succeeded.as_str());
    }
    match (reply, error) {
        (Some(reply), _) => Ok(reply),
        (None, Some(detail)) => Ok(rejected(&id, detail)),
        (None, None) => unreachable!("a reply is rendered for every accepted event"),
    }
}

/// 400 with the parse error; the request is logged as `rejected`.
fn rejected(id: &EventId, detail: String) -> Response {
    let mut response = rejected_body(id, detail);
    response.extensions_mut().insert(Rejected);
    response
}

fn rejected_body(id: &EventId, detail: String) -> Response {
    let body = json!({
        "type": "/docs/problems#invalid-body",
        "title": "Bad Request",
        "status": 400,
        "detail": detail,
        "event_id": id.to_string(),
    });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// The connector's response map rendered over the event, or the default answer.
/// The ordering group of an event's execution: the connector's `ordering.key` rendered over the
/// event, prefixed with the connector. A key that renders empty (or fails) leaves the execution
/// unordered; a long key is hashed so it fits an index entry.
fn order_group(state: &AppState, doc: &Value, event: &NewEvent) -> Option<String> {
    use sha2::{Digest, Sha256};
    let template = document::ordering_key(doc)?;
    let ctx = json!({"event": event_context(event)});
    let key = match state.templates.render_str(template, &ctx) {
        Ok(rendered) => rendered.text().trim().to_owned(),
        Err(e) => {
            tracing::warn!(connector_id = %event.connector_id, error = %e, "The ordering key does not compile.");
            return None;
        }
    };
    if key.is_empty() {
        return None;
    }
    let key = if key.len() > 200 {
        format!("sha256:{:x}", Sha256::digest(key.as_bytes()))
    } else {
        key
    };
    Some(format!("order:{}:{key}", event.connector_id))
}

fn event_context(event: &NewEvent) -> Value {
    context::event_value(
        event.id.as_str(),
        &event.method,
        event.received_at,
        &event.headers,
        &event.parsed,
    )
}

fn respond(state: &AppState, doc: &Value, event: &NewEvent) -> Response {
    let Some(map) = document::response_map(doc) else {
        let body = json!({"status": "accepted", "event_id": event.id.to_string()});
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    };
    let ctx = json!({"event": event_context(event)});
    let body = match state.templates.render_str(&map.body, &ctx) {
        Ok(rendered) => {
            if !rendered.errors.is_empty() {
                tracing::warn!(connector_id = %event.connector_id, errors = ?rendered.errors, "Response map rendered with errors.");
            }
            rendered.text()
        }
        Err(e) => {
            tracing::warn!(connector_id = %event.connector_id, error = %e, "Response map does not compile.");
            String::new()
        }
    };
    let status = StatusCode::from_u16(map.status).unwrap_or(StatusCode::OK);
    let content_type = HeaderValue::from_str(&map.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("text/plain; charset=utf-8"));
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response
}
