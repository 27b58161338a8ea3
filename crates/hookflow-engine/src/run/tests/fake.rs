//! An in-memory store for the runner's tests: the journal, data storage and emitted events as
//! `Runs` and `Subscriptions` keep them, and a contact book that answers nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use hookflow_core::{
    ChannelId, ContactId, EventId, EventStatus, ExecutionId, JobId, MemberId, MessageId, SubscriptionId, Timestamp,
    WorkspaceId,
};
use serde_json::{json, Value};

use crate::messages::Message;
use crate::store::*;

#[derive(Default)]
pub struct Fake {
    /// The journal by key.
    journal: Mutex<BTreeMap<String, StepRecord>>,
    storage: Mutex<HashMap<String, Value>>,
    /// The keys each write committed, in order.
    writes: Mutex<Vec<Vec<String>>>,
    /// `(event type, data)` of every emitted event.
    emitted: Mutex<Vec<(String, Value)>>,
    /// The write (counting from 0) that fails, as a database gone away would.
    fail_write: Mutex<Option<usize>>,
}

impl Fake {
    /// A store whose journal holds `entries`.
    pub fn with_journal(entries: &[StepRecord]) -> Self {
        let fake = Fake::default();
        fake.journal
            .lock()
            .unwrap()
            .extend(entries.iter().map(|r| (r.key.clone(), r.clone())));
        fake
    }

    /// The journal in step order.
    pub fn entries(&self) -> Vec<StepRecord> {
        let mut list: Vec<StepRecord> = self.journal.lock().unwrap().values().cloned().collect();
        list.sort_by_key(|r| r.seq);
        list
    }

    pub fn entry(&self, key: &str) -> StepRecord {
        let entry = self.journal.lock().unwrap().get(key).cloned();
        entry.unwrap_or_else(|| panic!("no journal entry `{key}` in {:?}", self.keys()))
    }

    pub fn keys(&self) -> Vec<String> {
        self.entries().into_iter().map(|r| r.key).collect()
    }

    /// Changes an entry in place, as time passing or a crash would leave it.
    pub fn edit(&self, key: &str, change: impl FnOnce(&mut StepRecord)) {
        change(self.journal.lock().unwrap().get_mut(key).expect("entry"));
    }

    pub fn writes(&self) -> Vec<Vec<String>> {
        self.writes.lock().unwrap().clone()
    }

    pub fn stored(&self, key: &str) -> Option<Value> {
        self.storage.lock().unwrap().get(key).cloned()
    }

    pub fn put(&self, key: &str, value: Value) {
        self.storage.lock().unwrap().insert(key.to_owned(), value);
    }

    pub fn emitted(&self) -> Vec<(String, Value)> {
        self.emitted.lock().unwrap().clone()
    }

    pub fn record_emitted(&self, event_type: &str, data: Value) {
        self.emitted.lock().unwrap().push((event_type.to_owned(), data));
    }

    /// Makes the `n`th write from now on (0 is the next) fail.
    pub fn fail_write(&self, n: usize) {
        let at = self.writes.lock().unwrap().len() + n;
        *self.fail_write.lock().unwrap() = Some(at);
    }

    /// One transaction: fails when it is the write chosen to fail, else writes `entries`.
    fn write(&self, entries: &[&StepRecord]) -> StoreResult<()> {
        let mut writes = self.writes.lock().unwrap();
        if *self.fail_write.lock().unwrap() == Some(writes.len()) {
            *self.fail_write.lock().unwrap() = None;
            return Err(StoreError::internal("the fake database went away"));
        }
        writes.push(entries.iter().map(|r| r.key.clone()).collect());
        let mut journal = self.journal.lock().unwrap();
        for r in entries {
            journal.insert(r.key.clone(), (*r).clone());
        }
        Ok(())
    }
}

fn not_faked<T>() -> StoreResult<T> {
    Err(StoreError::internal("not faked in the runner's tests"))
}

#[async_trait]
impl Runs for Fake {
    async fn prune(&self, _: Timestamp, _: u32) -> StoreResult<u64> {
        not_faked()
    }
    async fn get_execution(&self, _: &WorkspaceId, _: &ExecutionId) -> StoreResult<Option<Execution>> {
        not_faked()
    }
    async fn execution_and_event(
        &self,
        _: &WorkspaceId,
        _: &ExecutionId,
    ) -> StoreResult<Option<(Execution, Option<Event>)>> {
        not_faked()
    }
    async fn mark_execution(&self, _: &ExecutionId, _: EventStatus) -> StoreResult<()> {
        not_faked()
    }
    async fn journal(&self, _: &ExecutionId) -> StoreResult<Vec<StepRecord>> {
        Ok(self.entries())
    }
    async fn record_steps(&self, records: &[StepRecord]) -> StoreResult<()> {
        self.write(&records.iter().collect::<Vec<_>>())
    }
    async fn storage_apply(
        &self,
        _: &WorkspaceId,
        op: &StorageOp,
        journal: Option<&StepRecord>,
    ) -> StoreResult<Result<Value, String>> {
        let mut storage = self.storage.lock().unwrap();
        // The value after the operation, and what it changes.
        let (answer, change) = match op {
            StorageOp::Get { key } => (Ok(storage.get(key).cloned().unwrap_or(Value::Null)), None),
            StorageOp::Set { key, value } => (Ok(value.clone()), Some((key, Some(value.clone())))),
            StorageOp::Delete { key } => (Ok(Value::Null), Some((key, None))),
            StorageOp::Increment { key, by } => match storage.get(key).cloned().unwrap_or(json!(0)).as_f64() {
                Some(n) => {
                    let sum = json!((n + by) as i64);
                    (Ok(sum.clone()), Some((key, Some(sum))))
                }
                None => (Err(format!("cannot increment `{key}`: not a number")), None),
            },
        };
        // The change and its entry are one transaction.
        if let (Some(rec), Ok(value)) = (journal, &answer) {
            let mut rec = rec.clone();
            rec.output = json!({"value": value});
            self.write(&[&rec])?;
        }
        match change {
            Some((key, Some(value))) => storage.insert(key.clone(), value),
            Some((key, None)) => storage.remove(key),
            None => None,
        };
        Ok(answer)
    }
    async fn replay_event(&self, _: &WorkspaceId, _: &EventId, _: i64) -> StoreResult<Option<ExecutionId>> {
        not_faked()
    }
    async fn finish_execution_with(
        &self,
        _: &ExecutionId,
        _: EventStatus,
        _: Option<&str>,
        steps: &[StepRecord],
        _: Option<(&JobId, &str)>,
    ) -> StoreResult<bool> {
        self.record_steps(steps).await.map(|()| true)
    }
    async fn suspend_execution(
        &self,
        _: &ExecutionId,
        steps: &[StepRecord],
        _: (&JobId, &str),
        _: Timestamp,
    ) -> StoreResult<bool> {
        self.record_steps(steps).await.map(|()| true)
    }
}

#[async_trait]
impl Subscriptions for Fake {
    async fn create_subscription(&self, _: &Subscription) -> StoreResult<()> {
        not_faked()
    }
    async fn list_subscriptions(&self, _: &WorkspaceId) -> StoreResult<Vec<Subscription>> {
        not_faked()
    }
    async fn get_subscription(&self, _: &WorkspaceId, _: &SubscriptionId) -> StoreResult<Option<Subscription>> {
        not_faked()
    }
    async fn update_subscription(
        &self,
        _: &WorkspaceId,
        _: &SubscriptionId,
        _: &SubscriptionChanges,
    ) -> StoreResult<Option<Subscription>> {
        not_faked()
    }
    async fn rotate_subscription_secret(
        &self,
        _: &WorkspaceId,
        _: &SubscriptionId,
        _: &str,
        _: Timestamp,
    ) -> StoreResult<Option<Subscription>> {
        not_faked()
    }
    async fn delete_subscription(&self, _: &WorkspaceId, _: &SubscriptionId) -> StoreResult<bool> {
        not_faked()
    }
    async fn emit(
        &self,
        _: &WorkspaceId,
        message: &Message,
        _: Option<&SubscriptionId>,
        journal: Option<&StepRecord>,
    ) -> StoreResult<Option<MessageId>> {
        // The event and its entry are one transaction.
        if let Some(rec) = journal {
            self.write(&[rec])?;
        }
        self.record_emitted(message.event_type.as_str(), message.data.clone());
        Ok(Some(MessageId::new()))
    }
}

/// No contacts, members or channels: the contact steps are left to the end-to-end tests.
#[async_trait]
impl Contacts for Fake {
    async fn create_member(&self, _: &WorkspaceId, _: &str, _: &str) -> StoreResult<Member> {
        not_faked()
    }
    async fn list_members(&self, _: &WorkspaceId) -> StoreResult<Vec<Member>> {
        Ok(Vec::new())
    }
    async fn get_member(&self, _: &WorkspaceId, _: &MemberId) -> StoreResult<Option<Member>> {
        Ok(None)
    }
    async fn member_by_email(&self, _: &WorkspaceId, _: &str) -> StoreResult<Option<Member>> {
        Ok(None)
    }
    async fn delete_member(&self, _: &WorkspaceId, _: &MemberId) -> StoreResult<bool> {
        not_faked()
    }
    async fn upsert_contact(
        &self,
        _: &WorkspaceId,
        _: &ContactMatch,
        _: &ContactChanges,
        _: bool,
    ) -> StoreResult<Option<(Contact, bool)>> {
        not_faked()
    }
    async fn find_contact(&self, _: &WorkspaceId, _: &ContactMatch) -> StoreResult<Option<Contact>> {
        Ok(None)
    }
    async fn get_contact(&self, _: &WorkspaceId, _: &ContactId) -> StoreResult<Option<Contact>> {
        Ok(None)
    }
    async fn update_contact(&self, _: &WorkspaceId, _: &ContactId, _: &ContactChanges) -> StoreResult<Option<Contact>> {
        not_faked()
    }
    async fn delete_contact(&self, _: &WorkspaceId, _: &ContactId) -> StoreResult<bool> {
        not_faked()
    }
    async fn list_contacts(&self, _: &WorkspaceId, _: &ContactFilter, _: &PageRequest) -> StoreResult<Page<Contact>> {
        not_faked()
    }
    async fn define_attribute(&self, _: &WorkspaceId, _: &str, _: &str) -> StoreResult<AttributeDefinition> {
        not_faked()
    }
    async fn list_attribute_definitions(&self, _: &WorkspaceId) -> StoreResult<Vec<AttributeDefinition>> {
        Ok(Vec::new())
    }
    async fn delete_attribute_definition(&self, _: &WorkspaceId, _: &str) -> StoreResult<bool> {
        not_faked()
    }
    async fn create_channel(&self, _: &Channel) -> StoreResult<()> {
        not_faked()
    }
    async fn list_channels(&self, _: &WorkspaceId) -> StoreResult<Vec<Channel>> {
        Ok(Vec::new())
    }
    async fn get_channel(&self, _: &WorkspaceId, _: &ChannelId) -> StoreResult<Option<Channel>> {
        Ok(None)
    }
    async fn update_channel(
        &self,
        _: &WorkspaceId,
        _: &ChannelId,
        _: Option<&str>,
        _: Option<&Value>,
        _: Option<&Value>,
    ) -> StoreResult<Option<Channel>> {
        not_faked()
    }
    async fn delete_channel(&self, _: &WorkspaceId, _: &ChannelId) -> StoreResult<bool> {
        not_faked()
    }
}
