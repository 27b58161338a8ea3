//! What a body is understood as: the event's [`Parsed`] value, the parse itself (large bodies
//! off the async workers) and the content type an email connector parses a body as.

use bytes::Bytes;
use hookflow_payload::{BodyKind, FileMeta};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::IntakeError;

/// A body as the event keeps it. Stored as the JSON object `{"kind", "body", "custom_variables",
/// "files"}`, in that order; a rejected body has a null `kind` and `body` and no files. A stored
/// value missing a key reads back with that key's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Parsed {
    /// What the body was understood as; `None` when it was rejected.
    pub kind: Option<BodyKind>,
    /// The body as JSON; null when it was rejected.
    pub body: Value,
    /// The query string's variables.
    pub custom_variables: Map<String, Value>,
    /// Files of a multipart body, attachments of an email.
    pub files: Vec<FileMeta>,
}

/// Content types an email connector parses as they are; anything else is taken as a raw message.
pub(crate) fn email_content_type(content_type: Option<&str>) -> Option<String> {
    let essence = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some(e) if e.starts_with("multipart/") || e.contains("json") || e == "application/x-www-form-urlencoded" => {
            content_type.map(str::to_owned)
        }
        _ => Some("message/rfc822".to_owned()),
    }
}

/// Bodies up to this size are parsed on the thread that received them, where a hop to another
/// thread would cost more than the parse; larger ones take long enough (a 10 MB body, tens of
/// milliseconds) to hold up every other request on that thread, `/healthz` included.
pub(crate) const INLINE_PARSE_MAX: usize = 64 * 1024;

/// Parses request bodies: small ones inline, large ones on the blocking pool, as many at once
/// as there are cores, so that a burst of large bodies neither stalls the async workers nor
/// crowds them out with a thread per request.
pub(crate) struct BodyParser {
    slots: tokio::sync::Semaphore,
}

impl Default for BodyParser {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            slots: tokio::sync::Semaphore::new(cores),
        }
    }
}

impl BodyParser {
    /// The `parsed` value of the event, and why the body was rejected if it was; see
    /// [`understand`].
    ///
    /// Panics if the semaphore was closed, which nothing does (an invariant).
    pub(crate) async fn parse(
        &self,
        content_type: Option<String>,
        body: Bytes,
        custom_variables: Map<String, Value>,
    ) -> Result<(Parsed, Option<String>), IntakeError> {
        if body.len() <= INLINE_PARSE_MAX {
            return Ok(understand(content_type.as_deref(), &body, custom_variables));
        }
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("invariant: the semaphore is never closed");
        tokio::task::spawn_blocking(move || understand(content_type.as_deref(), &body, custom_variables))
            .await
            .map_err(|e| IntakeError::Internal(format!("parsing a body failed: {e}")))
    }
}

/// Parses a body into the [`Parsed`] value an event keeps and the reason it was rejected. The
/// body moves into the value: it can be megabytes.
pub(crate) fn understand(
    content_type: Option<&str>,
    body: &[u8],
    custom_variables: Map<String, Value>,
) -> (Parsed, Option<String>) {
    match hookflow_payload::parse_body(content_type, body, &custom_variables) {
        Ok(parsed) => (
            Parsed {
                kind: Some(parsed.kind),
                body: parsed.body,
                custom_variables,
                files: parsed.files,
            },
            None,
        ),
        Err(e) => (
            Parsed {
                custom_variables,
                ..Parsed::default()
            },
            Some(e.to_string()),
        ),
    }
}
