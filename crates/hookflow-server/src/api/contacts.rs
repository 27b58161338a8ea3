//! The contact book, its custom attribute definitions, and workspace members.

use axum::extract::State;
use axum::http::StatusCode;
use hookflow_core::{ChannelId, ContactId, MemberId, WorkspaceId};
use hookflow_engine::contacts::{normalize_email, normalize_mobile, valid_attribute_name};
use hookflow_engine::document::FieldError;
use hookflow_engine::store::{ContactChanges, ContactFilter, ContactMatch};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use crate::error::{AppError, Problem};
use crate::extract::{parse_id, Auth, Json, Path, Query};
use crate::wire::{AttributeDefinitionOut, ContactIn, ContactOut, CreateMember, ListOf, ListParams, MemberOut, TagsIn};
use crate::AppState;

const ATTRIBUTE_KINDS: &[&str] = &["text", "number", "boolean", "date", "json"];

/// Turns a request into checked changes: E.164 mobile, lower-case email, known channel and owner, typed attributes.
async fn changes(state: &AppState, ws: &WorkspaceId, req: ContactIn) -> Result<ContactChanges, AppError> {
    let mut errors = Vec::new();
    let settings = state.store.get_workspace(ws).await?;
    let country = settings.as_ref().and_then(|s| s.default_country.as_deref());
    let mobile = match req.mobile.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => normalize_mobile(m, country)
            .map_err(|e| errors.push(FieldError::new("mobile", e)))
            .ok(),
        None => None,
    };
    let email = match req.email.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(e) => normalize_email(e)
            .map_err(|e| errors.push(FieldError::new("email", e)))
            .ok(),
        None => None,
    };
    let channel_id = match &req.channel {
        Some(id) => match id.parse::<ChannelId>() {
            Ok(cid) if state.store.get_channel(ws, &cid).await?.is_some() => Some(cid),
            _ => {
                errors.push(FieldError::new(
                    "channel",
                    format!("there is no channel `{id}` in this workspace"),
                ));
                None
            }
        },
        None => None,
    };
    let owner_id = match &req.owner {
        Some(owner) => {
            let member = match owner.parse::<MemberId>() {
                Ok(id) => state.store.get_member(ws, &id).await?,
                Err(_) => {
                    state
                        .store
                        .member_by_email(ws, &owner.trim().to_ascii_lowercase())
                        .await?
                }
            };
            match member {
                Some(m) => Some(m.id),
                None => {
                    errors.push(FieldError::new(
                        "owner",
                        format!("there is no member `{owner}` (give a member id or email)"),
                    ));
                    None
                }
            }
        }
        None => None,
    };
    let definitions = state.store.list_attribute_definitions(ws).await?;
    for (name, value) in &req.attributes {
        if !valid_attribute_name(name) {
            errors.push(FieldError::new(
                format!("attributes.{name}"),
                "an attribute name holds letters, digits, _ and -",
            ));
        } else if let Some(def) = definitions.iter().find(|d| &d.name == name) {
            if let Err(m) = check_type(&def.kind, value) {
                errors.push(FieldError::new(format!("attributes.{name}"), m));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    Ok(ContactChanges {
        name: req.name.map(|n| n.trim().to_owned()),
        mobile,
        email,
        channel_id,
        owner_id,
        attributes: req.attributes,
        add_tags: req
            .tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        remove_tags: Vec::new(),
    })
}

fn check_type(kind: &str, value: &Value) -> Result<(), String> {
    let ok = match (kind, value) {
        (_, Value::Null) | ("json", _) => true,
        ("text", v) => v.is_string(),
        ("number", Value::Number(_)) => true,
        ("number", Value::String(s)) => s.trim().parse::<f64>().is_ok(),
        ("boolean", v) => v.is_boolean(),
        ("date", Value::String(s)) => hookflow_engine::run::parse_instant(&Value::String(s.clone())).is_some(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("must be a {kind}, not {value}"))
    }
}

/// The store's uniqueness conflict, said as the mobile number that is taken.
fn conflict_on_mobile(e: AppError, mobile: Option<&str>) -> AppError {
    match (e, mobile) {
        (AppError::Conflict(_), Some(m)) => AppError::Conflict(format!("a contact with the mobile {m} exists")),
        (AppError::Conflict(_), None) => AppError::Conflict("another contact already has this mobile number".into()),
        (other, _) => other,
    }
}

/// Add a contact; it needs a mobile number or an email.
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = ContactIn,
    responses((status = 201, body = ContactOut), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<ContactIn>,
) -> Result<(StatusCode, axum::Json<ContactOut>), AppError> {
    let changes = changes(&state, &ws, req).await?;
    if changes.mobile.is_none() && changes.email.is_none() {
        return Err(AppError::validation(vec![FieldError::new(
            "mobile",
            "a contact needs a mobile number or an email",
        )]));
    }
    // No match keys: always a new contact.
    let (contact, _) = state
        .store
        .upsert_contact(&ws, &ContactMatch::default(), &changes, true)
        .await
        .map_err(|e| conflict_on_mobile(e.into(), changes.mobile.as_deref()))?
        .ok_or_else(|| AppError::Internal("a created contact was not found".into()))?;
    Ok((StatusCode::CREATED, axum::Json((&contact).into())))
}

/// `?mobile=&email=&tag=&attribute=name:value&limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactListParams {
    /// Any common format; compared in E.164.
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub tag: Option<String>,
    /// A custom attribute and its value: `shop_customer_id:123`.
    pub attribute: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Search the contact book: by mobile, email, tag or a custom attribute; newest first.
#[utoipa::path(get, path = "/contacts", tag = "contacts", params(ContactListParams),
    responses((status = 200, body = ListOf<ContactOut>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Query(p): Query<ContactListParams>,
) -> Result<axum::Json<ListOf<ContactOut>>, AppError> {
    let page = ListParams {
        limit: p.limit,
        cursor: p.cursor,
    }
    .page::<ContactId>()?;
    let settings = state.store.get_workspace(&ws).await?;
    let country = settings.as_ref().and_then(|s| s.default_country.as_deref());
    let mobile = match p.mobile.as_deref().filter(|m| !m.trim().is_empty()) {
        Some(m) => Some(normalize_mobile(m, country).map_err(AppError::bad_request)?),
        None => None,
    };
    let attribute = match p.attribute.as_deref() {
        Some(a) => match a.split_once(':') {
            Some((name, value)) => Some((name.to_owned(), value.to_owned())),
            None => {
                return Err(AppError::bad_request(
                    "attribute takes name:value, like shop_customer_id:123",
                ))
            }
        },
        None => None,
    };
    let filter = ContactFilter {
        mobile,
        email: p.email.map(|e| e.trim().to_ascii_lowercase()),
        tag: p.tag,
        attribute,
    };
    let found = state.store.list_contacts(&ws, &filter, &page).await?;
    Ok(axum::Json(ListOf {
        data: found.items.iter().map(Into::into).collect(),
        next_cursor: found.next_cursor,
    }))
}

/// Get one contact.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = ContactOut), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ContactOut>, AppError> {
    let id: ContactId = parse_id(&id, "contact")?;
    let c = state
        .store
        .get_contact(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("contact"))?;
    Ok(axum::Json((&c).into()))
}

/// Change a contact; absent fields stay, `attributes` merge (null removes one), `tags` are added.
#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)), request_body = ContactIn,
    responses((status = 200, body = ContactOut), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Json(req): Json<ContactIn>,
) -> Result<axum::Json<ContactOut>, AppError> {
    let id: ContactId = parse_id(&id, "contact")?;
    state
        .store
        .get_contact(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("contact"))?;
    let changes = changes(&state, &ws, req).await?;
    let c = state
        .store
        .update_contact(&ws, &id, &changes)
        .await
        .map_err(|e| conflict_on_mobile(e.into(), changes.mobile.as_deref()))?
        .ok_or_else(|| AppError::not_found("contact"))?;
    Ok(axum::Json((&c).into()))
}

/// Delete a contact.
#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id: ContactId = parse_id(&id, "contact")?;
    if state.store.delete_contact(&ws, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("contact"))
    }
}

/// Add tags to a contact.
#[utoipa::path(post, path = "/contacts/{id}/tags", tag = "contacts", params(("id" = String, Path)), request_body = TagsIn,
    responses((status = 200, body = ContactOut), (status = 404, body = Problem)))]
pub async fn add_tags(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
    Json(req): Json<TagsIn>,
) -> Result<axum::Json<ContactOut>, AppError> {
    let id: ContactId = parse_id(&id, "contact")?;
    let tags: Vec<String> = req
        .tags
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.is_empty() {
        return Err(AppError::validation(vec![FieldError::new(
            "tags",
            "give at least one non-empty tag",
        )]));
    }
    let changes = ContactChanges {
        add_tags: tags,
        ..Default::default()
    };
    let c = state
        .store
        .update_contact(&ws, &id, &changes)
        .await?
        .ok_or_else(|| AppError::not_found("contact"))?;
    Ok(axum::Json((&c).into()))
}

/// Remove a tag from a contact.
#[utoipa::path(delete, path = "/contacts/{id}/tags/{tag}", tag = "contacts", params(("id" = String, Path), ("tag" = String, Path)),
    responses((status = 200, body = ContactOut), (status = 404, body = Problem)))]
pub async fn remove_tag(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path((id, tag)): Path<(String, String)>,
) -> Result<axum::Json<ContactOut>, AppError> {
    let id: ContactId = parse_id(&id, "contact")?;
    let changes = ContactChanges {
        remove_tags: vec![tag],
        ..Default::default()
    };
    let c = state
        .store
        .update_contact(&ws, &id, &changes)
        .await?
        .ok_or_else(|| AppError::not_found("contact"))?;
    Ok(axum::Json((&c).into()))
}

/// The custom attribute definitions.
#[utoipa::path(get, path = "/contact-attributes", tag = "contacts",
    responses((status = 200, body = ListOf<AttributeDefinitionOut>)))]
pub async fn list_attributes(
    State(state): State<AppState>,
    Auth(ws): Auth,
) -> Result<axum::Json<ListOf<AttributeDefinitionOut>>, AppError> {
    let defs = state.store.list_attribute_definitions(&ws).await?;
    let data = defs
        .into_iter()
        .map(|d| AttributeDefinitionOut {
            name: d.name,
            kind: d.kind,
        })
        .collect();
    Ok(axum::Json(ListOf {
        data,
        next_cursor: None,
    }))
}

/// Define (or retype) a custom attribute; values given to contacts are checked against its type.
#[utoipa::path(post, path = "/contact-attributes", tag = "contacts", request_body = AttributeDefinitionOut,
    responses((status = 201, body = AttributeDefinitionOut), (status = 400, body = Problem)))]
pub async fn define_attribute(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<AttributeDefinitionOut>,
) -> Result<(StatusCode, axum::Json<AttributeDefinitionOut>), AppError> {
    let mut errors = Vec::new();
    if !valid_attribute_name(&req.name) {
        errors.push(FieldError::new(
            "name",
            "an attribute name holds 1 to 64 letters, digits, _ and -",
        ));
    }
    if !ATTRIBUTE_KINDS.contains(&req.kind.as_str()) {
        errors.push(FieldError::new(
            "type",
            format!("expected one of: {}", ATTRIBUTE_KINDS.join(", ")),
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let d = state.store.define_attribute(&ws, &req.name, &req.kind).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AttributeDefinitionOut {
            name: d.name,
            kind: d.kind,
        }),
    ))
}

/// Remove a custom attribute definition (contacts keep their values).
#[utoipa::path(delete, path = "/contact-attributes/{name}", tag = "contacts", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_attribute(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.store.delete_attribute_definition(&ws, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("attribute"))
    }
}

/// The workspace's members: the people who can own contacts.
#[utoipa::path(get, path = "/members", tag = "members", responses((status = 200, body = ListOf<MemberOut>)))]
pub async fn list_members(
    State(state): State<AppState>,
    Auth(ws): Auth,
) -> Result<axum::Json<ListOf<MemberOut>>, AppError> {
    let members = state.store.list_members(&ws).await?;
    Ok(axum::Json(ListOf {
        data: members.iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// Add a member.
#[utoipa::path(post, path = "/members", tag = "members", request_body = CreateMember,
    responses((status = 201, body = MemberOut), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_member(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Json(req): Json<CreateMember>,
) -> Result<(StatusCode, axum::Json<MemberOut>), AppError> {
    let mut errors = Vec::new();
    if req.name.trim().is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    }
    let email = normalize_email(&req.email)
        .map_err(|e| errors.push(FieldError::new("email", e)))
        .ok();
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let m = state
        .store
        .create_member(&ws, req.name.trim(), &email.unwrap_or_default())
        .await?;
    Ok((StatusCode::CREATED, axum::Json((&m).into())))
}

/// Get one member.
#[utoipa::path(get, path = "/members/{id}", tag = "members", params(("id" = String, Path)),
    responses((status = 200, body = MemberOut), (status = 404, body = Problem)))]
pub async fn get_member(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<MemberOut>, AppError> {
    let id: MemberId = parse_id(&id, "member")?;
    let m = state
        .store
        .get_member(&ws, &id)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    Ok(axum::Json((&m).into()))
}

/// Remove a member; the contacts they owned have no owner.
#[utoipa::path(delete, path = "/members/{id}", tag = "members", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_member(
    State(state): State<AppState>,
    Auth(ws): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id: MemberId = parse_id(&id, "member")?;
    if state.store.delete_member(&ws, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("member"))
    }
}
