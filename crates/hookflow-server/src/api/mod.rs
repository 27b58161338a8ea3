//! The management API under `/api/v1`, and its OpenAPI document.
//!
//! Routes are registered through `utoipa_axum`, so a route exists exactly
//! when it is documented.

pub mod channels;
pub mod connectors;
pub mod contacts;
pub mod events;
pub mod secrets;
pub mod subscriptions;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, Problem};
use crate::extract::Auth;
use crate::extract::Json;
use crate::wire::{UpdateWorkspace, WorkspaceSettingsOut};
use crate::AppState;
use axum::extract::State;
use hookflow_engine::document::FieldError;

#[derive(OpenApi)]
#[openapi(
    info(title = "hookflow management API", version = "1", description = "Connectors, events and their logs. \
        Authenticate with `Authorization: Bearer <token>`; errors are `application/problem+json` (RFC 9457)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(Problem)),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The token's workspace and its settings.
#[utoipa::path(get, path = "/workspace", tag = "workspace",
    responses((status = 200, body = WorkspaceSettingsOut), (status = 401, body = Problem)))]
async fn workspace(
    State(state): State<AppState>,
    Auth(ws): Auth,
) -> Result<axum::Json<WorkspaceSettingsOut>, AppError> {
    let w = state
        .store
        .get_workspace(&ws)
        .await?
        .ok_or_else(|| AppError::not_found("workspace"))?;
    Ok(axum::Json((&w).into()))
}

/// Rename the workspace, set its timezone or the default country of local mobile numbers.
#[utoipa::path(patch, path = "/workspace", tag = "workspace", request_body = UpdateWorkspace,
    responses((status = 200, body = WorkspaceSettingsOut), (status = 400, body = Problem)))]
async fn update_workspace(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<UpdateWorkspace>,
) -> Result<axum::Json<WorkspaceSettingsOut>, AppError> {
    let mut errors = Vec::new();
    if let Some(tz) = &req.timezone {
        if jiff::tz::TimeZone::get(tz).is_err() {
            errors.push(FieldError::new(
                "timezone",
                format!("`{tz}` is not a timezone (use an IANA name like Asia/Kolkata)"),
            ));
        }
    }
    let country = req
        .default_country
        .clone()
        .map(|c| c.map(|c| c.trim().to_ascii_uppercase()));
    if let Some(Some(c)) = &country {
        if c.parse::<phonenumber::country::Id>().is_err() {
            errors.push(FieldError::new(
                "default_country",
                format!("`{c}` is not an ISO 3166 alpha-2 country code"),
            ));
        }
    }
    if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.push(FieldError::new("name", "must not be empty"));
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let w = state
        .store
        .update_workspace(
            &ws,
            req.name.as_deref().map(str::trim),
            req.timezone.as_deref(),
            country.as_ref().map(Option::as_deref),
        )
        .await?
        .ok_or_else(|| AppError::not_found("workspace"))?;
    Ok(axum::Json((&w).into()))
}

/// The API routes (relative to `/api/v1`) and their OpenAPI document.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(workspace, update_workspace))
        .routes(routes!(contacts::create, contacts::list))
        .routes(routes!(contacts::get, contacts::update, contacts::delete))
        .routes(routes!(contacts::add_tags))
        .routes(routes!(contacts::remove_tag))
        .routes(routes!(contacts::list_attributes, contacts::define_attribute))
        .routes(routes!(contacts::delete_attribute))
        .routes(routes!(contacts::list_members, contacts::create_member))
        .routes(routes!(contacts::get_member, contacts::delete_member))
        .routes(routes!(subscriptions::event_types))
        .routes(routes!(subscriptions::create, subscriptions::list))
        .routes(routes!(
            subscriptions::get,
            subscriptions::update,
            subscriptions::delete
        ))
        .routes(routes!(subscriptions::rotate_secret))
        .routes(routes!(subscriptions::test))
        .routes(routes!(subscriptions::recover))
        .routes(routes!(subscriptions::deliveries))
        .routes(routes!(subscriptions::delivery))
        .routes(routes!(subscriptions::retry))
        .routes(routes!(secrets::create, secrets::list))
        .routes(routes!(secrets::replace, secrets::delete))
        .routes(routes!(channels::create, channels::list))
        .routes(routes!(channels::get, channels::update, channels::delete))
        .routes(routes!(connectors::create, connectors::list))
        .routes(routes!(connectors::get, connectors::update, connectors::delete))
        .routes(routes!(connectors::get_config, connectors::put_config))
        .routes(routes!(connectors::versions))
        .routes(routes!(connectors::restore))
        .routes(routes!(connectors::rotate_url))
        .routes(routes!(connectors::attributes))
        .routes(routes!(connectors::structure_from_event))
        .routes(routes!(connectors::stats))
        .routes(routes!(connectors::reset_stats))
        .routes(routes!(events::list))
        .routes(routes!(events::get))
        .routes(routes!(events::raw))
        .routes(routes!(events::replay))
        .routes(routes!(events::execution))
        .routes(routes!(connectors::simulate))
        .split_for_parts();
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    (router, doc)
}
