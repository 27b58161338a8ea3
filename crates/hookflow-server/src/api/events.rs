//! The event log.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use hookflow_core::{EventId, EventStatus};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{AppError, Problem};
use crate::extract::{parse_id, Auth, Path, Query};
use crate::wire::{EventOut, EventSummary, ListOf, ListParams};
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
    Ok(axum::Json((&e).into()))
}

/// The raw body, byte for byte, with the content type it came with.
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
    Ok(([(header::CONTENT_TYPE, content_type)], e.body))
}
