//! The management API under `/api/v1`, and its OpenAPI document.
//!
//! Routes are registered through `utoipa_axum`, so a route exists exactly
//! when it is documented.

pub mod connectors;
pub mod events;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, Problem};
use crate::extract::Auth;
use crate::wire::WorkspaceOut;
use crate::AppState;

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

/// The workspace the token belongs to.
#[utoipa::path(get, path = "/workspace", tag = "workspace",
    responses((status = 200, body = WorkspaceOut), (status = 401, body = Problem)))]
async fn workspace(Auth(ws): Auth) -> Result<axum::Json<WorkspaceOut>, AppError> {
    Ok(axum::Json(WorkspaceOut { id: ws.to_string() }))
}

/// The API routes (relative to `/api/v1`) and their OpenAPI document.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(workspace))
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
