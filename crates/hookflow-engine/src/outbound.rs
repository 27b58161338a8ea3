//! Turning a rendered action into the request that goes out, and the
//! response that comes back into the step's output.

use base64::Engine as _;
use hookflow_core::retry::RetryPolicy;
use hookflow_core::{ChannelId, WorkspaceId};
use hookflow_delivery::{Email, Request, Response, Security, SmtpSettings};
use hookflow_expr::Templates;
use serde_json::{json, Map, Value};

use crate::actions::{self, render_text, Auth, Body, HttpRequest, Message, SendEmail, SendMessage, Shape};
use crate::channels::{TWILIO_BASE, WHATSAPP_BASE};
use crate::store::{Channel, Contacts, StoreError};

/// An action step's configuration.
#[derive(Clone, Copy)]
pub enum Action<'a> {
    Http(&'a HttpRequest),
    Message(&'a SendMessage),
    Email(&'a SendEmail),
}

/// What an action will send.
pub enum Planned {
    Http(Request),
    Email(SmtpSettings, Email),
}

/// How a response becomes the step's output.
#[derive(Clone, Copy)]
pub enum Reading {
    /// `{status, headers, body}`
    Http,
    /// `{message_id}` from `messages[0].id`.
    WhatsApp,
    /// `{message_id}` from `sid`.
    Twilio,
    /// `{message_id}` from `id` or `message_id` when the peer gives one.
    Generic,
}

pub struct Plan {
    pub planned: Planned,
    pub reading: Reading,
    /// The request as the journal shows it: credentials masked.
    pub input: Value,
    pub missing: Vec<String>,
    pub retry: RetryPolicy,
    /// Extra output fields (channel, to).
    pub extra: Map<String, Value>,
}

struct Render<'a> {
    templates: &'a Templates,
    ctx: &'a Value,
    missing: Vec<String>,
    errors: Vec<String>,
}

impl Render<'_> {
    fn text(&mut self, shape: &Shape) -> String {
        render_text(shape, self.templates, self.ctx, &mut self.missing, &mut self.errors)
    }

    fn value(&mut self, shape: &Shape) -> Value {
        shape.render(self.templates, self.ctx, &mut self.missing, &mut self.errors)
    }
}

fn masked(headers: &[(String, String)]) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|(k, v)| {
                let shown = if actions::sensitive_header(k) {
                    "[redacted]".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), json!(shown))
            })
            .collect(),
    )
}

fn with_query(url: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return url.to_owned();
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        s.append_pair(k, v);
    }
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let joiner = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{joiner}{}", s.finish());
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Builds what an action step sends; `Ok(Err)` is a step error (bad rendered values, unknown channel).
pub async fn plan(
    action: Action<'_>,
    templates: &Templates,
    ctx: &Value,
    store: &dyn Contacts,
    ws: &WorkspaceId,
    idempotency_key: &str,
    default_country: Option<&str>,
) -> Result<Result<Plan, String>, StoreError> {
    let mut r = Render {
        templates,
        ctx,
        missing: Vec::new(),
        errors: Vec::new(),
    };
    let planned = match action {
        Action::Http(a) => Ok(http_request(a, &mut r, idempotency_key)),
        Action::Message(a) => send_message(a, &mut r, store, ws, idempotency_key, default_country).await?,
        Action::Email(a) => send_email(a, &mut r, store, ws, idempotency_key).await?,
    };
    if let Some(error) = r.errors.first() {
        return Ok(Err(format!("a template failed: {error}")));
    }
    Ok(planned.map(|mut p| {
        p.missing = r.missing;
        p
    }))
}

fn http_request(a: &HttpRequest, r: &mut Render<'_>, key: &str) -> Plan {
    let query: Vec<(String, String)> = a.query.iter().map(|(k, s)| (k.clone(), r.text(s))).collect();
    let url = with_query(&r.text(&a.url), &query);
    let mut headers: Vec<(String, String)> = a.headers.iter().map(|(k, s)| (k.clone(), r.text(s))).collect();
    match &a.auth {
        Some(Auth::Basic { username, password }) => {
            let (u, p) = (r.text(username), r.text(password));
            headers.push(("Authorization".into(), basic(&u, &p)));
        }
        Some(Auth::Bearer { token }) => {
            let t = r.text(token);
            headers.push(("Authorization".into(), format!("Bearer {t}")));
        }
        Some(Auth::Header { name, value }) => {
            let v = r.text(value);
            headers.push((name.clone(), v));
        }
        None => {}
    }
    headers.push(("Idempotency-Key".into(), key.to_owned()));
    let (body, shown) = match &a.body {
        None => (None, Value::Null),
        Some(Body::Json(shape)) => {
            let v = r.value(shape);
            headers.push(("Content-Type".into(), "application/json".into()));
            (Some(v.to_string().into_bytes()), v)
        }
        Some(Body::Form(fields)) => {
            let mut s = form_urlencoded::Serializer::new(String::new());
            let mut shown = Map::new();
            for (k, shape) in fields {
                let v = r.text(shape);
                s.append_pair(k, &v);
                shown.insert(k.clone(), json!(v));
            }
            headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
            (Some(s.finish().into_bytes()), Value::Object(shown))
        }
        Some(Body::Raw { content, content_type }) => {
            let v = r.text(content);
            headers.push(("Content-Type".into(), content_type.clone()));
            (Some(v.clone().into_bytes()), json!(v))
        }
    };
    let input = json!({"method": a.method, "url": url, "headers": masked(&headers), "body": shown});
    Plan {
        planned: Planned::Http(Request {
            method: a.method.clone(),
            url,
            headers,
            body,
            timeout: a.timeout,
            follow_redirects: a.follow_redirects,
        }),
        reading: Reading::Http,
        input,
        missing: Vec::new(),
        retry: a.retry,
        extra: Map::new(),
    }
}

async fn channel(store: &dyn Contacts, ws: &WorkspaceId, id: &str) -> Result<Result<Channel, String>, StoreError> {
    let unknown = || format!("there is no channel with the id `{id}` in this workspace");
    let Ok(cid) = id.parse::<ChannelId>() else {
        return Ok(Err(unknown()));
    };
    Ok(store.get_channel(ws, &cid).await?.ok_or_else(unknown))
}

fn setting<'a>(c: &'a Channel, key: &str) -> &'a str {
    c.settings.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn secret<'a>(c: &'a Channel, key: &str) -> &'a str {
    c.credentials.get(key).and_then(Value::as_str).unwrap_or_default()
}

async fn send_message(
    a: &SendMessage,
    r: &mut Render<'_>,
    store: &dyn Contacts,
    ws: &WorkspaceId,
    key: &str,
    default_country: Option<&str>,
) -> Result<Result<Plan, String>, StoreError> {
    let channel_id = r.text(&a.channel).trim().to_owned();
    let c = match channel(store, ws, &channel_id).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let to = match &a.to {
        Some(s) => r.text(s).trim().to_owned(),
        None => r.ctx["contact"]["mobile"].as_str().unwrap_or_default().to_owned(),
    };
    if to.is_empty() {
        return Ok(Err(
            "no recipient: `to` rendered empty and the contact has no mobile".into()
        ));
    }
    // Phone channels take E.164; a generic HTTP channel takes the recipient as given.
    let to = if c.kind == "http" {
        to
    } else {
        match crate::contacts::normalize_mobile(&to, default_country) {
            Ok(m) => m,
            Err(e) => return Ok(Err(format!("the recipient {e}"))),
        }
    };
    let message_shape = match &a.message {
        Message::Text(s) | Message::Media(s) | Message::Template(s) | Message::Buttons(s) | Message::List(s) => s,
    };
    let rendered = r.value(message_shape);
    let mut extra = Map::new();
    extra.insert("channel".into(), json!(c.id));
    extra.insert("to".into(), json!(to));
    let idem = ("Idempotency-Key".to_owned(), key.to_owned());
    let json_body = |v: &Value| Some(v.to_string().into_bytes());
    let (request, reading, shown) = match c.kind.as_str() {
        "whatsapp_cloud" => {
            let body = match actions::whatsapp_body(&to, &a.message, &rendered) {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            let base = c
                .settings
                .get("base_url")
                .and_then(Value::as_str)
                .unwrap_or(WHATSAPP_BASE)
                .trim_end_matches('/');
            let headers = vec![
                (
                    "Authorization".to_owned(),
                    format!("Bearer {}", secret(&c, "access_token")),
                ),
                ("Content-Type".to_owned(), "application/json".to_owned()),
                idem,
            ];
            let url = format!("{base}/{}/messages", setting(&c, "phone_number_id"));
            (
                Request {
                    method: "POST".into(),
                    url,
                    headers,
                    body: json_body(&body),
                    timeout: actions::DEFAULT_TIMEOUT,
                    follow_redirects: false,
                },
                Reading::WhatsApp,
                body,
            )
        }
        "sms_http" => {
            let form = match actions::sms_form(&to, setting(&c, "from"), &a.message, &rendered) {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            let base = c
                .settings
                .get("base_url")
                .and_then(Value::as_str)
                .unwrap_or(TWILIO_BASE)
                .trim_end_matches('/');
            let sid = setting(&c, "account_sid");
            let url = format!("{base}/2010-04-01/Accounts/{sid}/Messages.json");
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &form {
                s.append_pair(k, v);
            }
            let headers = vec![
                ("Authorization".to_owned(), basic(sid, secret(&c, "auth_token"))),
                (
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                idem,
            ];
            let shown = Value::Object(form.into_iter().map(|(k, v)| (k, json!(v))).collect());
            (
                Request {
                    method: "POST".into(),
                    url,
                    headers,
                    body: Some(s.finish().into_bytes()),
                    timeout: actions::DEFAULT_TIMEOUT,
                    follow_redirects: false,
                },
                Reading::Twilio,
                shown,
            )
        }
        "http" => {
            let body = json!({"channel_id": c.id, "to": to, "message": actions::generic_message(&a.message, &rendered), "contact": r.ctx["contact"]});
            let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned()), idem];
            for source in [&c.settings, &c.credentials] {
                if let Some(h) = source.get("headers").and_then(Value::as_object) {
                    headers.extend(
                        h.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
                    );
                }
            }
            (
                Request {
                    method: "POST".into(),
                    url: setting(&c, "url").to_owned(),
                    headers,
                    body: json_body(&body),
                    timeout: actions::DEFAULT_TIMEOUT,
                    follow_redirects: false,
                },
                Reading::Generic,
                body,
            )
        }
        other => {
            return Ok(Err(format!(
                "a `{other}` channel does not send messages; use send_email for email"
            )))
        }
    };
    let input = json!({"channel": c.id, "kind": c.kind, "to": to, "url": request.url, "headers": masked(&request.headers), "body": shown});
    Ok(Ok(Plan {
        planned: Planned::Http(request),
        reading,
        input,
        missing: Vec::new(),
        retry: a.retry,
        extra,
    }))
}

async fn send_email(
    a: &SendEmail,
    r: &mut Render<'_>,
    store: &dyn Contacts,
    ws: &WorkspaceId,
    key: &str,
) -> Result<Result<Plan, String>, StoreError> {
    let channel_id = r.text(&a.channel).trim().to_owned();
    let c = match channel(store, ws, &channel_id).await? {
        Ok(c) if c.kind == "smtp" => c,
        Ok(c) => {
            return Ok(Err(format!(
                "channel `{}` is a `{}` channel; send_email needs an smtp channel",
                c.id, c.kind
            )))
        }
        Err(e) => return Ok(Err(e)),
    };
    let mut list = |s: &Option<Shape>| {
        s.as_ref()
            .map(|s| actions::address_list(&r.value(s)))
            .unwrap_or_default()
    };
    let mut to = list(&a.to);
    let (cc, bcc) = (list(&a.cc), list(&a.bcc));
    if a.to.is_none() {
        to.extend(r.ctx["contact"]["email"].as_str().map(str::to_owned));
    }
    if to.is_empty() {
        return Ok(Err(
            "no recipient: `to` rendered empty and the contact has no email".into()
        ));
    }
    let reply_to = a.reply_to.as_ref().map(|s| r.text(s)).filter(|s| !s.trim().is_empty());
    let subject = r.text(&a.subject);
    let text = a.text.as_ref().map(|s| r.text(s));
    let html = a.html.as_ref().map(|s| r.text(s));
    let security = match setting(&c, "security") {
        "tls" => Security::Tls,
        "none" => Security::None,
        _ => Security::StartTls,
    };
    let settings = SmtpSettings {
        host: setting(&c, "host").to_owned(),
        port: c.settings.get("port").and_then(Value::as_u64).map_or(587, |p| p as u16),
        security,
        username: c.settings.get("username").and_then(Value::as_str).map(str::to_owned),
        password: c.credentials.get("password").and_then(Value::as_str).map(str::to_owned),
        timeout: actions::DEFAULT_TIMEOUT,
    };
    let email = Email {
        from: setting(&c, "from").to_owned(),
        to: to.clone(),
        cc: cc.clone(),
        bcc: bcc.clone(),
        reply_to: reply_to.clone(),
        subject: subject.clone(),
        text: text.clone(),
        html: html.clone(),
        headers: vec![("X-Hookflow-Idempotency-Key".into(), key.to_owned())],
    };
    let input = json!({"channel": c.id, "from": email.from, "to": to, "cc": cc, "bcc": bcc, "reply_to": reply_to,
        "subject": subject, "text": text, "html": html, "server": format!("{}:{}", settings.host, settings.port)});
    let mut extra = Map::new();
    extra.insert("channel".into(), json!(c.id));
    extra.insert("to".into(), json!(email.to));
    Ok(Ok(Plan {
        planned: Planned::Email(settings, email),
        reading: Reading::Generic,
        input,
        missing: Vec::new(),
        retry: a.retry,
        extra,
    }))
}

/// The response body as JSON when it is JSON, else as text.
pub fn body_value(response: &Response) -> Value {
    let is_json = response.header("content-type").is_some_and(|ct| ct.contains("json"));
    if is_json {
        if let Ok(v) = serde_json::from_slice(&response.body) {
            return v;
        }
    }
    json!(String::from_utf8_lossy(&response.body))
}

/// The step output for a response.
pub fn output(reading: Reading, response: &Response, extra: &Map<String, Value>) -> Value {
    let body = body_value(response);
    let mut out = match reading {
        Reading::Http => {
            let mut headers = Map::new();
            for (k, v) in &response.headers {
                let k = k.to_ascii_lowercase();
                match headers.get_mut(&k) {
                    Some(Value::String(existing)) => {
                        existing.push_str(", ");
                        existing.push_str(v);
                    }
                    _ => {
                        headers.insert(k, json!(v));
                    }
                }
            }
            return json!({"status": response.status, "headers": headers, "body": body});
        }
        Reading::WhatsApp => json!({"message_id": body["messages"][0]["id"]}),
        Reading::Twilio => json!({"message_id": body["sid"], "status": body["status"]}),
        Reading::Generic => {
            let id = body
                .get("id")
                .or_else(|| body.get("message_id"))
                .cloned()
                .unwrap_or(Value::Null);
            json!({"message_id": id, "status": response.status})
        }
    };
    for (k, v) in extra {
        out[k] = v.clone();
    }
    out
}

/// The first KiB of a body, as text.
pub fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(1024)];
    String::from_utf8_lossy(cut).into_owned()
}
