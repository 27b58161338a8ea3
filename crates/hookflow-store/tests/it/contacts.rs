//! The contact book through `Contacts`: members, contacts, attribute definitions and channels,
//! each seen only by its own workspace.

use std::collections::HashSet;

use hookflow_core::{ChannelId, ContactId, MemberId, Timestamp};
use hookflow_engine::store::{Channel, Contact, ContactChanges, ContactFilter, ContactMatch, Contacts, PageRequest};
use hookflow_engine::{Store, StoreError};
use hookflow_store::{SecretKeys, SqlStore, StoreOptions};
use hookflow_test_support::TestDatabase;
use serde_json::{json, Map, Value};

use crate::utils::{on_every_database, workspace};

fn attrs(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn by_mobile(mobile: &str) -> ContactMatch {
    ContactMatch {
        mobile: Some(mobile.into()),
        ..Default::default()
    }
}

fn by_email(email: &str) -> ContactMatch {
    ContactMatch {
        email: Some(email.into()),
        ..Default::default()
    }
}

/// Creates a contact with this name, mobile, email, tags and attributes.
async fn add(
    store: &dyn Store,
    ws: &hookflow_core::WorkspaceId,
    name: &str,
    mobile: Option<&str>,
    email: Option<&str>,
    tags: &[&str],
    attributes: Value,
) -> Contact {
    let changes = ContactChanges {
        name: Some(name.into()),
        mobile: mobile.map(Into::into),
        email: email.map(Into::into),
        attributes: attrs(attributes),
        add_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    };
    let find = ContactMatch {
        mobile: mobile.map(Into::into),
        email: email.map(Into::into),
        ..Default::default()
    };
    let (c, created) = store.upsert_contact(ws, &find, &changes, true).await.unwrap().unwrap();
    assert!(created, "{name} was new");
    c
}

fn page(limit: u32, cursor: Option<String>) -> PageRequest {
    PageRequest { limit, cursor }
}

fn names(contacts: &[Contact]) -> Vec<&str> {
    contacts.iter().map(|c| c.name.as_str()).collect()
}

#[tokio::test]
async fn members_are_unique_by_email_and_per_workspace() {
    on_every_database(|store, db| async move {
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let ann = store.create_member(&a, "Ann", "ann@example.com").await.unwrap();
        let bob = store.create_member(&a, "Bob", "bob@example.com").await.unwrap();
        assert_eq!(
            (ann.name.as_str(), ann.email.as_str()),
            ("Ann", "ann@example.com"),
            "{db}"
        );

        let Err(StoreError::Conflict { detail, .. }) = store.create_member(&a, "Ann 2", "ann@example.com").await else {
            panic!("{db}: a second member with one email is a conflict")
        };
        assert!(detail.contains("ann@example.com"), "{db}: {detail}");
        for raw in ["UNIQUE", "duplicate key", "constraint failed", "violates"] {
            assert!(!detail.contains(raw), "{db}: database text in {detail}");
        }
        // Another workspace may have a member with that email.
        let other = store.create_member(&b, "Ann", "ann@example.com").await.unwrap();

        let listed: Vec<MemberId> = store
            .list_members(&a)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(listed, [ann.id.clone(), bob.id.clone()], "{db}");
        let got = store.get_member(&a, &bob.id).await.unwrap().unwrap();
        assert_eq!((got.name.as_str(), got.created_at), ("Bob", bob.created_at), "{db}");
        assert_eq!(
            store
                .member_by_email(&a, "bob@example.com")
                .await
                .unwrap()
                .map(|m| m.id),
            Some(bob.id.clone()),
            "{db}"
        );
        assert!(store.member_by_email(&a, "").await.unwrap().is_none(), "{db}");
        assert!(
            store.member_by_email(&a, "eve@example.com").await.unwrap().is_none(),
            "{db}"
        );

        // Workspace b sees none of a's members and cannot delete them.
        assert!(store.get_member(&b, &bob.id).await.unwrap().is_none(), "{db}");
        assert!(
            store.member_by_email(&b, "bob@example.com").await.unwrap().is_none(),
            "{db}"
        );
        assert_eq!(
            store
                .list_members(&b)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>(),
            [other.id],
            "{db}"
        );
        assert!(!store.delete_member(&b, &bob.id).await.unwrap(), "{db}");
        assert!(store.get_member(&a, &bob.id).await.unwrap().is_some(), "{db}");

        // Deleting a member leaves the contacts it owned without an owner.
        let owned = ContactChanges {
            name: Some("Carl".into()),
            owner_id: Some(bob.id.clone()),
            ..Default::default()
        };
        let (carl, _) = store
            .upsert_contact(&a, &by_mobile("+15550000001"), &owned, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(carl.owner_id.as_ref(), Some(&bob.id), "{db}");
        assert!(store.delete_member(&a, &bob.id).await.unwrap(), "{db}");
        assert!(!store.delete_member(&a, &bob.id).await.unwrap(), "{db}: gone already");
        assert!(store.get_member(&a, &bob.id).await.unwrap().is_none(), "{db}");
        assert_eq!(
            store.get_contact(&a, &carl.id).await.unwrap().unwrap().owner_id,
            None,
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn upsert_creates_only_when_asked_and_applies_changes() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let changes = ContactChanges {
            name: Some("Ann".into()),
            email: Some("ann@example.com".into()),
            ..Default::default()
        };
        assert!(
            store
                .upsert_contact(&ws, &by_mobile("+15550000001"), &changes, false)
                .await
                .unwrap()
                .is_none(),
            "{db}: nothing matched and nothing was to be created"
        );
        assert!(store
            .list_contacts(&ws, &ContactFilter::default(), &page(10, None))
            .await
            .unwrap()
            .items
            .is_empty());

        let changes = ContactChanges {
            mobile: Some("+15550000001".into()),
            attributes: attrs(json!({"plan": "pro", "seats": 3})),
            add_tags: vec!["vip".into(), "beta".into()],
            ..changes
        };
        let (ann, created) = store
            .upsert_contact(&ws, &by_mobile("+15550000001"), &changes, true)
            .await
            .unwrap()
            .unwrap();
        assert!(created, "{db}");
        assert_eq!(
            (ann.name.as_str(), ann.mobile.as_deref(), ann.email.as_deref()),
            ("Ann", Some("+15550000001"), Some("ann@example.com")),
            "{db}"
        );
        assert_eq!(ann.tags, ["beta", "vip"], "{db}: tags in order");
        assert_eq!(
            Value::Object(ann.attributes.clone()),
            json!({"plan": "pro", "seats": 3}),
            "{db}"
        );
        assert_eq!(
            store.get_contact(&ws, &ann.id).await.unwrap().as_ref(),
            Some(&ann),
            "{db}"
        );

        // The same person again: found, changed, not created. `None` fields stay; a null
        // attribute goes; tags are added and removed.
        let again = ContactChanges {
            name: Some("Ann Smith".into()),
            attributes: attrs(json!({"plan": null, "city": "Lisbon"})),
            add_tags: vec!["customer".into()],
            remove_tags: vec!["beta".into()],
            ..Default::default()
        };
        let (changed, created) = store
            .upsert_contact(&ws, &by_mobile("+15550000001"), &again, true)
            .await
            .unwrap()
            .unwrap();
        assert!(!created, "{db}");
        assert_eq!(changed.id, ann.id, "{db}");
        assert_eq!(
            (changed.name.as_str(), changed.email.as_deref()),
            ("Ann Smith", Some("ann@example.com")),
            "{db}"
        );
        assert_eq!(changed.tags, ["customer", "vip"], "{db}");
        assert_eq!(
            Value::Object(changed.attributes.clone()),
            json!({"city": "Lisbon", "seats": 3}),
            "{db}"
        );
        assert_eq!(changed.created_at, ann.created_at, "{db}");
        assert!(changed.updated_at >= ann.updated_at, "{db}");
        let all = store
            .list_contacts(&ws, &ContactFilter::default(), &page(10, None))
            .await
            .unwrap();
        assert_eq!(all.items.len(), 1, "{db}: still one contact");
    })
    .await;
}

#[tokio::test]
async fn upsert_matches_by_unique_key_then_mobile_then_email() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let keyed = add(
            &*store,
            &ws,
            "keyed",
            Some("+15550000001"),
            None,
            &[],
            json!({"shop_id": 123}),
        )
        .await;
        let mobile = add(
            &*store,
            &ws,
            "mobile",
            Some("+15550000002"),
            Some("m@example.com"),
            &[],
            json!({}),
        )
        .await;
        let first = add(&*store, &ws, "first", None, Some("shared@example.com"), &[], json!({})).await;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let second = add(&*store, &ws, "second", Some("+15550000003"), None, &[], json!({})).await;
        let changes = ContactChanges {
            email: Some("shared@example.com".into()),
            ..Default::default()
        };
        store.update_contact(&ws, &second.id, &changes).await.unwrap().unwrap();

        let find = |key: Option<&str>, mobile: Option<&str>, email: Option<&str>| ContactMatch {
            unique_key: key.map(|v| ("shop_id".to_owned(), v.to_owned())),
            mobile: mobile.map(Into::into),
            email: email.map(Into::into),
        };
        let found = |m: ContactMatch| {
            let store = store.clone();
            let ws = ws.clone();
            async move { store.find_contact(&ws, &m).await.unwrap().map(|c| c.id) }
        };
        // The unique key (a number attribute is looked up by its text) wins over the mobile and email.
        assert_eq!(
            found(find(Some("123"), Some("+15550000002"), Some("m@example.com"))).await,
            Some(keyed.id.clone()),
            "{db}"
        );
        // An unknown key falls back to the mobile, which wins over the email.
        assert_eq!(
            found(find(Some("999"), Some("+15550000002"), Some("shared@example.com"))).await,
            Some(mobile.id.clone()),
            "{db}"
        );
        // An unknown mobile falls back to the email; of two with one email, the first added.
        assert_eq!(
            found(find(None, Some("+15559999999"), Some("shared@example.com"))).await,
            Some(first.id.clone()),
            "{db}"
        );
        assert_eq!(found(find(Some("999"), Some("+15559999999"), None)).await, None, "{db}");
        assert_eq!(found(ContactMatch::default()).await, None, "{db}");

        // Upsert uses the same order: the change lands on the keyed contact.
        let rename = ContactChanges {
            name: Some("renamed".into()),
            ..Default::default()
        };
        let (c, created) = store
            .upsert_contact(&ws, &find(Some("123"), Some("+15550000002"), None), &rename, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((c.id, created), (keyed.id.clone(), false), "{db}");
        assert_eq!(
            store.get_contact(&ws, &mobile.id).await.unwrap().unwrap().name,
            "mobile",
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_mobile_another_contact_has_is_a_conflict() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let ann = add(
            &*store,
            &ws,
            "ann",
            Some("+15550000001"),
            Some("ann@example.com"),
            &[],
            json!({}),
        )
        .await;
        let bob = add(
            &*store,
            &ws,
            "bob",
            Some("+15550000002"),
            Some("bob@example.com"),
            &[],
            json!({}),
        )
        .await;
        let take_anns = ContactChanges {
            name: Some("bob took it".into()),
            mobile: Some("+15550000001".into()),
            ..Default::default()
        };
        let upserted = store
            .upsert_contact(&ws, &by_email("bob@example.com"), &take_anns, false)
            .await;
        assert!(
            matches!(upserted, Err(StoreError::Conflict { .. })),
            "{db}: upsert: {upserted:?}"
        );
        let updated = store.update_contact(&ws, &bob.id, &take_anns).await;
        let Err(StoreError::Conflict { detail, .. }) = updated else {
            panic!("{db}: update: {updated:?}")
        };
        assert!(!detail.contains("UNIQUE constraint failed"), "{db}: {detail}");
        // Nothing of the failed changes stayed.
        let bob_now = store.get_contact(&ws, &bob.id).await.unwrap().unwrap();
        assert_eq!(
            (bob_now.name.as_str(), bob_now.mobile.as_deref()),
            ("bob", Some("+15550000002")),
            "{db}"
        );
        assert_eq!(store.get_contact(&ws, &ann.id).await.unwrap().unwrap(), ann, "{db}");
    })
    .await;
}

#[tokio::test]
async fn lists_filter_and_page_without_repeats() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let mut made = Vec::new();
        for i in 0..7 {
            let tags: &[&str] = if i % 2 == 0 { &["even"] } else { &["odd"] };
            let mobile = format!("+1555000000{i}");
            let email = format!("c{i}@example.com");
            let c = add(
                &*store,
                &ws,
                &format!("c{i}"),
                Some(&mobile),
                Some(&email),
                tags,
                json!({"n": i}),
            )
            .await;
            made.push(c.id);
        }
        made.reverse();
        let mut seen: Vec<ContactId> = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let p = store
                .list_contacts(&ws, &ContactFilter::default(), &page(3, cursor))
                .await
                .unwrap();
            assert!(p.items.len() <= 3, "{db}");
            seen.extend(p.items.into_iter().map(|c| c.id));
            pages += 1;
            cursor = p.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(pages, 3, "{db}");
        assert_eq!(seen, made, "{db}: every contact once, newest first");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7, "{db}");

        let list = |filter: ContactFilter| {
            let store = store.clone();
            let ws = ws.clone();
            async move {
                let p = store.list_contacts(&ws, &filter, &page(50, None)).await.unwrap();
                assert!(p.next_cursor.is_none());
                p.items
            }
        };
        let odd = list(ContactFilter {
            tag: Some("odd".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(names(&odd), ["c5", "c3", "c1"], "{db}");
        assert!(
            odd.iter().all(|c| c.tags == ["odd"]),
            "{db}: listed contacts carry their tags"
        );
        let four = list(ContactFilter {
            attribute: Some(("n".into(), "4".into())),
            ..Default::default()
        })
        .await;
        assert_eq!(names(&four), ["c4"], "{db}");
        assert_eq!(four[0].attributes["n"], json!(4), "{db}");
        let by_mobile = list(ContactFilter {
            mobile: Some("+15550000002".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(names(&by_mobile), ["c2"], "{db}");
        let by_email = list(ContactFilter {
            email: Some("c6@example.com".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(names(&by_email), ["c6"], "{db}");
        let both = list(ContactFilter {
            tag: Some("odd".into()),
            email: Some("c6@example.com".into()),
            ..Default::default()
        })
        .await;
        assert!(both.is_empty(), "{db}: filters combine");
    })
    .await;
}

#[tokio::test]
async fn contacts_stay_in_their_workspace() {
    on_every_database(|store, db| async move {
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let ann = add(
            &*store,
            &a,
            "ann",
            Some("+15550000001"),
            Some("ann@example.com"),
            &["vip"],
            json!({"k": "1"}),
        )
        .await;
        let change = ContactChanges {
            name: Some("stolen".into()),
            ..Default::default()
        };
        let keyed = ContactMatch {
            unique_key: Some(("k".into(), "1".into())),
            ..Default::default()
        };
        for find in [by_mobile("+15550000001"), by_email("ann@example.com"), keyed] {
            assert!(store.find_contact(&b, &find).await.unwrap().is_none(), "{db}: {find:?}");
            assert!(
                store.upsert_contact(&b, &find, &change, false).await.unwrap().is_none(),
                "{db}"
            );
        }
        assert!(store.get_contact(&b, &ann.id).await.unwrap().is_none(), "{db}");
        assert!(
            store.update_contact(&b, &ann.id, &change).await.unwrap().is_none(),
            "{db}"
        );
        assert!(!store.delete_contact(&b, &ann.id).await.unwrap(), "{db}");
        let filter = ContactFilter {
            tag: Some("vip".into()),
            ..Default::default()
        };
        assert!(
            store
                .list_contacts(&b, &filter, &page(10, None))
                .await
                .unwrap()
                .items
                .is_empty(),
            "{db}"
        );
        assert!(
            store
                .list_contacts(&b, &ContactFilter::default(), &page(10, None))
                .await
                .unwrap()
                .items
                .is_empty(),
            "{db}"
        );
        // b may have its own contact with the same mobile: a new one, not a's.
        let (own, created) = store
            .upsert_contact(&b, &by_mobile("+15550000001"), &change, true)
            .await
            .unwrap()
            .unwrap();
        assert!(created && own.id != ann.id, "{db}");
        assert_eq!(
            store.get_contact(&a, &ann.id).await.unwrap().unwrap(),
            ann,
            "{db}: a's untouched"
        );

        assert!(store.delete_contact(&a, &ann.id).await.unwrap(), "{db}");
        assert!(store.get_contact(&a, &ann.id).await.unwrap().is_none(), "{db}");
        assert!(!store.delete_contact(&a, &ann.id).await.unwrap(), "{db}: gone already");
        assert!(
            store
                .find_contact(&a, &by_mobile("+15550000001"))
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn attribute_definitions_are_per_workspace() {
    on_every_database(|store, db| async move {
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let plan = store.define_attribute(&a, "plan", "text").await.unwrap();
        assert_eq!((plan.name.as_str(), plan.kind.as_str()), ("plan", "text"), "{db}");
        store.define_attribute(&a, "age", "number").await.unwrap();
        // Defining one again changes its kind and keeps one definition.
        let again = store.define_attribute(&a, "plan", "json").await.unwrap();
        assert_eq!(
            (again.kind.as_str(), again.created_at),
            ("json", plan.created_at),
            "{db}"
        );
        let listed: Vec<(String, String)> = store
            .list_attribute_definitions(&a)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.kind))
            .collect();
        assert_eq!(
            listed,
            [
                ("age".to_owned(), "number".to_owned()),
                ("plan".to_owned(), "json".to_owned())
            ],
            "{db}"
        );
        assert!(store.list_attribute_definitions(&b).await.unwrap().is_empty(), "{db}");
        assert!(!store.delete_attribute_definition(&b, "plan").await.unwrap(), "{db}");
        assert!(store.delete_attribute_definition(&a, "plan").await.unwrap(), "{db}");
        assert!(!store.delete_attribute_definition(&a, "plan").await.unwrap(), "{db}");
        assert_eq!(store.list_attribute_definitions(&a).await.unwrap().len(), 1, "{db}");
    })
    .await;
}

fn channel(ws: &hookflow_core::WorkspaceId, name: &str) -> Channel {
    let now = Timestamp::now();
    Channel {
        id: ChannelId::new(),
        workspace_id: ws.clone(),
        name: name.into(),
        kind: "sms_http".into(),
        settings: json!({"from": "+15005550006"}),
        credentials: json!({"auth_token": "tw-secret"}),
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn channels_keep_their_credentials_and_stay_in_their_workspace() {
    on_every_database(|store, db| async move {
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let sms = channel(&a, "SMS");
        let mail = channel(&a, "Mail");
        store.create_channel(&sms).await.unwrap();
        store.create_channel(&mail).await.unwrap();
        let got = store.get_channel(&a, &sms.id).await.unwrap().unwrap();
        assert_eq!(
            (got.name.as_str(), got.kind.as_str(), &got.settings, &got.credentials),
            ("SMS", "sms_http", &sms.settings, &sms.credentials),
            "{db}"
        );
        assert_eq!(
            (got.created_at, got.workspace_id.clone()),
            (sms.created_at, a.clone()),
            "{db}"
        );
        let mut ids: Vec<ChannelId> = store
            .list_channels(&a)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        let mut want = vec![sms.id.clone(), mail.id.clone()];
        want.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        assert_eq!(ids, want, "{db}");

        // Only what is given changes.
        let creds = json!({"auth_token": "rotated"});
        let updated = store
            .update_channel(&a, &sms.id, None, None, Some(&creds))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (updated.name.as_str(), &updated.settings, &updated.credentials),
            ("SMS", &sms.settings, &creds),
            "{db}"
        );
        let settings = json!({"from": "+15005550007"});
        let renamed = store
            .update_channel(&a, &sms.id, Some("Texts"), Some(&settings), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), &renamed.settings, &renamed.credentials),
            ("Texts", &settings, &creds),
            "{db}"
        );

        // Workspace b: the same answers as for a missing channel.
        assert!(store.get_channel(&b, &sms.id).await.unwrap().is_none(), "{db}");
        assert!(store.list_channels(&b).await.unwrap().is_empty(), "{db}");
        assert!(
            store
                .update_channel(&b, &sms.id, Some("stolen"), None, Some(&json!({})))
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );
        assert!(!store.delete_channel(&b, &sms.id).await.unwrap(), "{db}");
        assert_eq!(
            store.get_channel(&a, &sms.id).await.unwrap().unwrap().credentials,
            creds,
            "{db}"
        );
        let missing = ChannelId::new();
        assert!(
            store
                .update_channel(&a, &missing, Some("x"), None, None)
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );

        assert!(store.delete_channel(&a, &sms.id).await.unwrap(), "{db}");
        assert!(!store.delete_channel(&a, &sms.id).await.unwrap(), "{db}");
        assert!(store.get_channel(&a, &sms.id).await.unwrap().is_none(), "{db}");
        assert_eq!(store.list_channels(&a).await.unwrap().len(), 1, "{db}");
    })
    .await;
}

fn key(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

async fn open(db: &TestDatabase, byte: u8) -> Result<SqlStore, String> {
    let mut options = StoreOptions::new(db.backend.clone());
    options.keys = SecretKeys {
        current: Some(key(byte)),
        previous: Vec::new(),
        file: None,
    };
    SqlStore::connect(&options).await.map_err(|e| e.to_string())
}

/// The stored credentials are sealed, not plain: a store with another key cannot open them, and
/// says which column it could not open. A channel is the only sealed value in the database.
#[tokio::test]
async fn channel_credentials_are_sealed_at_rest() {
    for db in TestDatabase::all().await {
        let store = open(&db, 1).await.unwrap();
        let ws = workspace(&store, "a").await;
        store.create_channel(&channel(&ws, "SMS")).await.unwrap();
        store.close().await;
        let Err(error) = open(&db, 2).await else {
            panic!("{}: credentials sealed with key 1 opened with key 2", db.label)
        };
        assert!(error.contains("channels.credentials"), "{}: {error}", db.label);
    }
}
