//! Channels: configured ways to send messages. Credentials are write-only.

use axum::extract::State;
use axum::http::StatusCode;
use hookflow_core::{ChannelId, Timestamp};
use hookflow_engine::channels;
use hookflow_engine::document::FieldError;
use hookflow_engine::store::Channel;
use serde_json::Value;

use crate::error::{AppError, Problem};
use crate::extract::{parse_id, Auth, Json, Path};
use crate::wire::{ChannelOut, CreateChannel, ListOf, UpdateChannel};
use crate::AppState;

fn checked(kind: &str, settings: &Value, credentials: &Value) -> Result<(), AppError> {
    let errors = channels::check(kind, settings, credentials);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::validation(errors))
    }
}

fn object_or_empty(v: Value) -> Value {
    if v.is_null() {
        Value::Object(Default::default())
    } else {
        v
    }
}

/// Add a channel. The answer shows which credentials are set, never their values.
#[utoipa::path(post, path = "/channels", tag = "channels", request_body = CreateChannel,
    responses((status = 201, body = ChannelOut), (status = 400, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<CreateChannel>,
) -> Result<(StatusCode, axum::Json<ChannelOut>), AppError> {
    if req.name.trim().is_empty() {
        return Err(AppError::validation(vec![FieldError::new("name", "must not be empty")]));
    }
    let (settings, credentials) = (object_or_empty(req.settings), object_or_empty(req.credentials));
    checked(&req.kind, &settings, &credentials)?;
    let now = Timestamp::now();
    let channel = Channel {
        id: ChannelId::new(),
        workspace_id: ws,
        name: req.name.trim().to_owned(),
        kind: req.kind,
        settings,
        credentials,
        created_at: now,
        updated_at: now,
    };
    state.store.create_channel(&channel).await?;
    Ok((StatusCode::CREATED, axum::Json((&channel).into())))
}

/// The workspace's channels.
#[utoipa::path(get, path = "/channels", tag = "channels", responses((status = 200, body = ListOf<ChannelOut>)))]
pub async fn list(State(state): State<AppState>, Auth(ws): Auth) -> Result<axum::Json<ListOf<ChannelOut>>, AppError> {
    let found = state.store.list_channels(&ws).await?;
    Ok(axum::Json(ListOf {
        data: found.iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// One channel.
#[utoipa::path(get, path = "/channels/{id}", tag = "channels", params(("id" = String, Path)),
    responses((status = 200, body = ChannelOut), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ChannelOut>, AppError> {
    let id: ChannelId = parse_id(&id, "channel")?;
    let c = state
        .store
        .get_channel(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    Ok(axum::Json((&c).into()))
}

/// Rename a channel or replace its settings or credentials.
#[utoipa::path(patch, path = "/channels/{id}", tag = "channels", params(("id" = String, Path)), request_body = UpdateChannel,
    responses((status = 200, body = ChannelOut), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateChannel>,
) -> Result<axum::Json<ChannelOut>, AppError> {
    let id: ChannelId = parse_id(&id, "channel")?;
    let current = state
        .store
        .get_channel(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    let settings = req.settings.map(object_or_empty);
    let credentials = req.credentials.map(object_or_empty);
    checked(
        &current.kind,
        settings.as_ref().unwrap_or(&current.settings),
        credentials.as_ref().unwrap_or(&current.credentials),
    )?;
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let c = state
        .store
        .update_channel(&ws, &id, name, settings.as_ref(), credentials.as_ref())
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    Ok(axum::Json((&c).into()))
}

/// Delete a channel.
#[utoipa::path(delete, path = "/channels/{id}", tag = "channels", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id: ChannelId = parse_id(&id, "channel")?;
    if state.store.delete_channel(&ws, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("channel"))
    }
}
