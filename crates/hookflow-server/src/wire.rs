//! The JSON shapes of the management API (SPEC section 12).

use hookflow_engine::store::{Connector, Counts, Event, Execution, Stats, StepRecord, Version};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;

/// A list page: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListOf<T> {
    pub data: Vec<T>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `?limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// How many items, 1 to 500; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    /// Checks the limit and that the cursor is an id of the listed kind.
    pub fn page<T: std::str::FromStr>(&self) -> Result<hookflow_engine::store::PageRequest, AppError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(AppError::bad_request(format!(
                "limit must be from 1 to 500, not {limit}"
            )));
        }
        if let Some(cursor) = &self.cursor {
            cursor
                .parse::<T>()
                .map_err(|_| AppError::bad_request(format!("`{cursor}` is not a cursor of this list")))?;
        }
        Ok(hookflow_engine::store::PageRequest {
            limit,
            cursor: self.cursor.clone(),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorOut {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `webhook`, `email`, `schedule` or `internal`.
    pub event_source: String,
    pub enabled: bool,
    /// The secret URL to paste into the sending app.
    pub url: String,
    /// The current version of the connector document.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl ConnectorOut {
    pub fn new(c: &Connector, public_url: &str) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            event_source: c.event_source.to_string(),
            enabled: c.enabled,
            url: format!("{}/hooks/{}", public_url.trim_end_matches('/'), c.token),
            version: c.version,
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnector {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `webhook` (default), `email`, `schedule` or `internal`.
    pub event_source: Option<String>,
    /// An initial connector document (SPEC section 10).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnector {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// One attribute a template can use.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeOut {
    /// Path under the `event` root, e.g. `body.order.id`.
    pub path: String,
    /// The template that reads it, e.g. `{{ event.body.order.id }}`.
    pub template: String,
    /// `string`, `integer`, `number`, `boolean`, `null`, `object` or `array`.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub sample: Value,
    /// `body`, `custom_variables`, `event` or `system`.
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventSummary {
    pub id: String,
    pub connector_id: String,
    pub received_at: String,
    /// `received`, `running`, `waiting`, `succeeded`, `filtered`, `failed` or `rejected`.
    pub status: String,
    pub method: String,
    pub content_type: Option<String>,
    /// Size of the raw body in bytes.
    pub size: usize,
    /// Why the request was rejected, when it was.
    pub error: Option<String>,
}

impl From<&Event> for EventSummary {
    fn from(e: &Event) -> Self {
        Self {
            id: e.id.to_string(),
            connector_id: e.connector_id.to_string(),
            received_at: e.received_at.to_rfc3339(),
            status: e.status.to_string(),
            method: e.method.clone(),
            content_type: e.content_type.clone(),
            size: e.body.len(),
            error: e.error.clone(),
        }
    }
}

/// One event with its request as received and what was understood of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    #[serde(flatten)]
    pub summary: EventSummary,
    /// Anything after the connector token in the URL path.
    pub path: String,
    /// The raw query string.
    pub query: String,
    #[schema(value_type = Object)]
    pub headers: Value,
    #[schema(value_type = Object)]
    pub custom_variables: serde_json::Map<String, Value>,
    /// `empty`, `json`, `form`, `multipart`, `xml`, `text`, `email` or `binary`.
    pub kind: Option<String>,
    /// The body as understood (null when rejected, or when it cannot be read back).
    #[schema(value_type = Object)]
    pub body: Value,
    /// Why the stored body cannot be read back (an event logged before payload limits, nested
    /// deeper than the reader allows); such an event cannot run.
    pub body_error: Option<String>,
    /// Files of a multipart body or attachments of an email.
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<hookflow_engine::intake::FileMeta>,
    /// The raw body as text, when it is valid UTF-8.
    pub raw_body: Option<String>,
    /// The raw body, base64 (standard alphabet).
    pub raw_body_base64: String,
    /// The version of the connector document the event runs on.
    pub config_version: i64,
    pub execution_id: Option<String>,
    /// The latest execution of the event with its journal.
    pub execution: Option<ExecutionOut>,
}

impl From<&Event> for EventOut {
    fn from(e: &Event) -> Self {
        use base64::Engine;
        Self {
            summary: e.into(),
            path: e.path.clone(),
            query: e.query.clone(),
            headers: masked_headers(&e.headers),
            custom_variables: e.parsed.custom_variables.clone(),
            kind: e.parsed.kind.map(|k| k.as_str().to_owned()),
            body: e.parsed.body.clone(),
            body_error: e.parsed_error.clone(),
            files: e.parsed.files.clone(),
            raw_body: String::from_utf8(e.body.clone()).ok(),
            raw_body_base64: base64::engine::general_purpose::STANDARD.encode(&e.body),
            config_version: e.config_version,
            execution_id: e.execution_id.as_ref().map(ToString::to_string),
            execution: None,
        }
    }
}

/// Request headers that carry the sender's credentials; the log shows them masked.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

fn masked_headers(headers: &[(String, String)]) -> Value {
    let mut out = hookflow_engine::context::headers_object(headers);
    if let Some(map) = out.as_object_mut() {
        for name in CREDENTIAL_HEADERS {
            if let Some(v) = map.get_mut(*name) {
                *v = Value::String("[redacted]".into());
            }
        }
    }
    out
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountsOut {
    pub received: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub filtered: i64,
    pub rejected: i64,
}

impl From<&Counts> for CountsOut {
    fn from(c: &Counts) -> Self {
        Self {
            received: c.received,
            succeeded: c.succeeded,
            failed: c.failed,
            filtered: c.filtered,
            rejected: c.rejected,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    pub lifetime: CountsOut,
    pub since_reset: CountsOut,
    /// When the stats were last reset; null if never.
    pub reset_at: Option<String>,
}

impl From<&Stats> for StatsOut {
    fn from(s: &Stats) -> Self {
        Self {
            lifetime: (&s.lifetime).into(),
            since_reset: (&s.since_reset).into(),
            reset_at: s.reset_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionOut {
    pub version: i64,
    pub created_at: String,
    /// Why it was made: `created`, `saved`, `restored from N`, `imported`.
    pub note: String,
    /// The document as saved, without its structure.
    #[schema(value_type = Object)]
    pub document: Value,
}

impl From<&Version> for VersionOut {
    fn from(v: &Version) -> Self {
        Self {
            version: v.version,
            created_at: v.created_at.to_rfc3339(),
            note: v.note.clone(),
            document: v.document.clone(),
        }
    }
}

/// One entry of an execution's journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    /// Unique in the execution: the step id, prefixed by the iterations holding it (`each[2].line`).
    pub key: String,
    pub id: String,
    #[serde(rename = "type")]
    pub step_type: String,
    /// `succeeded`, `filtered`, `waiting`, `retrying` or `failed`.
    pub status: String,
    /// The step's configuration as rendered for this run.
    #[schema(value_type = Object)]
    pub input: Value,
    #[schema(value_type = Object)]
    pub output: Value,
    pub error: Option<String>,
    /// Attributes the step's templates named that the event did not have.
    pub missing: Vec<String>,
    pub started_at: String,
    pub duration_ms: i64,
    pub attempts: i64,
    /// Every outbound attempt of an action: `attempt`, `at`, `status`, `latency_ms`, `response` (first KiB), `error`.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: Vec<Value>,
}

impl From<&StepRecord> for StepOut {
    fn from(r: &StepRecord) -> Self {
        Self {
            key: r.key.clone(),
            id: r.step_id.clone(),
            step_type: r.step_type.clone(),
            status: r.status.to_string(),
            input: r.input.clone(),
            output: r.output.clone(),
            error: r.error.clone(),
            missing: r.missing.clone(),
            started_at: r.started_at.to_rfc3339(),
            duration_ms: r.duration_ms,
            attempts: r.attempts,
            attempt_log: r.attempt_log.clone(),
        }
    }
}

/// One run of a connector's steps for one event, with its journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionOut {
    pub id: String,
    pub event_id: String,
    pub connector_id: String,
    /// `received`, `running`, `waiting`, `succeeded`, `filtered` or `failed`.
    pub status: String,
    /// The version of the connector document it ran.
    pub config_version: i64,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub steps: Vec<StepOut>,
}

impl ExecutionOut {
    pub fn new(e: &Execution, steps: &[StepRecord]) -> Self {
        Self {
            id: e.id.to_string(),
            event_id: e.event_id.to_string(),
            connector_id: e.connector_id.to_string(),
            status: e.status.to_string(),
            config_version: e.config_version,
            error: e.error.clone(),
            created_at: e.created_at.to_rfc3339(),
            started_at: e.started_at.map(|t| t.to_rfc3339()),
            finished_at: e.finished_at.map(|t| t.to_rfc3339()),
            steps: steps.iter().map(Into::into).collect(),
        }
    }
}

/// What to simulate: a payload (or a logged event) through the saved document or one given here.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// A sample body, used as `event.body`.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// A logged event of this connector to run instead of a payload.
    pub event_id: Option<String>,
    /// Query-string variables for a payload.
    #[schema(value_type = Option<Object>)]
    pub custom_variables: Option<Value>,
    /// Request headers for a payload.
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Value>,
    /// A connector document to try instead of the saved one.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

/// The journal of a simulation; nothing was stored or sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulationOut {
    pub status: String,
    pub error: Option<String>,
    pub steps: Vec<StepOut>,
    /// What a real run would have done: storage changes, delays, calls.
    #[schema(value_type = Vec<Object>)]
    pub side_effects: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOut {
    pub execution_id: String,
    pub event_id: String,
    pub config_version: i64,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceSettingsOut {
    pub id: String,
    pub name: String,
    /// IANA timezone for `system.timezone`.
    pub timezone: String,
    /// ISO 3166 alpha-2 country of local mobile numbers, or null.
    pub default_country: Option<String>,
    pub created_at: String,
}

impl From<&hookflow_engine::store::WorkspaceSettings> for WorkspaceSettingsOut {
    fn from(w: &hookflow_engine::store::WorkspaceSettings) -> Self {
        Self {
            id: w.id.to_string(),
            name: w.name.clone(),
            timezone: w.timezone.clone(),
            default_country: w.default_country.clone(),
            created_at: w.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    pub name: Option<String>,
    pub timezone: Option<String>,
    /// Set to null to clear.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub default_country: Option<Option<String>>,
}

/// Tells a field that is absent (`None`) from one set to null (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    pub name: String,
    pub email: String,
    pub created_at: String,
}

impl From<&hookflow_engine::store::Member> for MemberOut {
    fn from(m: &hookflow_engine::store::Member) -> Self {
        Self {
            id: m.id.to_string(),
            name: m.name.clone(),
            email: m.email.clone(),
            created_at: m.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecret {
    /// Written `{{ secrets.NAME }}` in documents: letters, digits and `_`.
    pub name: String,
    /// Encrypted at rest; never shown again.
    pub value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    pub value: String,
}

/// A secret of the workspace, without its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretOut {
    pub name: String,
    /// How documents write it.
    pub reference: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&hookflow_engine::store::SecretInfo> for SecretOut {
    fn from(s: &hookflow_engine::store::SecretInfo) -> Self {
        Self {
            name: s.name.clone(),
            reference: format!("{{{{ secrets.{} }}}}", s.name),
            created_at: s.created_at.to_rfc3339(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOut {
    pub id: String,
    pub name: String,
    /// E.164.
    pub mobile: Option<String>,
    pub email: Option<String>,
    /// The default channel's id.
    pub channel: Option<String>,
    /// The owning member's id.
    pub owner: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&hookflow_engine::store::Contact> for ContactOut {
    fn from(c: &hookflow_engine::store::Contact) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            mobile: c.mobile.clone(),
            email: c.email.clone(),
            channel: c.channel_id.as_ref().map(ToString::to_string),
            owner: c.owner_id.as_ref().map(ToString::to_string),
            tags: c.tags.clone(),
            attributes: c.attributes.clone(),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

/// A new contact, or changes to one (absent fields stay as they are).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    pub name: Option<String>,
    /// Any common format; stored as E.164 (local numbers use the workspace's default country).
    pub mobile: Option<String>,
    pub email: Option<String>,
    /// A channel id.
    pub channel: Option<String>,
    /// A member id or email.
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom attributes to set; null removes one.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsIn {
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeDefinitionOut {
    pub name: String,
    /// `text`, `number`, `boolean`, `date` or `json`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelOut {
    /// The channel's unique id, usable in dynamic channel mapping.
    pub id: String,
    pub name: String,
    /// `whatsapp_cloud`, `smtp`, `sms_http` or `http`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub settings: Value,
    /// The names of the credentials that are set; their values are never shown.
    pub credentials_set: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&hookflow_engine::store::Channel> for ChannelOut {
    fn from(c: &hookflow_engine::store::Channel) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            kind: c.kind.clone(),
            settings: c.settings.clone(),
            credentials_set: hookflow_engine::channels::credential_names(&c.credentials),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Write-only: tokens, passwords, secret headers.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub credentials: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannel {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Replaces all credentials when given.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
}
