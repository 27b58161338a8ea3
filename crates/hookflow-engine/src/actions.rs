//! Action steps that leave hookflow: `http_request`, `send_message` and
//! `send_email`. This module checks their configuration, renders it over an
//! execution's context, and builds the exact requests each channel kind
//! expects; `run.rs` sends them through `hookflow-delivery`.

use std::time::Duration;

use hookflow_core::retry::RetryPolicy;
use hookflow_expr::{Template, Templates};
use serde_json::{json, Map, Value};

use crate::document::FieldError;

/// The longest an action may wait for its peer.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A JSON value whose strings are templates, compiled.
#[derive(Clone)]
pub enum Shape {
    Template(Template),
    Array(Vec<Shape>),
    Object(Vec<(String, Shape)>),
    Literal(Value),
}

impl Shape {
    pub fn compile(value: &Value, path: &str, templates: &Templates, errors: &mut Vec<FieldError>) -> Shape {
        match value {
            Value::String(s) => match templates.compile(s) {
                Ok(t) => Shape::Template(t),
                Err(e) => {
                    errors.push(FieldError::new(path, format!("template error: {e}")));
                    Shape::Literal(Value::Null)
                }
            },
            Value::Array(items) => Shape::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Shape::compile(v, &format!("{path}[{i}]"), templates, errors))
                    .collect(),
            ),
            Value::Object(map) => Shape::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Shape::compile(v, &format!("{path}.{k}"), templates, errors)))
                    .collect(),
            ),
            other => Shape::Literal(other.clone()),
        }
    }

    /// Renders every template (typed), collecting missing attributes and errors.
    pub fn render(
        &self,
        templates: &Templates,
        ctx: &Value,
        missing: &mut Vec<String>,
        errors: &mut Vec<String>,
    ) -> Value {
        match self {
            Shape::Template(t) => {
                let r = templates.render(t, ctx);
                missing.extend(r.missing);
                errors.extend(r.errors);
                r.value
            }
            Shape::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|s| s.render(templates, ctx, missing, errors))
                    .collect(),
            ),
            Shape::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, s)| (k.clone(), s.render(templates, ctx, missing, errors)))
                    .collect(),
            ),
            Shape::Literal(v) => v.clone(),
        }
    }
}

/// Renders a shape to text (for URLs, headers and such).
pub fn render_text(
    shape: &Shape,
    templates: &Templates,
    ctx: &Value,
    missing: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> String {
    match shape.render(templates, ctx, missing, errors) {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[derive(Clone)]
pub enum Body {
    Json(Shape),
    Form(Vec<(String, Shape)>),
    Raw { content: Shape, content_type: String },
}

#[derive(Clone)]
pub enum Auth {
    Basic { username: Shape, password: Shape },
    Bearer { token: Shape },
    Header { name: String, value: Shape },
}

#[derive(Clone)]
pub struct HttpRequest {
    pub method: String,
    pub url: Shape,
    pub query: Vec<(String, Shape)>,
    pub headers: Vec<(String, Shape)>,
    pub body: Option<Body>,
    pub auth: Option<Auth>,
    pub timeout: Duration,
    pub follow_redirects: bool,
    pub retry: RetryPolicy,
}

/// What a `send_message` sends.
#[derive(Clone)]
pub enum Message {
    Text(Shape),
    /// `{type: image|document|video|audio, url, caption?, filename?}`
    Media(Shape),
    /// `{name, language, components?}`
    Template(Shape),
    /// `{body, buttons: [{id, title}]}`
    Buttons(Shape),
    /// `{body, button, sections: [{title, rows: [{id, title, description?}]}]}`
    List(Shape),
}

#[derive(Clone)]
pub struct SendMessage {
    /// A channel id, or a template giving one.
    pub channel: Shape,
    /// The recipient; the contact's mobile when absent.
    pub to: Option<Shape>,
    pub message: Message,
    pub retry: RetryPolicy,
}

#[derive(Clone)]
pub struct SendEmail {
    pub channel: Shape,
    /// Addresses; the contact's email when absent.
    pub to: Option<Shape>,
    pub cc: Option<Shape>,
    pub bcc: Option<Shape>,
    pub reply_to: Option<Shape>,
    pub subject: Shape,
    pub text: Option<Shape>,
    pub html: Option<Shape>,
    pub retry: RetryPolicy,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

type Errors<'a> = (&'a str, &'a mut Vec<FieldError>);

fn err(e: &mut Errors<'_>, field: &str, message: impl Into<String>) {
    let path = if field.is_empty() {
        e.0.to_owned()
    } else {
        format!("{}.{field}", e.0)
    };
    e.1.push(FieldError::new(path, message.into()));
}

fn shape(
    obj: &Map<String, Value>,
    field: &str,
    required: bool,
    templates: &Templates,
    e: &mut Errors<'_>,
) -> Option<Shape> {
    match obj.get(field) {
        None | Some(Value::Null) => {
            if required {
                err(e, field, format!("`{field}` is required"));
            }
            None
        }
        Some(v) => Some(Shape::compile(v, &format!("{}.{field}", e.0), templates, e.1)),
    }
}

fn pairs(obj: &Map<String, Value>, field: &str, templates: &Templates, e: &mut Errors<'_>) -> Vec<(String, Shape)> {
    match obj.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Shape::compile(v, &format!("{}.{field}.{k}", e.0), templates, e.1),
                )
            })
            .collect(),
        Some(_) => {
            err(e, field, "must be an object of name to value");
            Vec::new()
        }
    }
}

fn duration(obj: &Map<String, Value>, field: &str, default: Duration, max: Duration, e: &mut Errors<'_>) -> Duration {
    let Some(v) = obj.get(field).filter(|v| !v.is_null()) else {
        return default;
    };
    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    match hookflow_core::retry::parse_duration(&text) {
        Ok(d) if d.is_zero() || d > max => {
            err(e, field, format!("must be above zero and at most {}s", max.as_secs()));
            default
        }
        Ok(d) => d,
        Err(m) => {
            err(e, field, m);
            default
        }
    }
}

/// `retry: {attempts, initial_delay, max_delay}`; defaults: 5 attempts over about an hour.
fn retry(obj: &Map<String, Value>, e: &mut Errors<'_>) -> RetryPolicy {
    let default = RetryPolicy::default();
    let Some(r) = obj.get("retry").filter(|v| !v.is_null()) else {
        return default;
    };
    let Some(r) = r.as_object() else {
        err(e, "retry", "must be {attempts, initial_delay, max_delay}");
        return default;
    };
    for key in r.keys() {
        if !["attempts", "initial_delay", "max_delay"].contains(&key.as_str()) {
            err(
                e,
                &format!("retry.{key}"),
                "unknown field; expected: attempts, initial_delay, max_delay",
            );
        }
    }
    let attempts = match r.get("attempts") {
        None => default.attempts,
        Some(v) => match v.as_u64().filter(|n| (1..=20).contains(n)) {
            Some(n) => n as u32,
            None => {
                err(e, "retry.attempts", "must be a whole number from 1 to 20");
                default.attempts
            }
        },
    };
    let path = format!("{}.retry", e.0);
    let mut inner: Errors<'_> = (&path, &mut *e.1);
    let initial_delay = duration(
        r,
        "initial_delay",
        default.initial_delay,
        Duration::from_secs(86_400),
        &mut inner,
    );
    let max_delay = duration(
        r,
        "max_delay",
        default.max_delay,
        Duration::from_secs(7 * 86_400),
        &mut inner,
    );
    RetryPolicy {
        attempts,
        initial_delay,
        max_delay: max_delay.max(initial_delay),
    }
}

fn unknown(obj: &Map<String, Value>, allowed: &[&str], e: &mut Errors<'_>) {
    for key in obj.keys() {
        if !["id", "type", "name", "description"].contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            let mut all = allowed.to_vec();
            all.sort_unstable();
            err(
                e,
                key,
                format!("unknown field `{key}`; this step takes: {}", all.join(", ")),
            );
        }
    }
}

pub fn compile_http_request(
    obj: &Map<String, Value>,
    path: &str,
    templates: &Templates,
    errors: &mut Vec<FieldError>,
) -> Option<HttpRequest> {
    let before = errors.len();
    let mut e: Errors<'_> = (path, errors);
    unknown(
        obj,
        &[
            "method",
            "url",
            "query",
            "headers",
            "body",
            "body_type",
            "content_type",
            "auth",
            "timeout",
            "follow_redirects",
            "retry",
        ],
        &mut e,
    );
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        err(
            &mut e,
            "method",
            format!("`{method}` is not a method; expected one of: {}", METHODS.join(", ")),
        );
    }
    let url = shape(obj, "url", true, templates, &mut e);
    if let Some(Value::String(u)) = obj.get("url") {
        if !(u.contains("{{") || u.starts_with("http://") || u.starts_with("https://")) {
            err(&mut e, "url", "must start with http:// or https://");
        }
    }
    let query = pairs(obj, "query", templates, &mut e);
    let headers = pairs(obj, "headers", templates, &mut e);
    for (name, _) in &headers {
        if let Err(message) = hookflow_delivery::check_header_name(name) {
            err(&mut e, &format!("headers.{name}"), message);
        }
    }
    refuse_inline_credentials(obj, &mut e);
    let body = match obj.get("body").filter(|v| !v.is_null()) {
        None => None,
        Some(b) => match obj.get("body_type").and_then(Value::as_str).unwrap_or("json") {
            "json" => Some(Body::Json(Shape::compile(b, &format!("{path}.body"), templates, e.1))),
            "form" => match b.as_object() {
                Some(_) => Some(Body::Form(pairs(obj, "body", templates, &mut e))),
                None => {
                    err(&mut e, "body", "a form body is an object of field to value");
                    None
                }
            },
            "raw" => Some(Body::Raw {
                content: Shape::compile(b, &format!("{path}.body"), templates, e.1),
                content_type: obj
                    .get("content_type")
                    .and_then(Value::as_str)
                    .unwrap_or("text/plain; charset=utf-8")
                    .to_owned(),
            }),
            other => {
                err(
                    &mut e,
                    "body_type",
                    format!("`{other}` is not a body type; expected json, form or raw"),
                );
                None
            }
        },
    };
    let auth = match obj.get("auth").filter(|v| !v.is_null()) {
        None => None,
        Some(Value::Object(a)) => {
            let apath = format!("{path}.auth");
            let mut ae: Errors<'_> = (&apath, &mut *e.1);
            match a.get("type").and_then(Value::as_str) {
                Some("basic") => Some(Auth::Basic {
                    username: shape(a, "username", true, templates, &mut ae).unwrap_or(Shape::Literal(Value::Null)),
                    password: shape(a, "password", false, templates, &mut ae).unwrap_or(Shape::Literal(json!(""))),
                }),
                Some("bearer") => shape(a, "token", true, templates, &mut ae).map(|token| Auth::Bearer { token }),
                Some("header") => match a.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) {
                    Some(name) => shape(a, "value", true, templates, &mut ae).map(|value| Auth::Header {
                        name: name.to_owned(),
                        value,
                    }),
                    None => {
                        err(&mut ae, "name", "a header auth needs the header `name`");
                        None
                    }
                },
                _ => {
                    err(&mut ae, "type", "must be basic, bearer or header");
                    None
                }
            }
        }
        Some(_) => {
            err(&mut e, "auth", "must be {type: basic|bearer|header, ...}");
            None
        }
    };
    let timeout = duration(obj, "timeout", DEFAULT_TIMEOUT, MAX_TIMEOUT, &mut e);
    let follow_redirects = match obj.get("follow_redirects") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            err(&mut e, "follow_redirects", "must be true or false");
            true
        }
    };
    let retry = retry(obj, &mut e);
    (errors.len() == before).then(|| HttpRequest {
        method,
        url: url.unwrap_or(Shape::Literal(Value::Null)),
        query,
        headers,
        body,
        auth,
        timeout,
        follow_redirects,
        retry,
    })
}

pub fn compile_send_message(
    obj: &Map<String, Value>,
    path: &str,
    templates: &Templates,
    errors: &mut Vec<FieldError>,
) -> Option<SendMessage> {
    let before = errors.len();
    let mut e: Errors<'_> = (path, errors);
    unknown(
        obj,
        &["channel", "to", "text", "media", "template", "buttons", "list", "retry"],
        &mut e,
    );
    let channel = shape(obj, "channel", true, templates, &mut e);
    let to = shape(obj, "to", false, templates, &mut e);
    let given: Vec<&str> = ["text", "media", "template", "buttons", "list"]
        .into_iter()
        .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    let message = match given.as_slice() {
        [one] => {
            let s = shape(obj, one, true, templates, &mut e).unwrap_or(Shape::Literal(Value::Null));
            check_message_shape(one, &obj[*one], &mut e);
            Some(match *one {
                "text" => Message::Text(s),
                "media" => Message::Media(s),
                "template" => Message::Template(s),
                "buttons" => Message::Buttons(s),
                _ => Message::List(s),
            })
        }
        _ => {
            err(
                &mut e,
                "",
                "a message needs exactly one of `text`, `media`, `template`, `buttons` or `list`",
            );
            None
        }
    };
    let retry = retry(obj, &mut e);
    (errors.len() == before).then(|| SendMessage {
        channel: channel.unwrap_or(Shape::Literal(Value::Null)),
        to,
        message: message.unwrap_or(Message::Text(Shape::Literal(Value::Null))),
        retry,
    })
}

fn check_message_shape(kind: &str, value: &Value, e: &mut Errors<'_>) {
    let obj = match (kind, value) {
        ("text", _) => return,
        (_, Value::Object(o)) => o,
        (_, Value::String(s)) if s.contains("{{") => return,
        _ => return err(e, kind, format!("`{kind}` must be an object")),
    };
    let need = |keys: &[&str], e: &mut Errors<'_>| {
        for k in keys {
            if !obj.contains_key(*k) {
                err(e, &format!("{kind}.{k}"), format!("`{kind}` needs `{k}`"));
            }
        }
    };
    match kind {
        "media" => {
            need(&["type", "url"], e);
            if let Some(t) = obj.get("type").and_then(Value::as_str) {
                if !t.contains("{{") && !["image", "document", "video", "audio", "sticker"].contains(&t) {
                    err(e, "media.type", "must be image, document, video, audio or sticker");
                }
            }
        }
        "template" => need(&["name", "language"], e),
        "buttons" => need(&["body", "buttons"], e),
        _ => need(&["body", "button", "sections"], e),
    }
}

pub fn compile_send_email(
    obj: &Map<String, Value>,
    path: &str,
    templates: &Templates,
    errors: &mut Vec<FieldError>,
) -> Option<SendEmail> {
    let before = errors.len();
    let mut e: Errors<'_> = (path, errors);
    unknown(
        obj,
        &[
            "channel", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "retry",
        ],
        &mut e,
    );
    let channel = shape(obj, "channel", true, templates, &mut e);
    let subject = shape(obj, "subject", true, templates, &mut e);
    let (text, html) = (
        shape(obj, "text", false, templates, &mut e),
        shape(obj, "html", false, templates, &mut e),
    );
    if text.is_none() && html.is_none() {
        err(&mut e, "text", "an email needs a `text` or an `html` body (or both)");
    }
    let (to, cc, bcc, reply_to) = (
        shape(obj, "to", false, templates, &mut e),
        shape(obj, "cc", false, templates, &mut e),
        shape(obj, "bcc", false, templates, &mut e),
        shape(obj, "reply_to", false, templates, &mut e),
    );
    let retry = retry(obj, &mut e);
    (errors.len() == before).then(|| SendEmail {
        channel: channel.unwrap_or(Shape::Literal(Value::Null)),
        to,
        cc,
        bcc,
        reply_to,
        subject: subject.unwrap_or(Shape::Literal(Value::Null)),
        text,
        html,
        retry,
    })
}

/// Addresses from text (`a@x, b@y`) or a JSON array.
pub fn address_list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Value::String(s) => s
            .split(',')
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The WhatsApp Cloud API message body (`POST {base}/{phone_number_id}/messages`).
pub fn whatsapp_body(to: &str, message: &Message, rendered: &Value) -> Result<Value, String> {
    let to = to.trim_start_matches('+');
    let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to});
    match message {
        Message::Text(_) => {
            let text = rendered.as_str().map_or_else(|| rendered.to_string(), str::to_owned);
            if text.trim().is_empty() {
                return Err("the message text rendered empty".into());
            }
            body["type"] = json!("text");
            body["text"] = json!({"preview_url": text.contains("http://") || text.contains("https://"), "body": text});
        }
        Message::Media(_) => {
            let kind = rendered["type"].as_str().unwrap_or("image").to_owned();
            let mut media = json!({"link": rendered["url"]});
            for key in ["caption", "filename"] {
                if let Some(v) = rendered.get(key).filter(|v| v.as_str().is_some_and(|s| !s.is_empty())) {
                    if key == "caption" && (kind == "audio" || kind == "sticker") {
                        continue;
                    }
                    if key == "filename" && kind != "document" {
                        continue;
                    }
                    media[key] = v.clone();
                }
            }
            body["type"] = json!(kind);
            body[kind] = media;
        }
        Message::Template(_) => {
            let language = match &rendered["language"] {
                Value::String(code) => json!({"code": code}),
                other => other.clone(),
            };
            let mut template = json!({"name": rendered["name"], "language": language});
            if let Some(components) = rendered.get("components").filter(|c| c.is_array()) {
                template["components"] = components.clone();
            }
            body["type"] = json!("template");
            body["template"] = template;
        }
        Message::Buttons(_) => {
            let buttons: Vec<Value> = rendered["buttons"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|b| json!({"type": "reply", "reply": {"id": b["id"], "title": b["title"]}}))
                        .collect()
                })
                .unwrap_or_default();
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(format!("WhatsApp takes 1 to 3 reply buttons, not {}", buttons.len()));
            }
            body["type"] = json!("interactive");
            body["interactive"] =
                json!({"type": "button", "body": {"text": rendered["body"]}, "action": {"buttons": buttons}});
        }
        Message::List(_) => {
            body["type"] = json!("interactive");
            body["interactive"] = json!({"type": "list", "body": {"text": rendered["body"]},
                "action": {"button": rendered["button"], "sections": rendered["sections"]}});
        }
    }
    Ok(body)
}

/// The Twilio-shaped form of an SMS (`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`).
pub fn sms_form(to: &str, from: &str, message: &Message, rendered: &Value) -> Result<Vec<(String, String)>, String> {
    let mut form = vec![("To".to_owned(), to.to_owned()), ("From".to_owned(), from.to_owned())];
    match message {
        Message::Text(_) => {
            let text = rendered.as_str().map_or_else(|| rendered.to_string(), str::to_owned);
            if text.trim().is_empty() {
                return Err("the message text rendered empty".into());
            }
            form.push(("Body".into(), text));
        }
        Message::Media(_) => {
            if let Some(caption) = rendered["caption"].as_str().filter(|c| !c.is_empty()) {
                form.push(("Body".into(), caption.to_owned()));
            }
            form.push((
                "MediaUrl".into(),
                rendered["url"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        _ => return Err("an SMS channel sends text and media only".into()),
    }
    Ok(form)
}

/// The message as a generic JSON object, for `http` channels.
pub fn generic_message(message: &Message, rendered: &Value) -> Value {
    let kind = match message {
        Message::Text(_) => "text",
        Message::Media(_) => "media",
        Message::Template(_) => "template",
        Message::Buttons(_) => "buttons",
        Message::List(_) => "list",
    };
    json!({"type": kind, kind: rendered})
}

/// Refuses credentials written as plain text into an `http_request`: the document is shown to
/// everyone who can read the connector, kept in its versions and exported. A credential belongs in
/// the secret store, referenced as `{{ secrets.NAME }}`; a template (a secret, or a value forwarded
/// from the event) is fine.
fn refuse_inline_credentials(obj: &Map<String, Value>, e: &mut Errors<'_>) {
    let literal = |v: &Value| v.as_str().is_some_and(|s| !s.trim().is_empty() && !s.contains("{{"));
    let mut found: Vec<String> = Vec::new();
    if let Some(Value::Object(auth)) = obj.get("auth") {
        for field in ["token", "password", "value"] {
            if auth.get(field).is_some_and(literal) {
                found.push(format!("auth.{field}"));
            }
        }
    }
    for list in ["headers", "query"] {
        if let Some(Value::Object(map)) = obj.get(list) {
            for (name, value) in map {
                if sensitive_header(name) && literal(value) {
                    found.push(format!("{list}.{name}"));
                }
            }
        }
    }
    for field in found {
        err(
            e,
            &field,
            "a credential written into the document is shown to everyone who can read the connector: \
             store it with POST /api/v1/secrets and write {{ secrets.NAME }} here",
        );
    }
}

/// Header names whose values the journal never shows.
pub fn sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["authorization", "cookie", "proxy-authorization"].contains(&n.as_str())
        || ["key", "token", "secret", "password", "signature"]
            .iter()
            .any(|w| n.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_bodies() {
        let text = whatsapp_body(
            "+919999900111",
            &Message::Text(Shape::Literal(Value::Null)),
            &json!("Hi https://x.example"),
        )
        .unwrap();
        assert_eq!(
            text,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "919999900111", "type": "text",
                   "text": {"preview_url": true, "body": "Hi https://x.example"}})
        );
        let media = whatsapp_body(
            "1",
            &Message::Media(Shape::Literal(Value::Null)),
            &json!({"type": "document", "url": "https://x.example/a.pdf", "caption": "Invoice", "filename": "a.pdf"}),
        )
        .unwrap();
        assert_eq!(
            media["document"],
            json!({"link": "https://x.example/a.pdf", "caption": "Invoice", "filename": "a.pdf"})
        );
        let three_plus = json!({"body": "Pick", "buttons": [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}, {"id": 3, "title": "c"}, {"id": 4, "title": "d"}]});
        assert!(whatsapp_body("1", &Message::Buttons(Shape::Literal(Value::Null)), &three_plus).is_err());
    }

    #[test]
    fn sensitive_headers() {
        for h in ["Authorization", "X-Api-Key", "X-Auth-Token", "X-Shopify-Hmac-Signature"] {
            assert!(sensitive_header(h), "{h}");
        }
        assert!(!sensitive_header("Accept"));
    }
}
