//! `message/rfc822` bodies, with the shape described in the crate documentation.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders as _};
use serde_json::{json, Map, Value};

use crate::{BodyKind, FileMeta, ParseError, Parsed};

pub(crate) fn parse(body: &[u8]) -> Result<Parsed, ParseError> {
    let invalid = |message: &str| ParseError::InvalidEmail {
        message: message.to_owned(),
    };
    let message = MessageParser::default()
        .parse(body)
        .ok_or_else(|| invalid("no header fields found"))?;
    // mail-parser reads any first line as a header; a message must start with a real one.
    match message.headers().first() {
        None => return Err(invalid("no header fields found")),
        Some(first) if !is_field_name(first.name()) => {
            return Err(invalid("the first line is not a header field (`Name: value`)"));
        }
        Some(_) => {}
    }
    let basic = ["From", "To", "Subject", "Date", "Message-ID"];
    if basic.iter().all(|name| message.header_raw(*name).is_none()) {
        return Err(invalid("none of From, To, Subject, Date, Message-ID is present"));
    }
    let raw = message.raw_message();

    let mut headers = Map::new();
    for header in message.headers() {
        let name = header.name().to_ascii_lowercase();
        if headers.contains_key(&name) {
            continue;
        }
        let value = match header.value() {
            HeaderValue::Text(text) => unfold(text),
            HeaderValue::TextList(list) => unfold(&list.join(", ")),
            _ => {
                let start = header.offset_start() as usize;
                let end = (header.offset_end() as usize).min(raw.len());
                unfold(&String::from_utf8_lossy(raw.get(start..end).unwrap_or_default()))
            }
        };
        headers.insert(name, Value::String(value));
    }

    let mut files = Vec::new();
    let mut attachments = Vec::new();
    for part in message.attachments() {
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(subtype) => format!("{}/{}", ct.ctype(), subtype),
                None => ct.ctype().to_owned(),
            })
            .map(|ct| ct.to_ascii_lowercase())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let filename = part.attachment_name().unwrap_or_default();
        let meta = FileMeta::new("attachments", filename, &content_type, part.contents());
        attachments.push(meta.to_json());
        files.push(meta);
    }

    let text = message
        .text_bodies()
        .find(|part| part.is_text() && !part.is_text_html())
        .and_then(|part| part.text_contents());
    let html = message
        .html_bodies()
        .find(|part| part.is_text_html())
        .and_then(|part| part.text_contents());

    let body = json!({
        "message_id": message.message_id(),
        "from": message.from().and_then(|from| addresses(from).into_iter().next()),
        "to": message.to().map(addresses).unwrap_or_default(),
        "cc": message.cc().map(addresses).unwrap_or_default(),
        "reply_to": message.reply_to().map(addresses).unwrap_or_default(),
        "subject": message.subject(),
        "date": message.date().map(|date| date.to_rfc3339()),
        "text": text,
        "html": html,
        "headers": headers,
        "attachments": attachments,
    });
    Ok(Parsed {
        kind: BodyKind::Email,
        body,
        files,
    })
}

fn addresses(address: &Address<'_>) -> Vec<Value> {
    address
        .iter()
        .map(|addr| json!({"name": addr.name(), "email": addr.address()}))
        .collect()
}

/// Joins folded header lines and trims the value.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i > 0 && !line.trim().is_empty() {
            out.push(' ');
        }
        out.push_str(line.trim());
    }
    out.trim().to_owned()
}

/// RFC 5322 field name: printable ASCII except `:`.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

#[cfg(test)]
mod tests {
    use crate::{parse_body, BodyKind, ParseError, Parsed};

    /// Parses an email on a thread with a tokio worker's 2 MiB stack.
    fn parse_on_worker_stack(body: String) -> Result<Parsed, ParseError> {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse_body(Some("message/rfc822"), body.as_bytes(), &Default::default()))
            .unwrap()
            .join()
            .expect("no panic")
    }

    /// Found by `tests/it/fuzz.rs`: every `message/rfc822` part inside another is a level of
    /// mail-parser's message tree, which it copies and drops recursively; 100,000 levels (3 MB)
    /// overflowed the stack, and a few hundred did once the outer message was encoded. Messages
    /// more than 32 levels deep stay attachments (vendor/mail-parser/HOOKFLOW-PATCH.md).
    #[test]
    fn deeply_nested_messages_do_not_overflow_the_stack() {
        let nested = |levels: usize, encoding: &str| {
            let mut body = format!("From: ann@example.com\r\nSubject: outer\r\n{encoding}");
            body.push_str(&"Content-Type: message/rfc822\r\n\r\n".repeat(levels));
            body + "From: bob@example.com\r\n\r\nHello\r\n"
        };
        for body in [
            nested(100_000, ""),
            nested(1000, "Content-Transfer-Encoding: quoted-printable\r\n"),
        ] {
            let parsed = parse_on_worker_stack(body).expect("an email");
            assert_eq!(parsed.body["subject"], "outer");
            assert_eq!(parsed.files.len(), 1);
        }
    }

    /// Found by `tests/it/fuzz.rs`: a `message/rfc822` part whose message is itself of type
    /// `message/rfc822`, inside a multipart body, reaches a `debug_assert!` of mail-parser
    /// ("Invalid part ID, could not find multipart"), a panic in debug builds.
    #[test]
    fn nested_rfc822_in_multipart_does_not_panic() {
        let body = "From: ann@example.com\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: message/rfc822\r\n\r\n\
            From: bob@example.com\r\nContent-Type: message/rfc822\r\n\r\n\
            From: carol@example.com\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b--\r\n";
        let parsed = parse_on_worker_stack(body.to_owned()).expect("an email");
        assert_eq!(parsed.kind, BodyKind::Email);
        assert_eq!(parsed.body["subject"], "outer");
    }
}
