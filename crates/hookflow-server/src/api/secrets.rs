//! The workspace secret store: values are written and never shown again. Documents reference
//! them as `{{ secrets.NAME }}`; executions render them and the journal masks them.

use axum::extract::State;
use axum::http::StatusCode;
use hookflow_engine::document::FieldError;

use crate::error::{AppError, Problem};
use crate::extract::{Auth, Json, Path};
use crate::wire::{CreateSecret, ListOf, PutSecret, SecretOut};
use crate::AppState;

/// The longest secret value kept.
const MAX_VALUE: usize = 16 * 1024;

/// A name usable after `secrets.` in a template: a letter or `_`, then letters, digits, `_`.
fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let mut chars = name.chars();
    let ok = name.len() <= 64
        && chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    if !ok {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 64 letters, digits or `_`, not starting with a digit (it is written {{ secrets.NAME }})",
        ));
    }
}

fn check_value(value: &str, errors: &mut Vec<FieldError>) {
    if value.is_empty() {
        errors.push(FieldError::new("value", "must not be empty"));
    } else if value.len() > MAX_VALUE {
        errors.push(FieldError::new("value", format!("must be at most {MAX_VALUE} bytes")));
    }
}

/// List the workspace's secrets, by name (values are never shown).
#[utoipa::path(get, path = "/secrets", tag = "secrets",
    responses((status = 200, body = ListOf<SecretOut>)))]
pub async fn list(State(state): State<AppState>, Auth(ws): Auth) -> Result<axum::Json<ListOf<SecretOut>>, AppError> {
    let secrets = state.store.list_secrets(&ws).await?;
    Ok(axum::Json(ListOf {
        data: secrets.iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// Store a secret. Its value is encrypted at rest and never shown again.
#[utoipa::path(post, path = "/secrets", tag = "secrets", request_body = CreateSecret,
    responses((status = 201, body = SecretOut), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<CreateSecret>,
) -> Result<(StatusCode, axum::Json<SecretOut>), AppError> {
    let mut errors = Vec::new();
    check_name(&req.name, &mut errors);
    check_value(&req.value, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let created = state.store.put_secret(&ws, &req.name, &req.value, true).await?;
    let created = created.ok_or_else(|| AppError::not_found("secret"))?;
    Ok((StatusCode::CREATED, axum::Json((&created).into())))
}

/// Replace a secret's value.
#[utoipa::path(put, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path)), request_body = PutSecret,
    responses((status = 200, body = SecretOut), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(name): Path<String>,
    Json(req): Json<PutSecret>,
) -> Result<axum::Json<SecretOut>, AppError> {
    let mut errors = Vec::new();
    check_value(&req.value, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let replaced = state.store.put_secret(&ws, &name, &req.value, false).await?;
    let replaced = replaced.ok_or_else(|| AppError::not_found("secret"))?;
    Ok(axum::Json((&replaced).into()))
}

/// Delete a secret. Documents that still name it render it empty.
#[utoipa::path(delete, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.store.delete_secret(&ws, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("secret"))
    }
}
