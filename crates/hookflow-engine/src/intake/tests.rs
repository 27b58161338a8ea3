//! Intake's decisions, without a server or a database.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hookflow_core::{ConnectorId, EventSource, EventStatus, Timestamp, WorkspaceId};
use hookflow_expr::Templates;
use serde_json::{json, Map, Value};

use super::body::{email_content_type, understand};
use super::limit::{rate_limit, RateLimiter};
use super::{admission, decide, parse_as, IncomingRequest, IntakeError, Parsed, Reply};
use crate::store::{IngestTarget, NewEvent};

fn target(document: Value) -> IngestTarget {
    IngestTarget {
        connector_id: ConnectorId::new(),
        workspace_id: WorkspaceId::new(),
        event_source: EventSource::Webhook,
        enabled: true,
        version: 3,
        document,
        has_structure: false,
    }
}

fn request(content_type: &str, body: &str) -> IncomingRequest {
    IncomingRequest {
        method: "POST".into(),
        path: "/orders".into(),
        query: "shop=eu".into(),
        headers: vec![("content-type".into(), content_type.into())],
        content_type: Some(content_type.into()),
        body: Bytes::copy_from_slice(body.as_bytes()),
        received_at: Timestamp::from_millis(1_700_000_000_000),
    }
}

/// The whole of intake but the parse task and the write: what `body` sent to a connector with
/// `document` becomes.
fn check(document: Value, content_type: &str, body: &str) -> (IngestTarget, NewEvent, Reply) {
    let target = target(document);
    let request = request(content_type, body);
    let vars = hookflow_payload::parse_query(&request.query);
    let (parsed, error) = understand(parse_as(target.event_source, &request).as_deref(), &request.body, vars);
    let (event, reply) = decide(&Templates::new(), &target, request, parsed, error);
    (target, event, reply)
}

const STEPS: &str = r#"[{"kind": "filter", "conditions": []}]"#;

fn with_steps(mut document: Value) -> Value {
    document["steps"] = serde_json::from_str(STEPS).unwrap();
    document
}

#[test]
fn an_accepted_event_is_stored_as_received_and_answered_with_its_id() {
    let (target, event, reply) = check(with_steps(json!({})), "application/json", r#"{"a": 1}"#);
    assert_eq!(event.status, EventStatus::Received);
    assert!(event.execution.is_some() && event.error.is_none() && !event.nothing_to_run);
    assert!(
        event.capture_structure,
        "the first event of a connector without a structure"
    );
    assert_eq!((event.connector_id, event.config_version), (target.connector_id, 3));
    assert_eq!(
        (event.method.as_str(), event.path.as_str(), event.query.as_str()),
        ("POST", "/orders", "shop=eu")
    );
    assert_eq!(event.body, br#"{"a": 1}"#);
    assert_eq!(event.order_group, None);
    assert_eq!(
        serde_json::to_string(&event.parsed).unwrap(),
        r#"{"kind":"json","body":{"a":1},"custom_variables":{"shop":"eu"},"files":[]}"#
    );
    assert_eq!(
        reply,
        Reply {
            status: 200,
            content_type: "application/json".into(),
            body: json!({"status": "accepted", "event_id": event.id}).to_string(),
        }
    );
}

#[test]
fn a_body_that_cannot_be_understood_is_stored_as_rejected_and_answered_400() {
    let (_, event, reply) = check(with_steps(json!({})), "application/json", r#"{"a": "#);
    assert_eq!(event.status, EventStatus::Rejected);
    let detail = event.error.clone().expect("a reason");
    assert!(event.execution.is_none() && !event.nothing_to_run && !event.capture_structure);
    assert_eq!(event.order_group, None);
    assert_eq!(
        serde_json::to_string(&event.parsed).unwrap(),
        r#"{"kind":null,"body":null,"custom_variables":{"shop":"eu"},"files":[]}"#
    );
    assert_eq!(
        (reply.status, reply.content_type.as_str()),
        (400, "application/problem+json")
    );
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        body,
        json!({"type": "/docs/problems#invalid-body", "title": "Bad Request", "status": 400,
            "detail": detail, "event_id": event.id})
    );
}

#[test]
fn a_document_without_steps_or_mapping_runs_nothing_and_is_not_ordered() {
    let ordered = json!({"ordering": {"key": "{{ event.body.a }}"}});
    let (_, event, _) = check(ordered.clone(), "application/json", r#"{"a": 1}"#);
    assert!(event.nothing_to_run && event.execution.is_some());
    assert_eq!(event.order_group, None);

    let mapped = json!({"ordering": {"key": "{{ event.body.a }}"}, "field_mapping": {"x": "{{ event.body.a }}"}});
    let (_, event, _) = check(mapped, "application/json", r#"{"a": 1}"#);
    assert!(!event.nothing_to_run);
    assert!(event.order_group.is_some());

    let (_, event, _) = check(json!({"steps": [], "field_mapping": {}}), "text/plain", "hi");
    assert!(event.nothing_to_run);
    let (_, event, _) = check(with_steps(ordered), "application/json", r#"{"a": 1}"#);
    assert!(!event.nothing_to_run);
}

#[test]
fn the_ordering_key_is_rendered_over_the_event_and_prefixed_with_the_connector() {
    let document = |key: &str| with_steps(json!({"ordering": {"key": key}}));
    let (target, event, _) = check(
        document("{{ event.body.customer }}-{{ event.custom_variables.shop }}"),
        "application/json",
        r#"{"customer": " c1"}"#,
    );
    assert_eq!(
        event.order_group,
        Some(format!("order:{}:c1-eu", target.connector_id)),
        "trimmed"
    );

    let (_, event, _) = check(document("{{ event.body.missing }}"), "application/json", "{}");
    assert_eq!(event.order_group, None, "an empty key leaves the execution unordered");
    let (_, event, _) = check(document("{{ event.body"), "application/json", "{}");
    assert_eq!(event.order_group, None, "so does one that does not compile");

    let long = "k".repeat(201);
    let (target, event, _) = check(
        document("{{ event.body.k }}"),
        "application/json",
        &json!({"k": long}).to_string(),
    );
    let group = event.order_group.unwrap();
    let hashed = group.strip_prefix(&format!("order:{}:sha256:", target.connector_id));
    assert_eq!(hashed.map(str::len), Some(64), "{group}");
    let (_, event, _) = check(
        document("{{ event.body.k }}"),
        "application/json",
        &json!({"k": &long[..200]}).to_string(),
    );
    assert!(
        event.order_group.unwrap().ends_with(&long[..200]),
        "200 bytes are kept as they are"
    );
}

#[test]
fn the_response_map_is_rendered_over_the_event() {
    let document = with_steps(json!({"response": {"status": 201, "content_type": "text/xml",
        "body": "<ok id=\"{{ event.id }}\">{{ event.body.a }} {{ event.method }} {{ event.kind }}</ok>"}}));
    let (_, event, reply) = check(document, "application/json", r#"{"a": 7}"#);
    assert_eq!(
        reply,
        Reply {
            status: 201,
            content_type: "text/xml".into(),
            body: format!("<ok id=\"{}\">7 POST json</ok>", event.id),
        }
    );

    let (_, _, reply) = check(json!({"response": {}}), "text/plain", "hi");
    assert_eq!(
        (reply.status, reply.content_type.as_str(), reply.body.as_str()),
        (200, "text/plain; charset=utf-8", ""),
        "the defaults of a response map"
    );
    let (_, _, reply) = check(json!({"response": {"body": "{{ event.body"}}), "text/plain", "hi");
    assert_eq!(reply.body, "", "a body that does not compile is empty");
    let (_, _, reply) = check(json!({"response": {"status": 70_000}}), "text/plain", "hi");
    assert_eq!(reply.status, 200, "a status beyond u16 is 200");
}

#[test]
fn an_email_connector_parses_a_body_as_a_message_unless_it_says_otherwise() {
    let cases = [
        (None, Some("message/rfc822")),
        (Some("text/plain"), Some("message/rfc822")),
        (Some("application/octet-stream"), Some("message/rfc822")),
        (
            Some("multipart/form-data; boundary=x"),
            Some("multipart/form-data; boundary=x"),
        ),
        (
            Some("Application/JSON; charset=utf-8"),
            Some("Application/JSON; charset=utf-8"),
        ),
        (Some("application/vnd.api+json"), Some("application/vnd.api+json")),
        (
            Some(" application/x-www-form-urlencoded "),
            Some(" application/x-www-form-urlencoded "),
        ),
    ];
    for (given, expected) in cases {
        assert_eq!(email_content_type(given).as_deref(), expected, "{given:?}");
    }
    let mut email = request("text/plain", "Subject: hi\r\n\r\nhello");
    assert_eq!(parse_as(EventSource::Email, &email).as_deref(), Some("message/rfc822"));
    assert_eq!(parse_as(EventSource::Webhook, &email).as_deref(), Some("text/plain"));
    email.body = Bytes::new();
    assert_eq!(
        parse_as(EventSource::Email, &email).as_deref(),
        Some("text/plain"),
        "an empty body keeps its type"
    );
}

#[test]
fn the_rate_limiter_refills_at_its_rate() {
    let limiter = RateLimiter::default();
    let per = Duration::from_secs(1);
    let t0 = Instant::now();
    assert_eq!(limiter.take("con_a", 2.0, per, t0), Ok(()));
    assert_eq!(limiter.take("con_a", 2.0, per, t0), Ok(()));
    assert_eq!(limiter.take("con_a", 2.0, per, t0), Err(1));
    assert_eq!(
        limiter.take("con_b", 2.0, per, t0),
        Ok(()),
        "each connector has its bucket"
    );
    let later = t0 + Duration::from_millis(500);
    assert_eq!(
        limiter.take("con_a", 2.0, per, later),
        Ok(()),
        "half a second is one token"
    );
    assert_eq!(limiter.take("con_a", 2.0, per, later), Err(1));
    let slow = Duration::from_secs(60);
    assert_eq!(limiter.take("con_c", 1.0, slow, t0), Ok(()));
    assert_eq!(
        limiter.take("con_c", 1.0, slow, t0),
        Err(60),
        "seconds until a token is free"
    );

    assert_eq!(
        rate_limit(&json!({"rate_limit": {"requests": 10, "per": "1m"}})),
        Some((10.0, Duration::from_secs(60)))
    );
    assert_eq!(
        rate_limit(&json!({"rate_limit": {"requests": 10}})),
        Some((10.0, per)),
        "per a second by default"
    );
    assert_eq!(rate_limit(&json!({})), None);
    assert_eq!(
        rate_limit(&json!({"rate_limit": {"requests": 10, "per": "soon"}})),
        None
    );
}

#[test]
fn a_connector_turned_off_or_over_its_limit_is_not_admitted() {
    let limiter = RateLimiter::default();
    let now = Instant::now();
    let mut off = target(json!({}));
    off.enabled = false;
    let refused = admission(&limiter, &off, now).unwrap_err();
    assert_eq!(refused, IntakeError::Disabled { retry_after: 60 });
    assert_eq!(refused.to_string(), "this connector is turned off");

    let limited = target(json!({"rate_limit": {"requests": 1, "per": "2s"}}));
    assert_eq!(admission(&limiter, &limited, now), Ok(()));
    let refused = admission(&limiter, &limited, now).unwrap_err();
    assert_eq!(
        refused,
        IntakeError::RateLimited {
            requests: 1.0,
            per: Duration::from_secs(2),
            retry_after: 2
        }
    );
    assert_eq!(refused.to_string(), "this connector takes at most 1 requests per 2s");
    assert_eq!(
        IntakeError::Unavailable { retry_after: 5 }.to_string(),
        "the event could not be stored; nothing was accepted, send it again"
    );
}

#[test]
fn parsed_reads_back_the_stored_shape() {
    let stored = r#"{"kind":"multipart","body":{"f":{"filename":"a.txt","content_type":"text/plain","size":1,"sha256":"x"}},"custom_variables":{"b":"2","a":"1"},"files":[{"field":"f","filename":"a.txt","content_type":"text/plain","size":1,"sha256":"x"}]}"#;
    let parsed: Parsed = serde_json::from_str(stored).unwrap();
    assert_eq!(parsed.kind, Some(hookflow_payload::BodyKind::Multipart));
    assert_eq!(parsed.files[0].field, "f");
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        stored,
        "written back byte for byte"
    );

    let rejected: Parsed =
        serde_json::from_str(r#"{"kind":null,"body":null,"custom_variables":{},"files":[]}"#).unwrap();
    assert_eq!(rejected, Parsed::default());
    let without_files: Parsed = serde_json::from_str(r#"{"kind":"json","body":[1],"custom_variables":{}}"#).unwrap();
    assert_eq!(
        without_files,
        Parsed {
            kind: Some(hookflow_payload::BodyKind::Json),
            body: json!([1]),
            custom_variables: Map::new(),
            files: Vec::new(),
        }
    );
}
