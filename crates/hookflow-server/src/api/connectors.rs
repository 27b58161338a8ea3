//! Connectors: CRUD, the document and its versions, the URL, structure,
//! attributes and stats.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use hookflow_core::{ConnectorId, EventId, EventSource};
use hookflow_engine::document::{self, FieldError};
use hookflow_engine::intake::{BodyKind, Parsed};
use hookflow_engine::store::{Connector, ConnectorPatch, NewConnector};
use serde_json::Value;

use crate::error::{AppError, Problem};
use crate::extract::{parse_id, Auth, Json, Path, Query};
use crate::wire::{
    AttributeOut, ConnectorOut, CreateConnector, ListOf, ListParams, SimulateRequest, SimulationOut, StatsOut,
    UpdateConnector, VersionOut,
};
use crate::AppState;

/// How many elements of each array the attribute list shows.
const ATTRIBUTE_ARRAY_ITEMS: usize = 100;

pub(crate) async fn load(state: &AppState, ws: &hookflow_core::WorkspaceId, raw: &str) -> Result<Connector, AppError> {
    let id: ConnectorId = parse_id(raw, "connector")?;
    state
        .store
        .get_connector(ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("connector"))
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    } else if trimmed.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be at most 200 characters"));
    }
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) {
    if description.chars().count() > 2000 {
        errors.push(FieldError::new("description", "must be at most 2000 characters"));
    }
}

/// The sources whose events reach hookflow today; both arrive on the connector URL. A
/// `schedule` or `internal` connector (SPEC section 2) would be saved and never get an event.
const IMPLEMENTED_SOURCES: &[EventSource] = &[EventSource::Webhook, EventSource::Email];

/// The connector's `event_source` (`webhook` when not given), if hookflow implements it.
fn event_source(given: Option<&str>) -> Result<EventSource, FieldError> {
    let name = given.unwrap_or("webhook");
    let implemented = || {
        let names: Vec<&str> = IMPLEMENTED_SOURCES.iter().map(|s| s.as_str()).collect();
        names.join(" or ")
    };
    match name.parse::<EventSource>() {
        Ok(source) if IMPLEMENTED_SOURCES.contains(&source) => Ok(source),
        Ok(_) => Err(FieldError::new(
            "event_source",
            format!("`{name}` connectors are not implemented yet; use {}", implemented()),
        )),
        Err(_) => Err(FieldError::new(
            "event_source",
            format!("`{name}` is not an event source; use {}", implemented()),
        )),
    }
}

/// Splits and checks a document as sent; answers the versioned part and the structure.
pub(crate) fn checked_document(state: &AppState, sent: Value) -> Result<(Value, Option<Value>), AppError> {
    let (doc, structure) = document::split(sent).map_err(AppError::validation)?;
    let mut errors = document::check_templates(&doc, &state.templates);
    if let Err(step_errors) = hookflow_engine::steps::compile(&doc, &state.templates) {
        errors.extend(step_errors);
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    Ok((doc, structure))
}

fn with_version(body: Value, version: i64) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        headers.insert(header::ETAG, v);
    }
    (headers, axum::Json(body))
}

/// Create a connector; its URL is ready at once.
#[utoipa::path(post, path = "/connectors", tag = "connectors", request_body = CreateConnector,
    responses((status = 201, body = ConnectorOut), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<CreateConnector>,
) -> Result<(StatusCode, axum::Json<ConnectorOut>), AppError> {
    let mut errors = Vec::new();
    check_name(&req.name, &mut errors);
    check_description(&req.description, &mut errors);
    let event_source = event_source(req.event_source.as_deref()).unwrap_or_else(|e| {
        errors.push(e);
        EventSource::Webhook
    });
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let (doc, structure) = match req.config {
        Some(sent) => checked_document(&state, sent).map_err(|e| prefix_paths(e, "config"))?,
        None => (document::empty(), None),
    };
    let mut connector = state
        .store
        .create_connector(NewConnector {
            id: ConnectorId::new(),
            workspace_id: ws.clone(),
            name: req.name.trim().to_owned(),
            description: req.description.trim().to_owned(),
            event_source,
            token: hookflow_core::secret::new_connector_token(),
            document: doc.clone(),
        })
        .await?;
    if let Some(structure) = structure {
        // Keep version 1 as the creation; record the structure with it.
        state
            .store
            .set_structure(&ws, &connector.id, &structure, &Value::Object(Default::default()))
            .await?;
        connector.structure = Some(structure);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(ConnectorOut::new(&connector, &state.config.public_url)),
    ))
}

fn prefix_paths(e: AppError, prefix: &str) -> AppError {
    match e {
        AppError::Validation { errors, .. } => AppError::validation(
            errors
                .into_iter()
                .map(|f| {
                    let path = if f.path.is_empty() {
                        prefix.to_owned()
                    } else {
                        format!("{prefix}.{}", f.path)
                    };
                    FieldError::new(path, f.message)
                })
                .collect(),
        ),
        other => other,
    }
}

/// List connectors, newest first.
#[utoipa::path(get, path = "/connectors", tag = "connectors", params(ListParams),
    responses((status = 200, body = ListOf<ConnectorOut>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<ListOf<ConnectorOut>>, AppError> {
    let page = state.store.list_connectors(&ws, &params.page::<ConnectorId>()?).await?;
    Ok(axum::Json(ListOf {
        data: page
            .items
            .iter()
            .map(|c| ConnectorOut::new(c, &state.config.public_url))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get one connector.
#[utoipa::path(get, path = "/connectors/{id}", tag = "connectors", params(("id" = String, Path)),
    responses((status = 200, body = ConnectorOut), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ConnectorOut>, AppError> {
    let c = load(&state, &ws, &id).await?;
    Ok(axum::Json(ConnectorOut::new(&c, &state.config.public_url)))
}

/// Rename, describe, or turn a connector on or off.
#[utoipa::path(patch, path = "/connectors/{id}", tag = "connectors", params(("id" = String, Path)),
    request_body = UpdateConnector,
    responses((status = 200, body = ConnectorOut), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateConnector>,
) -> Result<axum::Json<ConnectorOut>, AppError> {
    let mut errors = Vec::new();
    if let Some(name) = &req.name {
        check_name(name, &mut errors);
    }
    if let Some(description) = &req.description {
        check_description(description, &mut errors);
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let id: ConnectorId = parse_id(&id, "connector")?;
    let patch = ConnectorPatch {
        name: req.name.map(|n| n.trim().to_owned()),
        description: req.description.map(|d| d.trim().to_owned()),
        enabled: req.enabled,
    };
    let c = state
        .store
        .update_connector(&ws, &id, &patch)
        .await?
        .ok_or_else(|| AppError::not_found("connector"))?;
    Ok(axum::Json(ConnectorOut::new(&c, &state.config.public_url)))
}

/// Delete a connector with its versions, events and stats.
#[utoipa::path(delete, path = "/connectors/{id}", tag = "connectors", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id: ConnectorId = parse_id(&id, "connector")?;
    if state.store.delete_connector(&ws, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("connector"))
    }
}

/// The whole connector document (SPEC section 10). The `ETag` is its version.
#[utoipa::path(get, path = "/connectors/{id}/config", tag = "connectors", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get_config(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let c = load(&state, &ws, &id).await?;
    Ok(with_version(
        document::merge(&c.document, c.structure.as_ref()),
        c.version,
    ))
}

/// Replace the connector document; every save is a new version.
#[utoipa::path(put, path = "/connectors/{id}/config", tag = "connectors", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn put_config(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Json(sent): Json<Value>,
) -> Result<impl IntoResponse, AppError> {
    let id: ConnectorId = parse_id(&id, "connector")?;
    let (doc, structure) = checked_document(&state, sent)?;
    let c = state
        .store
        .save_document(&ws, &id, &doc, structure.as_ref(), "saved")
        .await?
        .ok_or_else(|| AppError::not_found("connector"))?;
    Ok(with_version(
        document::merge(&c.document, c.structure.as_ref()),
        c.version,
    ))
}

/// The saved versions, newest first (the last 20 are kept).
#[utoipa::path(get, path = "/connectors/{id}/versions", tag = "connectors", params(("id" = String, Path)),
    responses((status = 200, body = ListOf<VersionOut>), (status = 404, body = Problem)))]
pub async fn versions(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ListOf<VersionOut>>, AppError> {
    let c = load(&state, &ws, &id).await?;
    let versions = state.store.list_versions(&ws, &c.id).await?;
    Ok(axum::Json(ListOf {
        data: versions.iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// Restore a version: its document becomes a new version. The structure stays as it is.
#[utoipa::path(post, path = "/connectors/{id}/versions/{version}/restore", tag = "connectors",
    params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path((id, version)): Path<(String, i64)>,
) -> Result<impl IntoResponse, AppError> {
    let c = load(&state, &ws, &id).await?;
    let old = state
        .store
        .get_version(&ws, &c.id, version)
        .await?
        .ok_or_else(|| AppError::not_found("version"))?;
    let saved = state
        .store
        .save_document(&ws, &c.id, &old.document, None, &format!("restored from {version}"))
        .await?
        .ok_or_else(|| AppError::not_found("connector"))?;
    Ok(with_version(
        document::merge(&saved.document, saved.structure.as_ref()),
        saved.version,
    ))
}

/// Give the connector a new URL; the old one answers 404 at once.
#[utoipa::path(post, path = "/connectors/{id}/rotate-url", tag = "connectors", params(("id" = String, Path)),
    responses((status = 200, body = ConnectorOut), (status = 404, body = Problem)))]
pub async fn rotate_url(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ConnectorOut>, AppError> {
    let id: ConnectorId = parse_id(&id, "connector")?;
    let token = hookflow_core::secret::new_connector_token();
    let c = state
        .store
        .rotate_connector_token(&ws, &id, &token)
        .await?
        .ok_or_else(|| AppError::not_found("connector"))?;
    Ok(axum::Json(ConnectorOut::new(&c, &state.config.public_url)))
}

/// Every attribute a template can use: event fields, the captured structure's
/// nodes under `body`, the query-string `custom_variables`, and system values.
#[utoipa::path(get, path = "/connectors/{id}/attributes", tag = "connectors", params(("id" = String, Path)),
    responses((status = 200, body = ListOf<AttributeOut>), (status = 404, body = Problem)))]
pub async fn attributes(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ListOf<AttributeOut>>, AppError> {
    let c = load(&state, &ws, &id).await?;
    Ok(axum::Json(ListOf {
        data: attribute_list(&c),
        next_cursor: None,
    }))
}

fn attribute_list(c: &Connector) -> Vec<AttributeOut> {
    let fixed = |path: &str, root: &str, kind: &str, source: &str| AttributeOut {
        path: path.to_owned(),
        template: format!("{{{{ {root}.{path} }}}}"),
        kind: kind.to_owned(),
        sample: Value::Null,
        source: source.to_owned(),
    };
    let mut out = vec![
        fixed("id", "event", "string", "event"),
        fixed("method", "event", "string", "event"),
        fixed("received_at", "event", "string", "event"),
    ];
    let mut add = |prefix: &str, value: Option<&Value>| {
        if let Some(value) = value {
            out.extend(
                hookflow_payload::attributes(prefix, value, ATTRIBUTE_ARRAY_ITEMS)
                    .into_iter()
                    .map(|a| AttributeOut {
                        path: a.path,
                        template: a.template,
                        kind: a.kind.to_owned(),
                        sample: a.sample,
                        source: prefix.to_owned(),
                    }),
            );
        }
    };
    add("body", c.structure.as_ref());
    add("custom_variables", c.sample_custom_variables.as_ref());
    for (path, kind) in [("now", "string"), ("timezone", "string"), ("workspace_id", "string")] {
        let mut a = fixed(path, "system", kind, "system");
        a.template = format!("{{{{ system.{path} }}}}");
        out.push(a);
    }
    out
}

/// Re-map the structure from a logged event (no new version is made).
#[utoipa::path(post, path = "/connectors/{id}/structure/from-event/{event_id}", tag = "connectors",
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn structure_from_event(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path((id, event_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, AppError> {
    let c = load(&state, &ws, &id).await?;
    let event_id: EventId = parse_id(&event_id, "event")?;
    let event = state
        .store
        .get_event(&ws, &event_id)
        .await?
        .filter(|e| e.connector_id == c.id);
    let event = event.ok_or_else(|| AppError::not_found("event"))?;
    super::events::readable(&event)?;
    let body = &event.parsed.body;
    if body.is_null() {
        return Err(AppError::bad_request("this event was rejected and has no body to map"));
    }
    let vars = Value::Object(event.parsed.custom_variables.clone());
    state.store.set_structure(&ws, &c.id, body, &vars).await?;
    let c = load(&state, &ws, &c.id.to_string()).await?;
    Ok(with_version(
        document::merge(&c.document, c.structure.as_ref()),
        c.version,
    ))
}

/// Events received, succeeded, failed, filtered and rejected: lifetime and since the last reset.
#[utoipa::path(get, path = "/connectors/{id}/stats", tag = "connectors", params(("id" = String, Path)),
    responses((status = 200, body = StatsOut), (status = 404, body = Problem)))]
pub async fn stats(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<StatsOut>, AppError> {
    let id: ConnectorId = parse_id(&id, "connector")?;
    let s = state
        .store
        .stats(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("connector"))?;
    Ok(axum::Json((&s).into()))
}

/// Start the since-reset counts over.
#[utoipa::path(post, path = "/connectors/{id}/stats/reset", tag = "connectors", params(("id" = String, Path)),
    responses((status = 200, body = StatsOut), (status = 404, body = Problem)))]
pub async fn reset_stats(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<StatsOut>, AppError> {
    let id: ConnectorId = parse_id(&id, "connector")?;
    let s = state
        .store
        .reset_stats(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("connector"))?;
    Ok(axum::Json((&s).into()))
}

/// Run the steps on a sample payload (or a logged event): every side effect is
/// recorded, none is performed, delays are skipped, and nothing is stored.
#[utoipa::path(post, path = "/connectors/{id}/simulate", tag = "connectors", params(("id" = String, Path)),
    request_body = SimulateRequest,
    responses((status = 200, body = SimulationOut), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn simulate(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Json(req): Json<SimulateRequest>,
) -> Result<axum::Json<SimulationOut>, AppError> {
    let c = load(&state, &ws, &id).await?;
    let document = match req.config {
        Some(sent) => checked_document(&state, sent).map_err(|e| prefix_paths(e, "config"))?.0,
        None => c.document.clone(),
    };
    let now = hookflow_core::Timestamp::now();
    let event = match (&req.event_id, req.payload) {
        (Some(_), Some(_)) => return Err(AppError::bad_request("give a payload or an event_id, not both")),
        (Some(event_id), None) => {
            let event_id: EventId = parse_id(event_id, "event")?;
            let e = state
                .store
                .get_event(&ws, &event_id)
                .await?
                .filter(|e| e.connector_id == c.id);
            let e = e.ok_or_else(|| AppError::not_found("event"))?;
            super::events::readable(&e)?;
            hookflow_engine::context::event_value(e.id.as_str(), &e.method, e.received_at, &e.headers, &e.parsed)
        }
        (None, payload) => {
            let headers: Vec<(String, String)> = req
                .headers
                .as_ref()
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| {
                            (
                                k.to_ascii_lowercase(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let parsed = Parsed {
                kind: Some(BodyKind::Json),
                body: payload.unwrap_or_else(|| serde_json::json!({})),
                ..Parsed::default()
            };
            let mut event = hookflow_engine::context::event_value("evt_simulated", "POST", now, &headers, &parsed);
            // A sample's variables are taken as they were sent, an object or not.
            event["custom_variables"] = req.custom_variables.unwrap_or_else(|| serde_json::json!({}));
            event
        }
    };
    let outcome = hookflow_engine::executor::simulate(&*state.store, &state.templates, &ws, &document, event)
        .await?
        .map_err(AppError::validation)?;
    Ok(axum::Json(SimulationOut {
        status: outcome.status.to_string(),
        error: outcome.error,
        steps: outcome.steps.iter().map(Into::into).collect(),
        side_effects: outcome.side_effects,
    }))
}
