//! Intake: what a received request becomes. Whether the connector takes it now (turned on, under
//! its rate limit), how its body is understood, the event row with its execution's ordering group
//! and whether anything runs, and the answer the sender gets once the event is stored.
//!
//! Every event source hands its request over as an [`IncomingRequest`]: the webhook endpoint in
//! `hookflow-server` after reading the body, and any source without HTTP (a schedule tick, an
//! email) the same way. The answer is plain data ([`Reply`]); turning it into an HTTP response is
//! the server's business.
//!
//! Invariant: no [`Received`] is answered before its event, execution and job are committed
//! ([`IngestQueue::submit`]).

mod body;
mod limit;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookflow_core::{EventId, EventSource, EventStatus, ExecutionId, Timestamp};
use hookflow_expr::Templates;
use serde_json::{json, Value};

pub use body::Parsed;
pub use hookflow_payload::{BodyKind, FileMeta};

use crate::ingest::IngestQueue;
use crate::metrics::Metrics;
use crate::store::{IngestTarget, NewEvent};
use crate::{context, document};

/// A request as an event source received it. A source without HTTP leaves `method` and `path`
/// empty and gives the headers it has (or none).
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub method: String,
    /// Anything after the connector's address, with its leading `/`; empty when nothing was.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names (lower case) and values, in order; repeated names repeat.
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub received_at: Timestamp,
}

/// What became of a request that was stored.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: EventId,
    /// Why the body was rejected, when it was: the event is stored as `rejected`, with nothing
    /// to run.
    pub rejected: Option<String>,
    /// The execution had nothing to run (see [`document::runs_nothing`]) and was stored as
    /// succeeded, with no job.
    pub finished: bool,
    /// The answer for the sender.
    pub reply: Reply,
}

/// The answer to a request, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The connector's status; a caller that cannot send it sends 200.
    pub status: u16,
    /// The connector's content type; a caller that cannot send it sends
    /// `text/plain; charset=utf-8`.
    pub content_type: String,
    pub body: String,
}

/// Why a request was not taken; nothing was stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntakeError {
    /// The connector is turned off; the sender may try again later.
    #[error("this connector is turned off")]
    Disabled { retry_after: u32 },
    /// The connector's `rate_limit` is used up on this node for `retry_after` seconds.
    #[error("this connector takes at most {requests} requests per {}s", per.as_secs_f64())]
    RateLimited {
        requests: f64,
        per: Duration,
        retry_after: u32,
    },
    /// The event could not be stored; the sender should send it again.
    #[error("the event could not be stored; nothing was accepted, send it again")]
    Unavailable { retry_after: u32 },
    /// A failure of this process (a parse task that panicked): a server error.
    #[error("{0}")]
    Internal(String),
}

/// Turns received requests into stored events; one per process, shared by every event source.
pub struct Intake {
    queue: IngestQueue,
    templates: Arc<Templates>,
    metrics: Arc<Metrics>,
    limiter: limit::RateLimiter,
    parser: body::BodyParser,
}

impl Intake {
    pub fn new(queue: IngestQueue, templates: Arc<Templates>, metrics: Arc<Metrics>) -> Self {
        Self {
            queue,
            templates,
            metrics,
            limiter: limit::RateLimiter::default(),
            parser: body::BodyParser::default(),
        }
    }

    /// Takes a request whose body is at hand: [`Intake::admit`], then [`Admitted::receive`].
    pub async fn receive(&self, target: &IngestTarget, request: IncomingRequest) -> Result<Received, IntakeError> {
        self.admit(target)?.receive(request).await
    }

    /// Whether `target` takes a request now: it is turned on, and under its rate limit (which
    /// this spends a token of). A source that has yet to read the body asks this first, so that
    /// a request turned away costs no read.
    pub fn admit<'a>(&'a self, target: &'a IngestTarget) -> Result<Admitted<'a>, IntakeError> {
        admission(&self.limiter, target, Instant::now())?;
        Ok(Admitted { intake: self, target })
    }
}

/// Whether `target` takes a request at `now`; see [`Intake::admit`].
fn admission(limiter: &limit::RateLimiter, target: &IngestTarget, now: Instant) -> Result<(), IntakeError> {
    if !target.enabled {
        return Err(IntakeError::Disabled { retry_after: 60 });
    }
    if let Some((requests, per)) = limit::rate_limit(&target.document) {
        if let Err(retry_after) = limiter.take(target.connector_id.as_str(), requests, per, now) {
            return Err(IntakeError::RateLimited {
                requests,
                per,
                retry_after,
            });
        }
    }
    Ok(())
}

/// A request [`Intake::admit`] let in, waiting for its body.
pub struct Admitted<'a> {
    intake: &'a Intake,
    target: &'a IngestTarget,
}

impl Admitted<'_> {
    /// Understands the body, stores the event (with its execution and job, when it has
    /// something to run) and answers once that committed.
    pub async fn receive(self, request: IncomingRequest) -> Result<Received, IntakeError> {
        let Admitted { intake, target } = self;
        let custom_variables = hookflow_payload::parse_query(&request.query);
        let (parsed, error) = intake
            .parser
            .parse(
                parse_as(target.event_source, &request),
                request.body.clone(),
                custom_variables,
            )
            .await?;
        let (event, reply) = decide(&intake.templates, target, request, parsed, error);
        let received = Received {
            event_id: event.id.clone(),
            rejected: event.error.clone(),
            finished: event.nothing_to_run,
            reply,
        };
        intake.queue.submit(event).await.map_err(|e| {
            tracing::warn!(error = %e, "Ingest could not be stored.");
            IntakeError::Unavailable { retry_after: 5 }
        })?;
        if received.finished {
            intake.metrics.executions.inc(EventStatus::Succeeded.as_str());
        }
        Ok(received)
    }
}

/// The content type a request's body is parsed as: an email connector's as a message, unless
/// it says it is a form, multipart or JSON.
fn parse_as(source: EventSource, request: &IncomingRequest) -> Option<String> {
    match source {
        EventSource::Email if !request.body.is_empty() => body::email_content_type(request.content_type.as_deref()),
        _ => request.content_type.clone(),
    }
}

/// The event a request becomes and the answer its sender gets once it is stored. `error` is why
/// the body was rejected.
fn decide(
    templates: &Templates,
    target: &IngestTarget,
    request: IncomingRequest,
    parsed: Parsed,
    error: Option<String>,
) -> (NewEvent, Reply) {
    let (status, execution) = match error {
        None => (EventStatus::Received, Some(ExecutionId::new())),
        Some(_) => (EventStatus::Rejected, None),
    };
    let mut event = NewEvent {
        id: EventId::new(),
        workspace_id: target.workspace_id.clone(),
        connector_id: target.connector_id.clone(),
        received_at: request.received_at,
        status,
        config_version: target.version,
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
        content_type: request.content_type,
        body: request.body.to_vec(),
        parsed,
        error,
        execution,
        capture_structure: !target.has_structure && status == EventStatus::Received,
        order_group: None,
        nothing_to_run: false,
    };
    if event.execution.is_some() {
        // No steps and no field mapping: the execution succeeds as it is stored, with no job.
        event.nothing_to_run = document::runs_nothing(&target.document);
        if !event.nothing_to_run {
            event.order_group = order_group(templates, &target.document, &event);
        }
    }
    // Rendered before the write so the event moves into the queue without a copy.
    let reply = match &event.error {
        None => respond(templates, &target.document, &event),
        Some(detail) => rejected(&event.id, detail),
    };
    (event, reply)
}

/// 400 with the parse error, as a problem.
fn rejected(id: &EventId, detail: &str) -> Reply {
    let body = json!({
        "type": "/docs/problems#invalid-body",
        "title": "Bad Request",
        "status": 400,
        "detail": detail,
        "event_id": id.to_string(),
    });
    Reply {
        status: 400,
        content_type: "application/problem+json".into(),
        body: body.to_string(),
    }
}

/// The ordering group of an event's execution: the connector's `ordering.key` rendered over the
/// event, prefixed with the connector. A key that renders empty (or fails) leaves the execution
/// unordered; a long key is hashed so it fits an index entry.
fn order_group(templates: &Templates, doc: &Value, event: &NewEvent) -> Option<String> {
    use sha2::{Digest, Sha256};
    let template = document::ordering_key(doc)?;
    let ctx = json!({"event": event_context(event)});
    let key = match templates.render_str(template, &ctx) {
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

/// The connector's response map rendered over the event, or the default answer.
fn respond(templates: &Templates, doc: &Value, event: &NewEvent) -> Reply {
    let Some(map) = document::response_map(doc) else {
        let body = json!({"status": "accepted", "event_id": event.id.to_string()});
        return Reply {
            status: 200,
            content_type: "application/json".into(),
            body: body.to_string(),
        };
    };
    let ctx = json!({"event": event_context(event)});
    let body = match templates.render_str(&map.body, &ctx) {
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
    Reply {
        status: map.status,
        content_type: map.content_type,
        body,
    }
}
