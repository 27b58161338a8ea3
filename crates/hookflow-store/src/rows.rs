//! Turning rows into records.

use hookflow_core::{ConnectorId, EventId, ExecutionId, JobId, SubscriptionId, Timestamp, WorkspaceId};
use hookflow_engine::intake::Parsed;
use hookflow_engine::store::{Connector, Counts, Event, Job, JobRow, Stats, StoreResult, Subscription, Version};
use hookflow_engine::StoreError;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;

use crate::db::{col, col_parsed, json};
use crate::SqlStore;

type R<T> = Result<T, StoreError>;

fn opt_json(text: Option<String>, what: &str) -> R<Option<Value>> {
    text.map(|t| json(&t, what)).transpose()
}

pub const CONNECTOR_COLUMNS: &str = "id, workspace_id, name, description, event_source, enabled, token, version, \
     document, structure, sample_custom_variables, created_at, updated_at";

pub fn connector(row: &AnyRow) -> R<Connector> {
    Ok(Connector {
        id: ConnectorId::from_trusted(col(row, "id")?),
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        name: col(row, "name")?,
        description: col(row, "description")?,
        event_source: col_parsed(row, "event_source")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        token: col(row, "token")?,
        version: col(row, "version")?,
        document: json(&col::<String>(row, "document")?, "document")?,
        structure: opt_json(col(row, "structure")?, "structure")?,
        sample_custom_variables: opt_json(col(row, "sample_custom_variables")?, "sample_custom_variables")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

pub fn version(row: &AnyRow) -> R<Version> {
    Ok(Version {
        version: col(row, "version")?,
        document: json(&col::<String>(row, "document")?, "document")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        note: col(row, "note")?,
    })
}

pub const EVENT_COLUMNS: &str = "id, workspace_id, connector_id, received_at, status, config_version, method, path, \
     query, headers, content_type, body, parsed, error, execution_id";

pub fn event(row: &AnyRow) -> R<Event> {
    event_prefixed(row, "")
}

/// An event from columns named `{prefix}{column}`: a join selects them as `e.id AS e_id`, ….
pub fn event_prefixed(row: &AnyRow, prefix: &str) -> R<Event> {
    let name = |column: &'static str| -> std::borrow::Cow<'static, str> {
        if prefix.is_empty() {
            column.into()
        } else {
            format!("{prefix}{column}").into()
        }
    };
    let headers: Vec<(String, String)> = json(&col::<String>(row, &name("headers"))?, "headers")?;
    // A body the reader cannot take marks the event unreadable, rather than failing every page
    // that lists the event and every run that loads it.
    let (parsed, parsed_error) = match json(&col::<String>(row, &name("parsed"))?, "body") {
        Ok(parsed) => (parsed, None),
        // What stands for it: the shape of a rejected event's.
        Err(e) => (Parsed::default(), Some(e.to_string())),
    };
    Ok(Event {
        id: EventId::from_trusted(col(row, &name("id"))?),
        workspace_id: WorkspaceId::from_trusted(col(row, &name("workspace_id"))?),
        connector_id: ConnectorId::from_trusted(col(row, &name("connector_id"))?),
        received_at: Timestamp::from_millis(col(row, &name("received_at"))?),
        status: col_parsed(row, &name("status"))?,
        config_version: col(row, &name("config_version"))?,
        method: col(row, &name("method"))?,
        path: col(row, &name("path"))?,
        query: col(row, &name("query"))?,
        headers,
        content_type: col(row, &name("content_type"))?,
        body: col(row, &name("body"))?,
        parsed,
        parsed_error,
        error: col(row, &name("error"))?,
        execution_id: col::<Option<String>>(row, &name("execution_id"))?.map(ExecutionId::from_trusted),
    })
}

pub const STATS_COLUMNS: &str = "received, succeeded, failed, filtered, rejected, \
     r_received, r_succeeded, r_failed, r_filtered, r_rejected, reset_at";

pub fn stats(row: &AnyRow) -> R<Stats> {
    let counts = |p: &str| -> R<Counts> {
        Ok(Counts {
            received: col(row, &format!("{p}received"))?,
            succeeded: col(row, &format!("{p}succeeded"))?,
            failed: col(row, &format!("{p}failed"))?,
            filtered: col(row, &format!("{p}filtered"))?,
            rejected: col(row, &format!("{p}rejected"))?,
        })
    };
    Ok(Stats {
        lifetime: counts("")?,
        since_reset: counts("r_")?,
        reset_at: col::<Option<i64>>(row, "reset_at")?.map(Timestamp::from_millis),
    })
}

pub const JOB_COLUMNS: &str =
    "id, kind, workspace_id, target_id, state, run_at, attempts, lease_owner, lease_until, last_error, group_key, \
     reclaims";

pub fn job(row: &AnyRow) -> R<Job> {
    Ok(Job {
        id: JobId::from_trusted(col(row, "id")?),
        kind: col_parsed(row, "kind")?,
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        target_id: col(row, "target_id")?,
        attempts: col(row, "attempts")?,
        run_at: Timestamp::from_millis(col(row, "run_at")?),
        lease_until: Timestamp::from_millis(col::<Option<i64>>(row, "lease_until")?.unwrap_or_default()),
        worker: col::<Option<String>>(row, "lease_owner")?.unwrap_or_default(),
        group_key: col(row, "group_key")?,
        reclaims: col(row, "reclaims")?,
        fresh: false,
    })
}

pub fn job_row(row: &AnyRow) -> R<JobRow> {
    Ok(JobRow {
        id: JobId::from_trusted(col(row, "id")?),
        kind: col_parsed(row, "kind")?,
        target_id: col(row, "target_id")?,
        state: col_parsed(row, "state")?,
        attempts: col(row, "attempts")?,
        run_at: Timestamp::from_millis(col(row, "run_at")?),
        lease_owner: col(row, "lease_owner")?,
        last_error: col(row, "last_error")?,
        reclaims: col(row, "reclaims")?,
    })
}

pub(crate) const SUBSCRIPTION_COLUMNS: &str =
    "id, workspace_id, url, description, event_types, connector_ids, headers, extra_fields, \
     enabled, secret, previous_secret, previous_until, disabled_reason, failing_since, created_at, updated_at";

pub(crate) fn object(text: &str, what: &str) -> StoreResult<Map<String, Value>> {
    match json(text, what)? {
        Value::Object(m) => Ok(m),
        _ => Err(StoreError::internal(format!("{what} is not an object"))),
    }
}

pub(crate) fn millis(row: &AnyRow, name: &str) -> StoreResult<Option<Timestamp>> {
    Ok(col::<Option<i64>>(row, name)?.map(Timestamp::from_millis))
}

/// A subscription row; with the store, its secrets and headers opened. Emitting needs neither,
/// and runs inside transactions of free functions: it reads rows without (`None`).
pub(crate) fn subscription(row: &AnyRow, store: Option<&SqlStore>) -> StoreResult<Subscription> {
    let open = |column: &str, sealed_as: &str| -> StoreResult<Option<String>> {
        match (store, col::<Option<String>>(row, column)?) {
            (Some(store), Some(stored)) => store.unseal(sealed_as, &stored).map(Some),
            (None, Some(_)) => Ok(Some(String::new())),
            (_, None) => Ok(None),
        }
    };

    let headers = open("headers", "subscriptions.headers")?.unwrap_or_default();
    let headers = if headers.is_empty() { "{}".to_owned() } else { headers };
    Ok(Subscription {
        id: SubscriptionId::from_trusted(col(row, "id")?),
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        url: col(row, "url")?,
        description: col(row, "description")?,
        event_types: json(&col::<String>(row, "event_types")?, "event types")?,
        connector_ids: json(&col::<String>(row, "connector_ids")?, "connector ids")?,
        headers: object(&headers, "headers")?,
        extra_fields: object(&col::<String>(row, "extra_fields")?, "extra_fields")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        secret: open("secret", "subscriptions.secret")?.unwrap_or_default(),
        previous_secret: open("previous_secret", "subscriptions.secret")?,
        previous_until: millis(row, "previous_until")?,
        disabled_reason: col(row, "disabled_reason")?,
        failing_since: millis(row, "failing_since")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}
