//! The contact book: members, contacts, custom attributes and channels.

use async_trait::async_trait;
use hookflow_core::{ChannelId, ContactId, MemberId, Timestamp, WorkspaceId};
use serde_json::Value;

use super::{Page, PageRequest, StoreResult};

/// A workspace member: a possible contact owner.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: MemberId,
    pub name: String,
    /// Lower case.
    pub email: String,
    pub created_at: Timestamp,
}

/// A person in the contact book.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// E.164.
    pub mobile: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    /// The default channel.
    pub channel_id: Option<ChannelId>,
    pub owner_id: Option<MemberId>,
    pub tags: Vec<String>,
    /// Custom attributes by name.
    pub attributes: serde_json::Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How to find a contact: the unique key first, then the mobile, then the
/// email (the contact added first when several share it).
#[derive(Debug, Clone, Default)]
pub struct ContactMatch {
    /// A custom attribute that identifies the contact (`shop_customer_id` = `123`).
    pub unique_key: Option<(String, String)>,
    pub mobile: Option<String>,
    pub email: Option<String>,
}

/// Changes to a contact; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ContactChanges {
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub channel_id: Option<ChannelId>,
    pub owner_id: Option<MemberId>,
    /// Attributes to set; a `null` value removes one.
    pub attributes: serde_json::Map<String, Value>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

/// Which contacts to list.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub tag: Option<String>,
    pub attribute: Option<(String, String)>,
}

/// A custom attribute definition.
#[derive(Debug, Clone)]
pub struct AttributeDefinition {
    pub name: String,
    /// `text`, `number`, `boolean`, `date` or `json`.
    pub kind: String,
    pub created_at: Timestamp,
}

/// A configured way to send messages.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// `whatsapp_cloud`, `smtp`, `sms_http` or `http`.
    pub kind: String,
    pub settings: Value,
    /// Write-only: never shown by the API, never logged.
    pub credentials: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The contact book: members, contacts, custom attributes and channels.
#[async_trait]
pub trait Contacts: Send + Sync + 'static {
    async fn create_member(&self, ws: &WorkspaceId, name: &str, email: &str) -> StoreResult<Member>;
    async fn list_members(&self, ws: &WorkspaceId) -> StoreResult<Vec<Member>>;
    async fn get_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<Option<Member>>;
    async fn member_by_email(&self, ws: &WorkspaceId, email: &str) -> StoreResult<Option<Member>>;
    async fn delete_member(&self, ws: &WorkspaceId, id: &MemberId) -> StoreResult<bool>;

    // The contact book.
    /// Finds the contact `find` names and applies `changes`, or creates one
    /// when none matches and `create` is set; answers it and whether it is new.
    /// A mobile another contact has is a `Conflict`.
    async fn upsert_contact(
        &self,
        ws: &WorkspaceId,
        find: &ContactMatch,
        changes: &ContactChanges,
        create: bool,
    ) -> StoreResult<Option<(Contact, bool)>>;
    /// The contact `find` names, without changing anything.
    async fn find_contact(&self, ws: &WorkspaceId, find: &ContactMatch) -> StoreResult<Option<Contact>>;
    async fn get_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<Option<Contact>>;
    async fn update_contact(
        &self,
        ws: &WorkspaceId,
        id: &ContactId,
        changes: &ContactChanges,
    ) -> StoreResult<Option<Contact>>;
    async fn delete_contact(&self, ws: &WorkspaceId, id: &ContactId) -> StoreResult<bool>;
    async fn list_contacts(
        &self,
        ws: &WorkspaceId,
        filter: &ContactFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Contact>>;
    async fn define_attribute(&self, ws: &WorkspaceId, name: &str, kind: &str) -> StoreResult<AttributeDefinition>;
    async fn list_attribute_definitions(&self, ws: &WorkspaceId) -> StoreResult<Vec<AttributeDefinition>>;
    async fn delete_attribute_definition(&self, ws: &WorkspaceId, name: &str) -> StoreResult<bool>;

    // Channels.
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()>;
    async fn list_channels(&self, ws: &WorkspaceId) -> StoreResult<Vec<Channel>>;
    async fn get_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<Option<Channel>>;
    /// Replaces the name, settings and credentials given.
    async fn update_channel(
        &self,
        ws: &WorkspaceId,
        id: &ChannelId,
        name: Option<&str>,
        settings: Option<&Value>,
        credentials: Option<&Value>,
    ) -> StoreResult<Option<Channel>>;
    async fn delete_channel(&self, ws: &WorkspaceId, id: &ChannelId) -> StoreResult<bool>;
}
