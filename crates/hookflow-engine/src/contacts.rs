//! The contact book as steps see it: normalizing mobiles and emails, the
//! field mapping of a connector (and the `upsert_contact` action, which
//! takes the same fields), and the `contact` template root.

use hookflow_core::{ChannelId, WorkspaceId};
use hookflow_expr::{Template, Templates};
use serde_json::{json, Map, Value};

use crate::document::FieldError;
use crate::store::{Contact, ContactChanges, ContactMatch, Contacts, StoreError};

/// A mobile number in E.164, read with the workspace's default country when it has no `+`.
pub fn normalize_mobile(raw: &str, default_country: Option<&str>) -> Result<String, String> {
    let trimmed = raw.trim();
    let country = match default_country {
        Some(c) => Some(
            c.to_ascii_uppercase()
                .parse::<phonenumber::country::Id>()
                .map_err(|_| format!("`{c}` is not a country code (use ISO 3166 alpha-2, like IN or US)"))?,
        ),
        None => None,
    };
    // `00` is the international prefix in most of the world.
    let text = match trimmed.strip_prefix("00") {
        Some(rest) if country.is_none() => format!("+{rest}"),
        _ => trimmed.to_owned(),
    };
    let number = phonenumber::parse(country, &text).map_err(|e| match country {
        None if !text.starts_with('+') => {
            format!("`{raw}` is not a mobile number in international form (+country code), and the workspace has no default country")
        }
        _ => format!("`{raw}` is not a mobile number: {e}"),
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(format!("`{raw}` is not a valid mobile number"));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A lower-case email address, or why it is not one.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_ascii_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
    }) && !email.contains(char::is_whitespace)
        && email.matches('@').count() == 1;
    if valid {
        Ok(email)
    } else {
        Err(format!("`{}` is not an email address", raw.trim()))
    }
}

/// The fields that find and change a contact, compiled.
#[derive(Clone)]
pub struct ContactSpec {
    pub mobile: Option<Template>,
    pub email: Option<Template>,
    pub name: Option<Template>,
    /// A channel id, or a template giving one (dynamic channel).
    pub channel: Option<Template>,
    /// A member's email, or a template giving one (dynamic owner).
    pub owner: Option<Template>,
    pub unique_key: Option<(String, Template)>,
    pub attributes: Vec<(String, Template)>,
    pub tags: Option<Template>,
}

const SPEC_KEYS: &[&str] = &[
    "mobile",
    "email",
    "name",
    "channel",
    "owner",
    "unique_key",
    "attributes",
    "tags",
];

impl ContactSpec {
    /// Compiles a field mapping (`require_identity`: it needs a mobile or email
    /// and a default channel, as the seeds say) or an `upsert_contact` step.
    pub fn compile(
        obj: &Map<String, Value>,
        path: &str,
        extra_keys: &[&str],
        require_identity: bool,
        templates: &Templates,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let at = |field: &str| {
            if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            }
        };
        for key in obj.keys() {
            if !SPEC_KEYS.contains(&key.as_str()) && !extra_keys.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    at(key),
                    format!("unknown field `{key}`; expected: {}", SPEC_KEYS.join(", ")),
                ));
            }
        }
        let template = |field: &str, value: Option<&Value>, errors: &mut Vec<FieldError>| -> Option<Template> {
            let source = match value? {
                Value::Null => return None,
                Value::String(s) if s.trim().is_empty() => return None,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match templates.compile(&source) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(FieldError::new(at(field), format!("template error: {e}")));
                    None
                }
            }
        };
        let mobile = template("mobile", obj.get("mobile"), &mut errors);
        let email = template("email", obj.get("email"), &mut errors);
        let name = template("name", obj.get("name"), &mut errors);
        let channel = template("channel", obj.get("channel"), &mut errors);
        let owner = template("owner", obj.get("owner"), &mut errors);
        let tags = template("tags", obj.get("tags"), &mut errors);
        let unique_key = match obj.get("unique_key") {
            None | Some(Value::Null) => None,
            Some(Value::Object(k)) => match k
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| valid_attribute_name(n))
            {
                Some(n) => template("unique_key.value", k.get("value"), &mut errors).map(|t| (n.to_owned(), t)),
                None => {
                    errors.push(FieldError::new(
                        at("unique_key.name"),
                        "the unique key needs the `name` of a custom attribute",
                    ));
                    None
                }
            },
            Some(_) => {
                errors.push(FieldError::new(
                    at("unique_key"),
                    "must be {\"name\": attribute, \"value\": template}",
                ));
                None
            }
        };
        let mut attributes = Vec::new();
        match obj.get("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    if !valid_attribute_name(k) {
                        errors.push(FieldError::new(
                            at(&format!("attributes.{k}")),
                            format!("`{k}` is not an attribute name (letters, digits, _ and -)"),
                        ));
                    } else if let Some(t) = template(&format!("attributes.{k}"), Some(v), &mut errors) {
                        attributes.push((k.clone(), t));
                    }
                }
            }
            Some(_) => errors.push(FieldError::new(
                at("attributes"),
                "must be an object of attribute name to template",
            )),
        }
        if require_identity {
            if mobile.is_none() && email.is_none() && errors.is_empty() {
                errors.push(FieldError::new(
                    at("mobile"),
                    "map the mobile number or the email first: a contact is found or created by them",
                ));
            }
            if channel.is_none() && errors.is_empty() {
                errors.push(FieldError::new(
                    at("channel"),
                    "map a default channel (a channel id, or a template giving one)",
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self {
                mobile,
                email,
                name,
                channel,
                owner,
                unique_key,
                attributes,
                tags,
            })
        } else {
            Err(errors)
        }
    }
}

pub fn valid_attribute_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// What rendering a spec over an event gave.
pub struct Resolved {
    pub find: ContactMatch,
    pub changes: ContactChanges,
    /// The rendered values, for the journal.
    pub input: Value,
    pub missing: Vec<String>,
}

/// Renders a spec and resolves its channel and owner; `Err` is a step error.
pub async fn resolve(
    spec: &ContactSpec,
    templates: &Templates,
    ctx: &Value,
    store: &dyn Contacts,
    ws: &WorkspaceId,
    default_country: Option<&str>,
) -> Result<Result<Resolved, String>, StoreError> {
    let mut missing = Vec::new();
    let mut input = Map::new();
    let mut exceeded: Option<String> = None;
    let mut text = |field: &str, t: &Option<Template>| -> Option<String> {
        let r = templates.render(t.as_ref()?, ctx);
        if let Some(message) = r.limit_error() {
            exceeded.get_or_insert_with(|| message.to_owned());
        }
        missing.extend(r.missing.iter().cloned());
        let value = r.text().trim().to_owned();
        input.insert(field.to_owned(), json!(value));
        (!value.is_empty()).then_some(value)
    };
    let mobile = text("mobile", &spec.mobile);
    let email = text("email", &spec.email);
    let name = text("name", &spec.name);
    let channel = text("channel", &spec.channel);
    let owner = text("owner", &spec.owner);
    let tags = text("tags", &spec.tags);
    let unique = spec
        .unique_key
        .as_ref()
        .and_then(|(k, t)| text(&format!("unique_key.{k}"), &Some(t.clone())).map(|v| (k.clone(), v)));
    let mut attributes = Map::new();
    for (k, t) in &spec.attributes {
        let r = templates.render(t, ctx);
        if let Some(message) = r.limit_error() {
            exceeded.get_or_insert_with(|| message.to_owned());
        }
        missing.extend(r.missing.iter().cloned());
        input.insert(format!("attributes.{k}"), r.value.clone());
        if !r.value.is_null() && r.value != json!("") {
            attributes.insert(k.clone(), r.value);
        }
    }
    if let Some(message) = exceeded {
        return Ok(Err(message));
    }
    let mobile = match mobile.map(|m| normalize_mobile(&m, default_country)).transpose() {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let email = match email.map(|e| normalize_email(&e)).transpose() {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    let channel_id = match channel {
        Some(id) => match id.parse::<ChannelId>() {
            Ok(cid) if store.get_channel(ws, &cid).await?.is_some() => Some(cid),
            _ => return Ok(Err(format!("there is no channel with the id `{id}` in this workspace"))),
        },
        None => None,
    };
    let owner_id = match owner {
        Some(owner_email) => match store.member_by_email(ws, &owner_email.to_ascii_lowercase()).await? {
            Some(m) => Some(m.id),
            None => {
                return Ok(Err(format!(
                    "there is no member with the email `{owner_email}` to own the contact"
                )))
            }
        },
        None => None,
    };
    let add_tags = tags.map(|t| split_tags(&t)).unwrap_or_default();
    Ok(Ok(Resolved {
        find: ContactMatch {
            unique_key: unique.clone(),
            mobile: mobile.clone(),
            email: email.clone(),
        },
        changes: ContactChanges {
            name,
            mobile,
            email,
            channel_id,
            owner_id,
            attributes: {
                let mut a = attributes;
                if let Some((k, v)) = unique {
                    a.entry(k).or_insert(json!(v));
                }
                a
            },
            add_tags,
            remove_tags: Vec::new(),
        },
        input: Value::Object(input),
        missing,
    }))
}

/// Tags from `a, b` text or a JSON array text.
pub fn split_tags(text: &str) -> Vec<String> {
    let items: Vec<String> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        _ => text.split(',').map(str::to_owned).collect(),
    };
    let mut tags: Vec<String> = items
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    tags.dedup();
    tags
}

/// The `contact` template root.
pub async fn contact_value(store: &dyn Contacts, contact: &Contact) -> Result<Value, StoreError> {
    let owner = match &contact.owner_id {
        Some(id) => store
            .get_member(&contact.workspace_id, id)
            .await?
            .map(|m| json!({"id": m.id, "name": m.name, "email": m.email})),
        None => None,
    };
    Ok(json!({
        "id": contact.id,
        "name": contact.name,
        "mobile": contact.mobile,
        "email": contact.email,
        "channel": contact.channel_id,
        "owner": owner,
        "tags": contact.tags,
        "attributes": contact.attributes,
        "created_at": contact.created_at.to_rfc3339(),
        "updated_at": contact.updated_at.to_rfc3339(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_become_e164() {
        assert_eq!(normalize_mobile("+91 99999 00111", None), Ok("+919999900111".into()));
        assert_eq!(normalize_mobile("09999900111", Some("IN")), Ok("+919999900111".into()));
        assert_eq!(
            normalize_mobile("(415) 555-2671", Some("us")),
            Ok("+14155552671".into())
        );
        assert_eq!(normalize_mobile("0044 20 7946 0958", None), Ok("+442079460958".into()));
        assert!(normalize_mobile("4155552671", None)
            .unwrap_err()
            .contains("no default country"));
        assert!(normalize_mobile("12", Some("US")).is_err());
        assert!(normalize_mobile("+1 555", Some("XX"))
            .unwrap_err()
            .contains("not a country code"));
    }

    #[test]
    fn emails_are_lower_case_and_checked() {
        assert_eq!(normalize_email(" Ann@Shop.Example "), Ok("ann@shop.example".into()));
        for bad in ["ann", "ann@", "@shop.example", "ann@shop", "a b@c.d", "a@@b.c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_split() {
        assert_eq!(split_tags(" vip, paid ,,vip"), ["vip", "paid", "vip"]);
        assert_eq!(split_tags(r#"["a", "b"]"#), ["a", "b"]);
    }
}
