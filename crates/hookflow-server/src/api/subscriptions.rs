//! Outbound event webhooks: the event catalog, subscriptions, deliveries.

use axum::extract::State;
use axum::http::StatusCode;
use hookflow_core::{DeliveryId, EventType, SubscriptionId, Timestamp};
use hookflow_engine::document::FieldError;
use hookflow_engine::messages;
use hookflow_engine::store::{Delivery, DeliveryAttempt, Subscription, SubscriptionChanges};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, Problem};
use crate::extract::{parse_id, Auth, Json, Path, Query};
use crate::wire::{ListOf, ListParams};
use crate::AppState;

/// One type of event hookflow emits.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeOut {
    pub name: String,
    pub description: String,
    /// A delivered body of this type, `data` filled with an example.
    #[schema(value_type = Object)]
    pub example: Value,
}

fn catalog() -> Vec<EventTypeOut> {
    let event = json!({"event_id": "evt_01M80KVTW7XZ1B3A77GSY8B0HB", "connector_id": "con_01M80KVTPZYA0HD1NHC88YAW1W",
        "received_at": "2026-11-22T10:00:00.000Z", "method": "POST", "content_type": "application/json", "size": 512});
    let execution = |status: &str, error: Value| {
        json!({"execution_id": "exe_01M80NDJ3CVVPX9KYWGSQ72QQT",
        "event_id": "evt_01M80KVTW7XZ1B3A77GSY8B0HB", "connector_id": "con_01M80KVTPZYA0HD1NHC88YAW1W", "status": status,
        "error": error, "config_version": 4, "finished_at": "2026-11-22T10:00:01.250Z"})
    };
    let contact = json!({"id": "ctc_01M80NDJ3CVVPX9KYWGSQ72QQT", "name": "Ann Lee", "mobile": "+14155552671",
        "email": "ann@shop.example", "channel": "ch_01M80KVTW7XZ1B3A77GSY8B0HB", "owner": null, "tags": ["vip"],
        "attributes": {"city": "Kochi"}, "created_at": "2026-11-22T10:00:00.000Z", "updated_at": "2026-11-22T10:00:00.000Z"});
    let mut with_execution = event.clone();
    with_execution["execution_id"] = json!("exe_01M80NDJ3CVVPX9KYWGSQ72QQT");
    let mut rejected = event.clone();
    rejected["error"] = json!("invalid JSON at line 1, column 9: EOF while parsing a value");
    let example = |t: &EventType| match t {
        EventType::EventReceived => with_execution.clone(),
        EventType::EventRejected => rejected.clone(),
        EventType::ExecutionSucceeded => execution("succeeded", Value::Null),
        EventType::ExecutionFailed => execution(
            "failed",
            json!("step `crm`: gave up after 5 attempts: 503 Service Unavailable from the peer"),
        ),
        EventType::ExecutionFiltered => execution("filtered", Value::Null),
        EventType::ContactCreated | EventType::ContactUpdated => contact.clone(),
        EventType::ContactTagged => json!({"contact": contact, "tags_added": ["vip"]}),
        EventType::SubscriptionDisabled => {
            json!({"subscription_id": "sub_01M80NDJ3CVVPX9KYWGSQ72QQT", "url": "https://crm.example/hooks/hookflow",
                   "reason": "the endpoint answered 410 Gone", "disabled_at": "2026-11-22T10:00:00.000Z"})
        }
        EventType::SubscriptionTest => {
            json!({"subscription_id": "sub_01M80NDJ3CVVPX9KYWGSQ72QQT", "message": "This is a test event from hookflow."})
        }
        EventType::Custom(_) => json!({"order_id": 1001, "total": 250}),
    };
    let custom = EventType::Custom(EventType::ANY_CUSTOM.to_owned());
    EventType::SUBSCRIBABLE
        .iter()
        .chain([&custom])
        .map(|t| EventTypeOut {
            name: t.as_str().into(),
            description: t.description().into(),
            example: json!({"type": t.as_str(), "timestamp": "2026-11-22T10:00:01.300Z", "data": example(t)}),
        })
        .collect()
}

fn known_type(pattern: &str) -> bool {
    EventType::is_known_pattern(pattern)
}

/// The types of event hookflow emits, each with an example body.
#[utoipa::path(get, path = "/event-types", tag = "subscriptions", responses((status = 200, body = ListOf<EventTypeOut>)))]
pub async fn event_types(_auth: Auth) -> axum::Json<ListOf<EventTypeOut>> {
    axum::Json(ListOf {
        data: catalog(),
        next_cursor: None,
    })
}

/// How a custom header's value is shown: custom headers often carry a subscriber's credentials.
const HIDDEN: &str = "********";

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionOut {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub connector_ids: Vec<String>,
    /// Write-only: the names of the custom headers, each value shown as `********`.
    #[schema(value_type = Object)]
    pub headers: Map<String, Value>,
    #[schema(value_type = Object)]
    pub extra_fields: Map<String, Value>,
    pub enabled: bool,
    /// Why it was turned off, when it was.
    pub disabled_reason: Option<String>,
    /// Only in the answer that creates it or rotates it: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SubscriptionOut {
    fn new(s: &Subscription, show_secret: bool) -> Self {
        Self {
            id: s.id.to_string(),
            url: s.url.clone(),
            description: s.description.clone(),
            event_types: s.event_types.clone(),
            connector_ids: s.connector_ids.clone(),
            headers: s
                .headers
                .keys()
                .map(|name| (name.clone(), Value::from(HIDDEN)))
                .collect(),
            extra_fields: s.extra_fields.clone(),
            enabled: s.enabled,
            disabled_reason: s.disabled_reason.clone(),
            secret: show_secret.then(|| s.secret.clone()),
            created_at: s.created_at.to_rfc3339(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

/// A new subscription, or changes to one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionIn {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub connector_ids: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub extra_fields: Option<Map<String, Value>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

const RESERVED_FIELDS: &[&str] = &["type", "timestamp", "data"];

/// A custom header of a delivery: text, a header hookflow may send, and not one of the
/// `webhook-*` signature headers.
fn check_header(name: &str, value: &Value) -> Result<(), String> {
    let Some(value) = value.as_str() else {
        return Err("a header is a text value".into());
    };
    if name.to_ascii_lowercase().starts_with("webhook-") {
        return Err("webhook-* headers are hookflow's own".into());
    }
    hookflow_delivery::check_header(name, value)
}

async fn check(
    state: &AppState,
    ws: &hookflow_core::WorkspaceId,
    req: &SubscriptionIn,
    creating: bool,
) -> Result<(), AppError> {
    let mut errors = Vec::new();
    match &req.url {
        Some(u) => {
            if let Err(message) = hookflow_delivery::check_url(u) {
                errors.push(FieldError::new("url", message));
            }
        }
        None if creating => errors.push(FieldError::new("url", "is required")),
        None => {}
    }
    match &req.event_types {
        Some(types) if types.is_empty() => {
            errors.push(FieldError::new("event_types", "name at least one event type, or `*`"))
        }
        Some(types) => {
            for (i, t) in types.iter().enumerate() {
                if !known_type(t) {
                    errors.push(FieldError::new(
                        format!("event_types[{i}]"),
                        format!("`{t}` is not an event type; see GET /api/v1/event-types"),
                    ));
                }
            }
        }
        None if creating => errors.push(FieldError::new("event_types", "is required")),
        None => {}
    }
    for (i, c) in req.connector_ids.iter().flatten().enumerate() {
        let known = match c.parse::<hookflow_core::ConnectorId>() {
            Ok(id) => state.store.get_connector(ws, &id).await?.is_some(),
            Err(_) => false,
        };
        if !known {
            errors.push(FieldError::new(
                format!("connector_ids[{i}]"),
                format!("there is no connector `{c}`"),
            ));
        }
    }
    for (k, v) in req.headers.iter().flatten() {
        if let Err(message) = check_header(k, v) {
            errors.push(FieldError::new(format!("headers.{k}"), message));
        }
    }
    for k in req.extra_fields.iter().flat_map(|m| m.keys()) {
        if RESERVED_FIELDS.contains(&k.as_str()) {
            errors.push(FieldError::new(
                format!("extra_fields.{k}"),
                "type, timestamp and data are the payload's own",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::validation(errors))
    }
}

/// Subscribe a URL to events. The answer carries the signing secret, shown only this once.
#[utoipa::path(post, path = "/subscriptions", tag = "subscriptions", request_body = SubscriptionIn,
    responses((status = 201, body = SubscriptionOut), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<SubscriptionIn>,
) -> Result<(StatusCode, axum::Json<SubscriptionOut>), AppError> {
    check(&state, &ws, &req, true).await?;
    let now = Timestamp::now();
    let sub = Subscription {
        id: SubscriptionId::new(),
        workspace_id: ws,
        url: req.url.unwrap_or_default(),
        description: req.description.unwrap_or_default(),
        event_types: req.event_types.unwrap_or_default(),
        connector_ids: req.connector_ids.unwrap_or_default(),
        headers: req.headers.unwrap_or_default(),
        extra_fields: req.extra_fields.unwrap_or_default(),
        enabled: req.enabled.unwrap_or(true),
        secret: hookflow_delivery::signing::new_secret(),
        previous_secret: None,
        previous_until: None,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    state.store.create_subscription(&sub).await?;
    Ok((StatusCode::CREATED, axum::Json(SubscriptionOut::new(&sub, true))))
}

/// The workspace's subscriptions (never their secrets).
#[utoipa::path(get, path = "/subscriptions", tag = "subscriptions", responses((status = 200, body = ListOf<SubscriptionOut>)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ws): Auth,
) -> Result<axum::Json<ListOf<SubscriptionOut>>, AppError> {
    let subs = state.store.list_subscriptions(&ws).await?;
    Ok(axum::Json(ListOf {
        data: subs.iter().map(|s| SubscriptionOut::new(s, false)).collect(),
        next_cursor: None,
    }))
}

async fn load(state: &AppState, ws: &hookflow_core::WorkspaceId, raw: &str) -> Result<Subscription, AppError> {
    let id: SubscriptionId = parse_id(raw, "subscription")?;
    state
        .store
        .get_subscription(ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("subscription"))
}

/// One subscription.
#[utoipa::path(get, path = "/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionOut), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<SubscriptionOut>, AppError> {
    Ok(axum::Json(SubscriptionOut::new(&load(&state, &ws, &id).await?, false)))
}

/// Change a subscription; turning it on again clears why it was turned off.
#[utoipa::path(patch, path = "/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path)), request_body = SubscriptionIn,
    responses((status = 200, body = SubscriptionOut), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Json(req): Json<SubscriptionIn>,
) -> Result<axum::Json<SubscriptionOut>, AppError> {
    let sub = load(&state, &ws, &id).await?;
    check(&state, &ws, &req, false).await?;
    let changes = SubscriptionChanges {
        url: req.url,
        description: req.description,
        event_types: req.event_types,
        connector_ids: req.connector_ids,
        headers: req.headers,
        extra_fields: req.extra_fields,
        enabled: req.enabled,
    };
    let s = state
        .store
        .update_subscription(&ws, &sub.id, &changes)
        .await?
        .ok_or_else(|| AppError::not_found("subscription"))?;
    Ok(axum::Json(SubscriptionOut::new(&s, false)))
}

/// Delete a subscription with its deliveries.
#[utoipa::path(delete, path = "/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let sub = load(&state, &ws, &id).await?;
    state.store.delete_subscription(&ws, &sub.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown once; for a day both secrets sign (space-separated signatures).
#[utoipa::path(post, path = "/subscriptions/{id}/rotate-secret", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionOut), (status = 404, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<SubscriptionOut>, AppError> {
    let sub = load(&state, &ws, &id).await?;
    let until = Timestamp::now().plus(state.rotation_overlap);
    let s = state
        .store
        .rotate_subscription_secret(&ws, &sub.id, &hookflow_delivery::signing::new_secret(), until)
        .await?
        .ok_or_else(|| AppError::not_found("subscription"))?;
    state.wake.notify_waiters();
    Ok(axum::Json(SubscriptionOut::new(&s, true)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedOut {
    /// The emitted event's id (the `webhook-id` header), when one was queued.
    pub message_id: Option<String>,
    /// How many deliveries were queued.
    pub queued: u64,
}

/// Send a `subscription.test` event to this subscription now.
#[utoipa::path(post, path = "/subscriptions/{id}/test", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 202, body = QueuedOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn test(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, axum::Json<QueuedOut>), AppError> {
    let sub = load(&state, &ws, &id).await?;
    if !sub.enabled {
        return Err(AppError::Conflict(
            "the subscription is turned off; turn it on to test it".into(),
        ));
    }
    let message = state
        .store
        .emit(&ws, &messages::subscription_test(&sub.id), Some(&sub.id), None)
        .await?;
    state.wake.notify_waiters();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(QueuedOut {
            queued: u64::from(message.is_some()),
            message_id: message.map(|m| m.to_string()),
        }),
    ))
}

/// `?since=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecoverParams {
    /// RFC 3339; failed deliveries created since then are sent again.
    pub since: String,
}

/// Send again every failed delivery since a time.
#[utoipa::path(post, path = "/subscriptions/{id}/recover", tag = "subscriptions", params(("id" = String, Path), RecoverParams),
    responses((status = 202, body = QueuedOut), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn recover(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Query(p): Query<RecoverParams>,
) -> Result<(StatusCode, axum::Json<QueuedOut>), AppError> {
    let sub = load(&state, &ws, &id).await?;
    let since = Timestamp::parse_rfc3339(&p.since)
        .ok_or_else(|| AppError::bad_request(format!("since `{}` is not an RFC 3339 date-time", p.since)))?;
    let queued = state.store.recover_deliveries(&ws, &sub.id, since).await?;
    state.wake.notify_waiters();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(QueuedOut {
            message_id: None,
            queued,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    pub attempt: i64,
    pub at: String,
    pub status_code: Option<i64>,
    pub latency_ms: Option<i64>,
    #[schema(value_type = Object)]
    pub response_headers: Value,
    /// The first 4 KiB of the answer.
    pub response_body: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: String,
    pub subscription_id: String,
    /// The event's id: the `webhook-id` header, the same on every attempt.
    pub message_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptOut>>,
}

impl DeliveryOut {
    fn new(d: &Delivery, attempts: Option<&[DeliveryAttempt]>) -> Self {
        Self {
            id: d.id.to_string(),
            subscription_id: d.subscription_id.to_string(),
            message_id: d.message_id.to_string(),
            event_type: d.event_type.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            next_attempt_at: d.next_at.filter(|_| d.status == "pending").map(|t| t.to_rfc3339()),
            last_error: d.last_error.clone(),
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
            attempt_log: attempts.map(|list| {
                list.iter()
                    .map(|a| AttemptOut {
                        attempt: a.attempt,
                        at: a.at.to_rfc3339(),
                        status_code: a.status_code,
                        latency_ms: a.latency_ms,
                        response_headers: a.response_headers.clone(),
                        response_body: a.response_body.clone(),
                        error: a.error.clone(),
                    })
                    .collect()
            }),
        }
    }
}

/// `?status=&limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryListParams {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A subscription's deliveries, newest first.
#[utoipa::path(get, path = "/subscriptions/{id}/deliveries", tag = "subscriptions", params(("id" = String, Path), DeliveryListParams),
    responses((status = 200, body = ListOf<DeliveryOut>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Query(p): Query<DeliveryListParams>,
) -> Result<axum::Json<ListOf<DeliveryOut>>, AppError> {
    let sub = load(&state, &ws, &id).await?;
    if let Some(s) = p
        .status
        .as_deref()
        .filter(|s| !["pending", "delivered", "failed"].contains(s))
    {
        return Err(AppError::bad_request(format!(
            "`{s}` is not a delivery status; expected pending, delivered or failed"
        )));
    }
    let page = ListParams {
        limit: p.limit,
        cursor: p.cursor,
    }
    .page::<DeliveryId>()?;
    let found = state
        .store
        .list_deliveries(&ws, &sub.id, p.status.as_deref(), &page)
        .await?;
    Ok(axum::Json(ListOf {
        data: found.items.iter().map(|d| DeliveryOut::new(d, None)).collect(),
        next_cursor: found.next_cursor,
    }))
}

/// One delivery with every attempt.
#[utoipa::path(get, path = "/deliveries/{id}", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 200, body = DeliveryOut), (status = 404, body = Problem)))]
pub async fn delivery(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<DeliveryOut>, AppError> {
    let id: DeliveryId = parse_id(&id, "delivery")?;
    let (d, attempts) = state
        .store
        .get_delivery(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("delivery"))?;
    Ok(axum::Json(DeliveryOut::new(&d, Some(&attempts))))
}

/// Send a delivered or failed delivery again now.
#[utoipa::path(post, path = "/deliveries/{id}/retry", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 202, body = DeliveryOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, axum::Json<DeliveryOut>), AppError> {
    let id: DeliveryId = parse_id(&id, "delivery")?;
    let d = state
        .store
        .retry_delivery(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("delivery"))?;
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, axum::Json(DeliveryOut::new(&d, None))))
}
