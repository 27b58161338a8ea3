//! What hookflow tells its subscriptions: the type and data of every message, built here and only
//! here. The store writes a [`Message`] in the transaction of the change it announces, wrapped in
//! its [`envelope`].

use hookflow_core::{ConnectorId, EventStatus, EventType, SubscriptionId, Timestamp};
use serde_json::{json, Value};

use crate::store::{Contact, NewEvent};

/// One announcement: its type, the connector it concerns (subscriptions may filter on it) and its
/// data.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub event_type: EventType,
    pub connector: Option<ConnectorId>,
    pub data: Value,
}

/// The body a subscriber receives: `{type, timestamp, data}`.
pub fn envelope(event_type: &EventType, at: Timestamp, data: &Value) -> Value {
    json!({"type": event_type.as_str(), "timestamp": at.to_rfc3339(), "data": data})
}

/// `event.received` or `event.rejected` for an ingested event.
pub fn event_logged(e: &NewEvent) -> Message {
    let (event_type, data) = match e.status {
        EventStatus::Rejected => (
            EventType::EventRejected,
            json!({"event_id": e.id, "connector_id": e.connector_id,
            "received_at": e.received_at.to_rfc3339(), "method": e.method, "content_type": e.content_type,
            "size": e.body.len(), "error": e.error}),
        ),
        _ => (
            EventType::EventReceived,
            json!({"event_id": e.id, "connector_id": e.connector_id,
            "received_at": e.received_at.to_rfc3339(), "method": e.method, "content_type": e.content_type,
            "size": e.body.len(), "execution_id": e.execution}),
        ),
    };
    Message {
        event_type,
        connector: Some(e.connector_id.clone()),
        data,
    }
}

/// What an ended execution was, for [`execution_ended`].
#[derive(Debug, Clone, Copy)]
pub struct Ended<'a> {
    pub execution: &'a str,
    pub event: &'a str,
    pub connector: &'a str,
    pub status: EventStatus,
    pub error: Option<&'a str>,
    pub config_version: i64,
    pub finished_at: Timestamp,
}

/// `execution.succeeded`, `.failed` or `.filtered`; `None` when `status` does not end one.
pub fn execution_ended(end: Ended<'_>) -> Option<Message> {
    let event_type = EventType::of_execution(end.status)?;
    Some(Message {
        event_type,
        connector: Some(ConnectorId::from_trusted(end.connector.to_owned())),
        data: json!({"execution_id": end.execution, "event_id": end.event, "connector_id": end.connector,
            "status": end.status.as_str(), "error": end.error, "config_version": end.config_version,
            "finished_at": end.finished_at.to_rfc3339()}),
    })
}

/// A contact as messages carry it.
pub fn contact_data(c: &Contact) -> Value {
    json!({
        "id": c.id, "name": c.name, "mobile": c.mobile, "email": c.email, "channel": c.channel_id, "owner": c.owner_id,
        "tags": c.tags, "attributes": c.attributes, "created_at": c.created_at.to_rfc3339(), "updated_at": c.updated_at.to_rfc3339(),
    })
}

/// `contact.created` or `contact.updated`, then `contact.tagged` when tags were added.
pub fn contact_changed(c: &Contact, created: bool, tags_added: &[String]) -> Vec<Message> {
    let event_type = if created {
        EventType::ContactCreated
    } else {
        EventType::ContactUpdated
    };
    let mut messages = vec![Message {
        event_type,
        connector: None,
        data: contact_data(c),
    }];
    if !tags_added.is_empty() {
        messages.push(Message {
            event_type: EventType::ContactTagged,
            connector: None,
            data: json!({"contact": contact_data(c), "tags_added": tags_added}),
        });
    }
    messages
}

/// `subscription.disabled`.
pub fn subscription_disabled(id: &str, url: &str, reason: &str, at: Timestamp) -> Message {
    Message {
        event_type: EventType::SubscriptionDisabled,
        connector: None,
        data: json!({"subscription_id": id, "url": url, "reason": reason, "disabled_at": at.to_rfc3339()}),
    }
}

/// `subscription.test`, sent to one subscription when asked.
pub fn subscription_test(id: &SubscriptionId) -> Message {
    Message {
        event_type: EventType::SubscriptionTest,
        connector: None,
        data: json!({"subscription_id": id, "message": "This is a test event from hookflow."}),
    }
}

/// A `custom.*` event from an `emit_event` step of an execution of `connector`.
pub fn custom(event_type: EventType, connector: &ConnectorId, data: Value) -> Message {
    Message {
        event_type,
        connector: Some(connector.clone()),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_execution_is_announced_only_when_it_ended() {
        let end = Ended {
            execution: "exe_1",
            event: "evt_1",
            connector: "con_1",
            status: EventStatus::Failed,
            error: Some("step `crm`: 503"),
            config_version: 4,
            finished_at: Timestamp::from_millis(0),
        };
        let m = execution_ended(end).unwrap();
        assert_eq!(m.event_type, EventType::ExecutionFailed);
        assert_eq!(m.data["error"], "step `crm`: 503");
        assert_eq!(m.data["finished_at"], "1970-01-01T00:00:00.000Z");
        assert!(execution_ended(Ended {
            status: EventStatus::Running,
            ..end
        })
        .is_none());
    }

    #[test]
    fn the_envelope_names_the_type() {
        let body = envelope(&EventType::ContactTagged, Timestamp::from_millis(0), &json!({"a": 1}));
        assert_eq!(body["type"], "contact.tagged");
        assert_eq!(body["data"]["a"], 1);
    }
}
