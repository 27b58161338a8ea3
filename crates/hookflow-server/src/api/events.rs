//! The event log.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use hookflow_core::{EventId, EventStatus, ExecutionId};
use hookflow_engine::store::Event;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{AppError, Problem};
use crate::extract::{parse_id, Auth, Path, Query};
use crate::wire::{EventOut, EventSummary, ExecutionOut, ListOf, ListParams, ReplayOut};
use crate::AppState;

/// `?status=&limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventListParams {
    /// Only events with this status.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A connector's events, newest first.
#[utoipa::path(get, path = "/connectors/{id}/events", tag = "events",
    params(("id" = String, Path), EventListParams),
    responses((status = 200, body = ListOf<EventSummary>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Query(params): Query<EventListParams>,
) -> Result<axum::Json<ListOf<EventSummary>>, AppError> {
    let c = super::connectors::load(&state, &ws, &id).await?;
    let status = match params.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<EventStatus>()
                .map_err(|e| AppError::bad_request(e.to_string()))?,
        ),
        None => None,
    };
    let page = ListParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .page::<EventId>()?;
    let found = state.store.list_events(&ws, &c.id, status, &page).await?;
    Ok(axum::Json(ListOf {
        data: found.items.iter().map(Into::into).collect(),
        next_cursor: found.next_cursor,
    }))
}

/// One event: the request as received and what was understood of it.
#[utoipa::path(get, path = "/events/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = EventOut), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<EventOut>, AppError> {
    let id: EventId = parse_id(&id, "event")?;
    let e = state
        .store
        .get_event(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("event"))?;
    let mut out: EventOut = (&e).into();
    if let Some(exe) = &e.execution_id {
        out.execution = execution_out(&state, &ws, exe).await?;
    }
    Ok(axum::Json(out))
}

async fn execution_out(
    state: &AppState,
    ws: &hookflow_core::WorkspaceId,
    id: &ExecutionId,
) -> Result<Option<ExecutionOut>, AppError> {
    let Some(execution) = state.store.get_execution(ws, id).await? else {
        return Ok(None);
    };
    let steps = state.store.journal(id).await?;
    Ok(Some(ExecutionOut::new(&execution, &steps)))
}

/// One execution with its journal: each step's status, rendered input, output, error and timing.
#[utoipa::path(get, path = "/executions/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = ExecutionOut), (status = 404, body = Problem)))]
pub async fn execution(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ExecutionOut>, AppError> {
    let id: ExecutionId = parse_id(&id, "execution")?;
    let out = execution_out(&state, &ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("execution"))?;
    Ok(axum::Json(out))
}

/// `?version=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReplayParams {
    /// Run this version of the connector document instead of the current one.
    pub version: Option<i64>,
}

/// Run a logged event again, as a new execution.
#[utoipa::path(post, path = "/events/{id}/replay", tag = "events", params(("id" = String, Path), ReplayParams),
    responses((status = 202, body = ReplayOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn replay(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Query(params): Query<ReplayParams>,
) -> Result<(axum::http::StatusCode, axum::Json<ReplayOut>), AppError> {
    let id: EventId = parse_id(&id, "event")?;
    let event = state
        .store
        .get_event(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("event"))?;
    readable(&event)?;
    let connector = state
        .store
        .get_connector(&ws, &event.connector_id)
        .await?
        .ok_or_else(|| AppError::not_found("event"))?;
    let version = match params.version {
        Some(v) => {
            state
                .store
                .get_version(&ws, &connector.id, v)
                .await?
                .ok_or_else(|| AppError::not_found("version"))?
                .version
        }
        None => connector.version,
    };
    let execution = state
        .store
        .replay_event(&ws, &id, version)
        .await?
        .ok_or_else(|| AppError::not_found("event"))?;
    state.wake.notify_waiters();
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(ReplayOut {
            execution_id: execution.to_string(),
            event_id: id.to_string(),
            config_version: version,
            status: EventStatus::Received.to_string(),
        }),
    ))
}

/// Refuses to run, simulate or map an event whose stored body cannot be read back.
pub(crate) fn readable(event: &Event) -> Result<(), AppError> {
    match &event.parsed_error {
        None => Ok(()),
        Some(reason) => Err(AppError::Conflict(format!(
            "{reason}; the event can be viewed, not run or mapped"
        ))),
    }
}

/// The raw body, byte for byte, with the content type it came with. The body is the sender's,
/// not ours: a browser must not render it as a page of this origin (a `text/html` body would run
/// its scripts with the operator's session), so it is a sandboxed download that is never sniffed.
#[utoipa::path(get, path = "/events/{id}/raw", tag = "events", params(("id" = String, Path)),
    responses((status = 200, description = "the body as received"), (status = 404, body = Problem)))]
pub async fn raw(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let id: EventId = parse_id(&id, "event")?;
    let e = state
        .store
        .get_event(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("event"))?;
    let content_type = e
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
        (header::CONTENT_DISPOSITION, "attachment".to_owned()),
    ];
    Ok((headers, e.body))
}
