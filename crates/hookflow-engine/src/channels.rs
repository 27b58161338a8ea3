//! Channel kinds: what each needs configured, and (with a delivery client)
//! how a message goes out through it.

use serde_json::{Map, Value};

use crate::document::FieldError;

/// The public Graph API base of the WhatsApp Cloud API.
pub const WHATSAPP_BASE: &str = "https://graph.facebook.com/v21.0";
/// The public base of Twilio's REST API.
pub const TWILIO_BASE: &str = "https://api.twilio.com";

pub const KINDS: &[&str] = &["whatsapp_cloud", "smtp", "sms_http", "http"];

struct Field {
    name: &'static str,
    required: bool,
    check: fn(&Value) -> Result<(), String>,
}

fn text(v: &Value) -> Result<(), String> {
    v.as_str()
        .filter(|s| !s.trim().is_empty())
        .map(|_| ())
        .ok_or_else(|| "must be a non-empty text".into())
}

fn url(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) => hookflow_delivery::check_url(s),
        None => Err("must be an http:// or https:// URL".into()),
    }
}

fn port(v: &Value) -> Result<(), String> {
    v.as_u64()
        .filter(|p| (1..=65535).contains(p))
        .map(|_| ())
        .ok_or_else(|| "must be a port from 1 to 65535".into())
}

fn security(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some("starttls" | "tls" | "none") => Ok(()),
        _ => Err("must be starttls, tls or none".into()),
    }
}

fn email(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) => {
            // `Name <addr>` or a bare address.
            let addr = s.rsplit_once('<').map_or(s, |(_, a)| a.trim_end_matches('>'));
            crate::contacts::normalize_email(addr).map(|_| ())
        }
        None => Err("must be an email address".into()),
    }
}

fn headers(v: &Value) -> Result<(), String> {
    let Some(map) = v.as_object() else {
        return Err("must be an object of header name to text".into());
    };
    for (name, value) in map {
        let value = value.as_str().ok_or("must be an object of header name to text")?;
        hookflow_delivery::check_header(name, value).map_err(|m| format!("header `{name}`: {m}"))?;
    }
    Ok(())
}

fn fields(kind: &str) -> Option<(&'static [Field], &'static [Field])> {
    const WA_SETTINGS: &[Field] = &[
        Field {
            name: "phone_number_id",
            required: true,
            check: text,
        },
        Field {
            name: "base_url",
            required: false,
            check: url,
        },
    ];
    const WA_SECRETS: &[Field] = &[Field {
        name: "access_token",
        required: true,
        check: text,
    }];
    const SMTP_SETTINGS: &[Field] = &[
        Field {
            name: "host",
            required: true,
            check: text,
        },
        Field {
            name: "port",
            required: false,
            check: port,
        },
        Field {
            name: "security",
            required: false,
            check: security,
        },
        Field {
            name: "username",
            required: false,
            check: text,
        },
        Field {
            name: "from",
            required: true,
            check: email,
        },
    ];
    const SMTP_SECRETS: &[Field] = &[Field {
        name: "password",
        required: false,
        check: text,
    }];
    const SMS_SETTINGS: &[Field] = &[
        Field {
            name: "account_sid",
            required: true,
            check: text,
        },
        Field {
            name: "from",
            required: true,
            check: text,
        },
        Field {
            name: "base_url",
            required: false,
            check: url,
        },
    ];
    const SMS_SECRETS: &[Field] = &[Field {
        name: "auth_token",
        required: true,
        check: text,
    }];
    const HTTP_SETTINGS: &[Field] = &[
        Field {
            name: "url",
            required: true,
            check: url,
        },
        Field {
            name: "headers",
            required: false,
            check: headers,
        },
    ];
    const HTTP_SECRETS: &[Field] = &[Field {
        name: "headers",
        required: false,
        check: headers,
    }];
    match kind {
        "whatsapp_cloud" => Some((WA_SETTINGS, WA_SECRETS)),
        "smtp" => Some((SMTP_SETTINGS, SMTP_SECRETS)),
        "sms_http" => Some((SMS_SETTINGS, SMS_SECRETS)),
        "http" => Some((HTTP_SETTINGS, HTTP_SECRETS)),
        _ => None,
    }
}

fn check_object(value: &Value, path: &str, spec: &[Field], errors: &mut Vec<FieldError>) {
    let empty = Map::new();
    let obj = match value {
        Value::Object(o) => o,
        Value::Null => &empty,
        _ => {
            errors.push(FieldError::new(path, "must be an object"));
            return;
        }
    };
    for key in obj.keys() {
        if !spec.iter().any(|f| f.name == key) {
            let names: Vec<&str> = spec.iter().map(|f| f.name).collect();
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                format!("unknown field; expected: {}", names.join(", ")),
            ));
        }
    }
    for f in spec {
        match obj.get(f.name) {
            None | Some(Value::Null) if f.required => {
                errors.push(FieldError::new(format!("{path}.{}", f.name), "is required"))
            }
            None | Some(Value::Null) => {}
            Some(v) => {
                if let Err(m) = (f.check)(v) {
                    errors.push(FieldError::new(format!("{path}.{}", f.name), m));
                }
            }
        }
    }
}

/// Checks a channel's kind, settings and credentials.
pub fn check(kind: &str, settings: &Value, credentials: &Value) -> Vec<FieldError> {
    let Some((settings_spec, secrets_spec)) = fields(kind) else {
        return vec![FieldError::new(
            "kind",
            format!("unknown channel kind `{kind}`; expected one of: {}", KINDS.join(", ")),
        )];
    };
    let mut errors = Vec::new();
    check_object(settings, "settings", settings_spec, &mut errors);
    check_object(credentials, "credentials", secrets_spec, &mut errors);
    errors
}

/// The names of the credentials that are set: what the API shows instead of their values.
pub fn credential_names(credentials: &Value) -> Vec<String> {
    credentials
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_are_checked() {
        assert!(check(
            "whatsapp_cloud",
            &json!({"phone_number_id": "123"}),
            &json!({"access_token": "t"})
        )
        .is_empty());
        let errors = check("whatsapp_cloud", &json!({"base_url": "ftp://x"}), &json!({}));
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "settings.phone_number_id",
                "settings.base_url",
                "credentials.access_token"
            ]
        );
        assert!(check(
            "smtp",
            &json!({"host": "mail", "port": 2525, "security": "none", "from": "Shop <shop@x.example>"}),
            &json!({})
        )
        .is_empty());
        assert_eq!(
            check(
                "smtp",
                &json!({"host": "mail", "port": 0, "from": "nope"}),
                &json!({"pw": "x"})
            )
            .len(),
            3
        );
        assert_eq!(check("fax", &json!({}), &json!({}))[0].path, "kind");
    }
}
