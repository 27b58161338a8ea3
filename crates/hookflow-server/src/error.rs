//! `AppError`: every failure of a handler, turned into an RFC 9457
//! `application/problem+json` answer without side effects.
//!
//! Server errors send a generic body; their real message rides along in a
//! response extension that [`log_server_errors`] writes to the log inside the
//! request's span.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hookflow_engine::document::FieldError;
use hookflow_engine::StoreError;
use serde::Serialize;

/// The `errors` member of a validation problem.
pub type FieldErrors = Vec<FieldError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    BadRequest { detail: String },
    #[error("the request is invalid")]
    Validation { detail: String, errors: FieldErrors },
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the body did not arrive in time; send it again")]
    RequestTimeout,
    #[error("this route does not answer {method}")]
    MethodNotAllowed { method: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u32 },
    #[error("{detail}")]
    Unavailable { detail: String, retry_after: u32 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest { detail: detail.into() }
    }

    pub fn validation(errors: FieldErrors) -> Self {
        let detail = match errors.as_slice() {
            [one] if one.path.is_empty() => one.message.clone(),
            [one] => format!("{}: {}", one.path, one.message),
            many => format!("{} problems; see errors", many.len()),
        };
        Self::Validation { detail, errors }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not Found"),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "Bad Request"),
            Self::Validation { .. } => (StatusCode::BAD_REQUEST, "validation", "Invalid request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload Too Large"),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request-timeout", "Request Timeout"),
            Self::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method Not Allowed",
            ),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too Many Requests"),
            Self::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service Unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal Server Error"),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { detail, .. } => Self::Conflict(detail),
            e @ StoreError::Unavailable { .. } => {
                tracing::warn!(error = %e, "Database unavailable.");
                Self::Unavailable {
                    detail: "the database is unavailable; try again shortly".into(),
                    retry_after: 5,
                }
            }
            StoreError::Corrupt(m) => Self::Internal(m),
            e @ StoreError::Internal { .. } => Self::Internal(error_chain(&e)),
        }
    }
}

/// An error with its causes, `: `-separated, for the log line of a 500.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field-level problems of a validation error.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<FieldErrors>,
}

/// The message of a server error, for the logging middleware only.
#[derive(Clone)]
struct ServerErrorMessage(String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let detail = match &self {
            Self::Internal(_) => "the server failed to handle this request; it has been logged".to_owned(),
            Self::Validation { detail, .. } => detail.clone(),
            other => other.to_string(),
        };
        let errors = match &self {
            Self::Validation { errors, .. } => Some(errors.clone()),
            _ => None,
        };
        let problem = Problem {
            kind: format!("/docs/problems#{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            axum::Json(problem),
        )
            .into_response();
        match self {
            Self::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unavailable { retry_after, .. } | Self::TooManyRequests { retry_after, .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Self::Internal(message) => {
                response.extensions_mut().insert(ServerErrorMessage(message));
            }
            // The rest of a late body may still be on its way: the connection cannot be reused.
            Self::RequestTimeout => {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        // The JSON extractor sets `application/json`; keep ours.
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Logs the real message of every 5xx answer, inside the request span.
pub async fn log_server_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(ServerErrorMessage(message)) = response.extensions().get::<ServerErrorMessage>() {
        tracing::error!(error = %message, "Request failed.");
    }
    response
}

/// Answers unknown routes with a problem body.
pub async fn fallback() -> AppError {
    AppError::NotFound("no such route".into())
}

/// Answers a known route called with a method it does not take with a problem body (the router
/// adds the `Allow` header).
pub async fn method_not_allowed(method: axum::http::Method) -> AppError {
    AppError::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// The error a request body fails with when it did not arrive within the body timeout
/// (`serve::Limits::body_timeout`); extractors and the ingest endpoint answer it with 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub std::time::Duration);

/// Whether `error`, or an error it wraps, is a [`BodyTimeout`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<BodyTimeout>() {
            return true;
        }
        current = e.source();
    }
    false
}
