//! The contact book, members, attribute definitions and channels.

use std::collections::HashMap;

use async_trait::async_trait;
use hookflow_core::{ChannelId, ContactId, MemberId, Timestamp, WorkspaceId};
use hookflow_engine::store::{
    AttributeDefinition, Channel, Contact, ContactChanges, ContactFilter, ContactMatch, Contacts, Member, Page,
    PageRequest, StoreResult,
};
use hookflow_engine::{messages, StoreError};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::db::{col, db_error, json, page, placeholders};
use crate::{Dialect, SqlStore};

const CONTACT_COLUMNS: &str = "id, workspace_id, name, mobile, email, channel_id, owner_id, created_at, updated_at";
const CHANNEL_COLUMNS: &str = "id, workspace_id, name, kind, settings, credentials, created_at, updated_at";

/// The text an attribute is looked up by: strings as they are, anything else as JSON.
pub(crate) fn lookup_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn contact_row(row: &AnyRow) -> StoreResult<Contact> {
    Ok(Contact {
        id: ContactId::from_trusted(col(row, "id")?),
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        name: col(row, "name")?,
        mobile: col(row, "mobile")?,
        email: col(row, "email")?,
        channel_id: col::<Option<String>>(row, "channel_id")?.map(ChannelId::from_trusted),
        owner_id: col::<Option<String>>(row, "owner_id")?.map(MemberId::from_trusted),
        tags: Vec::new(),
        attributes: Map::new(),
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

fn member_row(row: &AnyRow) -> StoreResult<Member> {
    Ok(Member {
        id: MemberId::from_trusted(col(row, "id")?),
        name: col(row, "name")?,
        email: col(row, "email")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
    })
}

fn channel_row(store: &SqlStore, row: &AnyRow) -> StoreResult<Channel> {
    let credentials = store.unseal("channels.credentials", &col::<String>(row, "credentials")?)?;
    Ok(Channel {
        id: ChannelId::from_trusted(col(row, "id")?),
        workspace_id: WorkspaceId::from_trusted(col(row, "workspace_id")?),
        name: col(row, "name")?,
        kind: col(row, "kind")?,
        settings: json(&col::<String>(row, "settings")?, "channel settings")?,
        credentials: json(&credentials, "channel credentials")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

/// Emits `contact.created` or `contact.updated`, and `contact.tagged` when tags were added.
async fn announce(tx: &mut AnyConnection, c: &Contact, created: bool, changes: &ContactChanges) -> StoreResult<()> {
    let subs = crate::outbox::enabled_subscriptions(tx, c.workspace_id.as_str()).await?;
    if subs.is_empty() {
        return Ok(());
    }
    for message in messages::contact_changed(c, created, &changes.add_tags) {
        crate::outbox::emit_in(tx, c.workspace_id.as_str(), &subs, &message).await?;
    }
    Ok(())
}

impl SqlStore {
    /// Fills in the tags and attributes of contacts, in two queries.
    async fn complete(&self, tx: &mut AnyConnection, contacts: &mut [Contact]) -> StoreResult<()> {
        if contacts.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
        let list = placeholders(1, ids.len());
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        let sql = format!("SELECT contact_id, tag FROM contact_tags WHERE contact_id IN ({list}) ORDER BY tag");
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *tx).await.map_err(db_error)? {
            tags.entry(col(&row, "contact_id")?)
                .or_default()
                .push(col(&row, "tag")?);
        }
        let mut attrs: HashMap<String, Map<String, Value>> = HashMap::new();
        let sql = format!(
            "SELECT contact_id, name, value FROM contact_attributes WHERE contact_id IN ({list}) ORDER BY name"
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *tx).await.map_err(db_error)? {
            let value = json(&col::<String>(&row, "value")?, "attribute value")?;
            attrs
                .entry(col(&row, "contact_id")?)
                .or_default()
                .insert(col(&row, "name")?, value);
        }
        for c in contacts.iter_mut() {
            c.tags = tags.remove(c.id.as_str()).unwrap_or_default();
            c.attributes = attrs.remove(c.id.as_str()).unwrap_or_default();
        }
        Ok(())
    }

    async fn contact_in(&self, tx: &mut AnyConnection, ws: &WorkspaceId, id: &str) -> StoreResult<Option<Contact>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let mut found = [contact_row(&row)?];
        self.complete(tx, &mut found).await?;
        let [contact] = found;
        Ok(Some(contact))
    }

    async fn find_contact(
        tx: &mut AnyConnection,
        ws: &WorkspaceId,
        find: &ContactMatch,
    ) -> StoreResult<Option<String>> {
        let mut lookups: Vec<(&str, Vec<&str>)> = Vec::new();
        if let Some((name, value)) = &find.unique_key {
            lookups.push((
                "SELECT contact_id AS id FROM contact_attributes WHERE workspace_id = $1 AND name = $2 AND text = $3 \
                 ORDER BY contact_id LIMIT 1",
                vec![name, value],
            ));
        }
        if let Some(mobile) = &find.mobile {
            lookups.push((
                "SELECT id FROM contacts WHERE workspace_id = $1 AND mobile = $2 LIMIT 1",
                vec![mobile],
            ));
        }
        if let Some(email) = &find.email {
            // Several contacts may share an email: the one added first wins.
            lookups.push((
                "SELECT id FROM contacts WHERE workspace_id = $1 AND email = $2 ORDER BY created_at, id LIMIT 1",
                vec![email],
            ));
        }
        for (sql, binds) in lookups {
            let mut q = sqlx::query(sql).bind(ws.as_str());
            for b in binds {
                q = q.bind(b);
            }
            if let Some(row) = q.fetch_optional(&mut *tx).await.map_err(db_error)? {
                return Ok(Some(col(&row, "id")?));
            }
        }
        Ok(None)
    }

    async fn apply_changes(
        tx: &mut AnyConnection,
        ws: &WorkspaceId,
        id: &str,
        changes: &ContactChanges,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE contacts SET name = COALESCE($1, name), mobile = COALESCE($2, mobile), email = COALESCE($3, email), \
             channel_id = COALESCE($4, channel_id), owner_id = COALESCE($5, owner_id), updated_at = $6 \
             WHERE workspace_id = $7 AND id = $8",
        )
        .bind(changes.name.as_deref())
        .bind(changes.mobile.as_deref())
        .bind(changes.email.as_deref())
        .bind(changes.channel_id.as_ref().map(ChannelId::as_str))
        .bind(changes.owner_id.as_ref().map(MemberId::as_str))
        .bind(now)
        .bind(ws.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        for (name, value) in &changes.attributes {
            if value.is_null() {
                sqlx::query("DELETE FROM contact_attributes WHERE contact_id = $1 AND name = $2")
                    .bind(id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                continue;
            }
            sqlx::query(
                "INSERT INTO contact_attributes (contact_id, workspace_id, name, value, text) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (contact_id, name) DO UPDATE SET value = excluded.value, text = excluded.text",
            )
            .bind(id)
            .bind(ws.as_str())
            .bind(name)
            .bind(value.to_string())
            .bind(lookup_text(value))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        for tag in &changes.add_tags {
            sqlx::query(
                "INSERT INTO contact_tags (contact_id, workspace_id, tag) VALUES ($1, $2, $3) ON CONFLICT (contact_id, tag) DO NOTHING",
            )
            .bind(id)
            .bind(ws.as_str())
            .bind(tag)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        for tag in &changes.remove_tags {
            sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1 AND tag = $2")
                .bind(id)
                .bind(tag)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    pub(crate) async fn member_where(&self, ws: &WorkspaceId, column: &str, value: &str) -> StoreResult<Vec<Member>> {
        let sql = format!(
            "SELECT id, name, email, created_at FROM members WHERE workspace_id = $1 AND ($2 = '' OR {column} = $2) ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(value)
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.iter().map(member_row).collect()
    }

    pub(crate) async fn channel_where(&self, ws: &WorkspaceId, id: Option<&ChannelId>) -> StoreResult<Vec<Channel>> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE workspace_id = $1 AND ($2 = '' OR id = $2) ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(ws.as_str())
            .bind(id.map_or("", ChannelId::as_str))
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.iter().map(|row| channel_row(self, row)).collect()
    }
}

#[async_trait]
impl Contacts for SqlStore {
    async fn create_member(&self, ws: &WorkspaceId, name: &str, email: &str) -> StoreResult<Member> {
        let member = Member {
            id: MemberId::new(),
            name: name.to_owned(),
            email: email.to_owned(),
            created_at: Timestamp::now(),
        };
        sqlx::query("INSERT INTO members (id, workspace_id, name, email, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(member.id.as_str())
            .bind(ws.as_str())
            .bind(name)
            .bind(email)
            .bind(member.created_at.as_millis())
            .execute(&self.write)
            .await
            .map_err(|e| match db_error(e) {
                StoreError::Conflict { constraint, .. } => {
                    StoreError::conflict(constraint, format!("a member with the email {email} exists"))
                }
                other => other,
            })?;
        Ok(member)
    }

    async fn list_members(&self, ws: &WorkspaceId) -> StoreResult<Vec<Member>> {
        self.member_where(ws, "id", "").await
    }

    async fn get_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<Option<Member>> {
        Ok(self.member_where(ws, "id", id.as_str()).await?.pop())
    }

    async fn member_by_email(&self, ws: &WorkspaceId, email: &str) -> StoreResult<Option<Member>> {
        if email.is_empty() {
            return Ok(None);
        }
        Ok(self.member_where(ws, "email", email).await?.pop())
    }

    async fn delete_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let gone = sqlx::query("DELETE FROM members WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        sqlx::query("UPDATE contacts SET owner_id = NULL WHERE workspace_id = $1 AND owner_id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(gone > 0)
    }

    async fn upsert_contact(
        &self,
        ws: &WorkspaceId,
        find: &ContactMatch,
        changes: &ContactChanges,
        create: bool,
    ) -> StoreResult<Option<(Contact, bool)>> {
        let now = Timestamp::now().as_millis();
        let mut tx = self.begin().await?;
        if self.dialect == Dialect::Postgres {
            // Upserts of one workspace take turns, so two events can't both create the same person.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("contacts:{ws}"))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        let (id, created) = match Self::find_contact(&mut tx, ws, find).await? {
            Some(id) => (id, false),
            None if create => {
                let id = ContactId::new().into_string();
                sqlx::query(
                    "INSERT INTO contacts (id, workspace_id, name, mobile, email, channel_id, owner_id, created_at, updated_at) \
                     VALUES ($1, $2, '', NULL, NULL, NULL, NULL, $3, $3)",
                )
                .bind(&id)
                .bind(ws.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                (id, true)
            }
            None => return Ok(None),
        };
        Self::apply_changes(&mut tx, ws, &id, changes, now).await?;
        let contact = self.contact_in(&mut tx, ws, &id).await?;
        if let Some(c) = &contact {
            announce(&mut tx, c, created, changes).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(contact.map(|c| (c, created)))
    }

    async fn find_contact(&self, ws: &WorkspaceId, find: &ContactMatch) -> StoreResult<Option<Contact>> {
        let mut tx = self.read.begin().await.map_err(db_error)?;
        let found = match Self::find_contact(&mut tx, ws, find).await? {
            Some(id) => self.contact_in(&mut tx, ws, &id).await?,
            None => None,
        };
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }

    async fn get_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<Option<Contact>> {
        let mut tx = self.read.begin().await.map_err(db_error)?;
        let found = self.contact_in(&mut tx, ws, id.as_str()).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }

    async fn update_contact(
        &self,
        ws: &WorkspaceId,
        id: &ContactId,
        changes: &ContactChanges,
    ) -> StoreResult<Option<Contact>> {
        let mut tx = self.begin().await?;
        if self.contact_in(&mut tx, ws, id.as_str()).await?.is_none() {
            return Ok(None);
        }
        Self::apply_changes(&mut tx, ws, id.as_str(), changes, Timestamp::now().as_millis()).await?;
        let contact = self.contact_in(&mut tx, ws, id.as_str()).await?;
        if let Some(c) = &contact {
            announce(&mut tx, c, false, changes).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(contact)
    }

    async fn delete_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let gone = sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if gone > 0 {
            for sql in [
                "DELETE FROM contact_tags WHERE contact_id = $1",
                "DELETE FROM contact_attributes WHERE contact_id = $1",
            ] {
                sqlx::query(sql)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(gone > 0)
    }

    async fn list_contacts(
        &self,
        ws: &WorkspaceId,
        filter: &ContactFilter,
        req: &PageRequest,
    ) -> StoreResult<Page<Contact>> {
        let mut clauses = vec!["c.workspace_id = $1".to_owned()];
        let mut binds: Vec<String> = vec![ws.to_string()];
        let next = |value: &str, binds: &mut Vec<String>| {
            binds.push(value.to_owned());
            format!("${}", binds.len())
        };
        if let Some(m) = &filter.mobile {
            clauses.push(format!("c.mobile = {}", next(m, &mut binds)));
        }
        if let Some(e) = &filter.email {
            clauses.push(format!("c.email = {}", next(e, &mut binds)));
        }
        if let Some(t) = &filter.tag {
            let p = next(t, &mut binds);
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = {p})"
            ));
        }
        if let Some((name, value)) = &filter.attribute {
            let (n, v) = (next(name, &mut binds), next(value, &mut binds));
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM contact_attributes a WHERE a.contact_id = c.id AND a.name = {n} AND a.text = {v})"
            ));
        }
        if let Some(cursor) = &req.cursor {
            clauses.push(format!("c.id < {}", next(cursor, &mut binds)));
        }
        let sql = format!(
            "SELECT {} FROM contacts c WHERE {} ORDER BY c.id DESC LIMIT {}",
            CONTACT_COLUMNS
                .split(", ")
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            clauses.join(" AND "),
            i64::from(req.limit) + 1
        );
        let mut tx = self.read.begin().await.map_err(db_error)?;
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let rows = q.fetch_all(&mut *tx).await.map_err(db_error)?;
        let mut contacts = rows.iter().map(contact_row).collect::<StoreResult<Vec<_>>>()?;
        self.complete(&mut tx, &mut contacts).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(page(contacts, req.limit, |c| c.id.to_string()))
    }

    async fn define_attribute(&self, ws: &WorkspaceId, name: &str, kind: &str) -> StoreResult<AttributeDefinition> {
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO attribute_definitions (workspace_id, name, kind, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, name) DO UPDATE SET kind = excluded.kind",
        )
        .bind(ws.as_str())
        .bind(name)
        .bind(kind)
        .bind(now.as_millis())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(self
            .list_attribute_definitions(ws)
            .await?
            .into_iter()
            .find(|d| d.name == name)
            .unwrap_or(AttributeDefinition {
                name: name.to_owned(),
                kind: kind.to_owned(),
                created_at: now,
            }))
    }

    async fn list_attribute_definitions(&self, ws: &WorkspaceId) -> StoreResult<Vec<AttributeDefinition>> {
        let rows = sqlx::query(
            "SELECT name, kind, created_at FROM attribute_definitions WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(ws.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(AttributeDefinition {
                    name: col(r, "name")?,
                    kind: col(r, "kind")?,
                    created_at: Timestamp::from_millis(col(r, "created_at")?),
                })
            })
            .collect()
    }

    async fn delete_attribute_definition(&self, ws: &WorkspaceId, name: &str) -> StoreResult<bool> {
        let gone = sqlx::query("DELETE FROM attribute_definitions WHERE workspace_id = $1 AND name = $2")
            .bind(ws.as_str())
            .bind(name)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(gone.rows_affected() > 0)
    }

    async fn create_channel(&self, c: &Channel) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO channels (id, workspace_id, name, kind, settings, credentials, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id.as_str())
        .bind(c.workspace_id.as_str())
        .bind(&c.name)
        .bind(&c.kind)
        .bind(c.settings.to_string())
        .bind(self.seal("channels.credentials", &c.credentials.to_string()))
        .bind(c.created_at.as_millis())
        .bind(c.updated_at.as_millis())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn list_channels(&self, ws: &WorkspaceId) -> StoreResult<Vec<Channel>> {
        self.channel_where(ws, None).await
    }

    async fn get_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<Option<Channel>> {
        Ok(self.channel_where(ws, Some(id)).await?.pop())
    }

    async fn update_channel(
        &self,
        ws: &WorkspaceId,
        id: &ChannelId,
        name: Option<&str>,
        settings: Option<&Value>,
        credentials: Option<&Value>,
    ) -> StoreResult<Option<Channel>> {
        let changed = sqlx::query(
            "UPDATE channels SET name = COALESCE($1, name), settings = COALESCE($2, settings), \
             credentials = COALESCE($3, credentials), updated_at = $4 WHERE workspace_id = $5 AND id = $6",
        )
        .bind(name)
        .bind(settings.map(Value::to_string))
        .bind(credentials.map(|c| self.seal("channels.credentials", &c.to_string())))
        .bind(Timestamp::now().as_millis())
        .bind(ws.as_str())
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(self.channel_where(ws, Some(id)).await?.pop())
    }

    async fn delete_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<bool> {
        let gone = sqlx::query("DELETE FROM channels WHERE workspace_id = $1 AND id = $2")
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(gone.rows_affected() > 0)
    }
}
