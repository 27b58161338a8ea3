//! Subscriptions through `Subscriptions`: their records, and `emit`, which writes one delivery
//! (and job) per subscription that wants a message, in one transaction with a journal entry.

use hookflow_core::{EventType, JobKind, JobState, StepStatus, SubscriptionId, Timestamp};
use hookflow_engine::messages::{self, Message};
use hookflow_engine::store::{ContactChanges, ContactMatch, StepRecord, SubscriptionChanges};
use serde_json::{json, Map, Value};

use crate::utils::{
    connector, delivered_types, deliveries, event, new_subscription, on_every_database, subscription, workspace,
};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn custom(name: &str, connector: Option<&hookflow_core::ConnectorId>) -> Message {
    Message {
        event_type: EventType::custom(name).unwrap(),
        connector: connector.cloned(),
        data: json!({"name": name}),
    }
}

#[tokio::test]
async fn subscriptions_read_back_change_and_rotate() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let first = subscription(&*store, &ws, &["execution.*"], &[]).await;
        let mut second = new_subscription(&ws, &["contact.created"], &["con_1"]);
        second.description = "CRM".into();
        second.headers = object(json!({"x-api-key": "k"}));
        second.extra_fields = object(json!({"env": "prod"}));
        store.create_subscription(&second).await.unwrap();

        let got = store.get_subscription(&ws, &second.id).await.unwrap().unwrap();
        assert_eq!(
            (&got.url, &got.description, &got.event_types, &got.connector_ids),
            (
                &second.url,
                &second.description,
                &second.event_types,
                &second.connector_ids
            ),
            "{db}"
        );
        assert_eq!(
            (&got.headers, &got.extra_fields, got.created_at),
            (&second.headers, &second.extra_fields, second.created_at),
            "{db}"
        );
        assert_eq!(
            (got.secret.as_str(), got.enabled),
            (second.secret.as_str(), true),
            "{db}"
        );
        assert_eq!(
            (got.previous_secret, got.disabled_reason, got.failing_since),
            (None, None, None),
            "{db}"
        );
        let listed: Vec<SubscriptionId> = store
            .list_subscriptions(&ws)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(listed, [second.id.clone(), first.id.clone()], "{db}: newest first");

        let changes = SubscriptionChanges {
            url: Some("https://example.com/new".into()),
            event_types: Some(vec!["*".into()]),
            headers: Some(object(json!({"x-api-key": "k2"}))),
            ..Default::default()
        };
        let changed = store
            .update_subscription(&ws, &second.id, &changes)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (changed.url.as_str(), &changed.event_types, &changed.headers),
            (
                "https://example.com/new",
                &vec!["*".to_owned()],
                &object(json!({"x-api-key": "k2"}))
            ),
            "{db}"
        );
        assert_eq!(
            (&changed.connector_ids, &changed.extra_fields),
            (&second.connector_ids, &second.extra_fields),
            "{db}"
        );
        assert_eq!(changed.secret, second.secret, "{db}: the secret stays");

        // Turning one off says why; turning it on again clears that.
        let off = SubscriptionChanges {
            enabled: Some(false),
            ..Default::default()
        };
        let off = store.update_subscription(&ws, &second.id, &off).await.unwrap().unwrap();
        assert!(!off.enabled && off.disabled_reason.is_some(), "{db}: {off:?}");
        let on = SubscriptionChanges {
            enabled: Some(true),
            ..Default::default()
        };
        let on = store.update_subscription(&ws, &second.id, &on).await.unwrap().unwrap();
        assert_eq!((on.enabled, on.disabled_reason), (true, None), "{db}");

        // A rotation keeps the old secret as the previous one until the given time.
        let until = Timestamp::now().plus_millis(86_400_000);
        let rotated = store
            .rotate_subscription_secret(&ws, &second.id, "whsec_new", until)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                rotated.secret.as_str(),
                rotated.previous_secret.as_deref(),
                rotated.previous_until
            ),
            ("whsec_new", Some(second.secret.as_str()), Some(until)),
            "{db}"
        );
        let read = store.get_subscription(&ws, &second.id).await.unwrap().unwrap();
        assert_eq!(
            (read.secret.as_str(), read.previous_secret.as_deref()),
            ("whsec_new", Some(second.secret.as_str())),
            "{db}"
        );
        let missing = SubscriptionId::new();
        assert!(
            store
                .rotate_subscription_secret(&ws, &missing, "x", until)
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );
        assert!(
            store
                .update_subscription(&ws, &missing, &changes)
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );

        assert!(store.delete_subscription(&ws, &second.id).await.unwrap(), "{db}");
        assert!(!store.delete_subscription(&ws, &second.id).await.unwrap(), "{db}");
        assert!(store.get_subscription(&ws, &second.id).await.unwrap().is_none(), "{db}");
        assert_eq!(store.list_subscriptions(&ws).await.unwrap().len(), 1, "{db}");
    })
    .await;
}

#[tokio::test]
async fn subscriptions_stay_in_their_workspace() {
    on_every_database(|store, db| async move {
        let a = workspace(&*store, "a").await;
        let b = workspace(&*store, "b").await;
        let sub = subscription(&*store, &a, &["*"], &[]).await;
        assert!(store.get_subscription(&b, &sub.id).await.unwrap().is_none(), "{db}");
        assert!(store.list_subscriptions(&b).await.unwrap().is_empty(), "{db}");
        let changes = SubscriptionChanges {
            url: Some("https://evil.example.com".into()),
            enabled: Some(false),
            ..Default::default()
        };
        assert!(
            store
                .update_subscription(&b, &sub.id, &changes)
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );
        assert!(
            store
                .rotate_subscription_secret(&b, &sub.id, "whsec_evil", Timestamp::now())
                .await
                .unwrap()
                .is_none(),
            "{db}"
        );
        assert!(!store.delete_subscription(&b, &sub.id).await.unwrap(), "{db}");
        // Nothing b emits reaches a's subscription.
        assert_eq!(
            store.emit(&b, &custom("x", None), None, None).await.unwrap(),
            None,
            "{db}"
        );
        assert_eq!(
            store.emit(&b, &custom("x", None), Some(&sub.id), None).await.unwrap(),
            None,
            "{db}"
        );
        assert!(deliveries(&*store, &a, &sub.id).await.is_empty(), "{db}");

        let read = store.get_subscription(&a, &sub.id).await.unwrap().unwrap();
        assert_eq!(
            (read.url, read.enabled, read.secret, read.previous_secret),
            (sub.url, true, sub.secret, None),
            "{db}"
        );
    })
    .await;
}

#[tokio::test]
async fn emit_reaches_every_subscription_that_wants_the_type() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c1 = connector(&*store, &ws, "one").await.id;
        let c2 = connector(&*store, &ws, "two").await.id;
        let exact = subscription(&*store, &ws, &["execution.failed"], &[]).await;
        let family = subscription(&*store, &ws, &["execution.*"], &[]).await;
        let all = subscription(&*store, &ws, &["*"], &[]).await;
        let of_c1 = subscription(&*store, &ws, &["*"], &[c1.as_str()]).await;
        let of_c2 = subscription(&*store, &ws, &["*"], &[c2.as_str()]).await;
        let other = subscription(&*store, &ws, &["execution.succeeded", "contact.*"], &[]).await;
        let off = subscription(&*store, &ws, &["*"], &[]).await;
        let disable = SubscriptionChanges {
            enabled: Some(false),
            ..Default::default()
        };
        store
            .update_subscription(&ws, &off.id, &disable)
            .await
            .unwrap()
            .unwrap();

        let message = Message {
            event_type: EventType::ExecutionFailed,
            connector: Some(c1.clone()),
            data: json!({"execution_id": "exe_1"}),
        };
        let id = store.emit(&ws, &message, None, None).await.unwrap().expect("a message");
        for (sub, wants) in [
            (&exact, true),
            (&family, true),
            (&all, true),
            (&of_c1, true),
            (&of_c2, false),
            (&other, false),
            (&off, false),
        ] {
            let got = deliveries(&*store, &ws, &sub.id).await;
            if !wants {
                assert!(got.is_empty(), "{db}: {:?} got {got:?}", sub.event_types);
                continue;
            }
            let [d] = &got[..] else {
                panic!("{db}: {:?} {:?} got {got:?}", sub.event_types, sub.connector_ids)
            };
            assert_eq!(
                (&d.message_id, d.event_type.as_str(), d.status.as_str(), d.attempts),
                (&id, "execution.failed", "pending", 0),
                "{db}"
            );
            let job = store.job_for_target(d.id.as_str()).await.unwrap().expect("a job");
            assert_eq!((job.kind, job.state), (JobKind::Delivery, JobState::Queued), "{db}");
        }

        // Without a connector, a subscription that filters on connectors wants nothing.
        let unscoped = custom("ping", None);
        store.emit(&ws, &unscoped, None, None).await.unwrap().unwrap();
        assert_eq!(
            delivered_types(&*store, &ws, &of_c1.id).await,
            ["execution.failed"],
            "{db}"
        );
        assert_eq!(
            delivered_types(&*store, &ws, &all.id).await,
            ["execution.failed", "custom.ping"],
            "{db}"
        );

        // A message no subscription wants writes nothing.
        let nobody = Message {
            event_type: EventType::EventRejected,
            connector: Some(c2.clone()),
            data: json!({}),
        };
        let before = deliveries(&*store, &ws, &of_c2.id).await.len();
        store
            .update_subscription(&ws, &all.id, &disable)
            .await
            .unwrap()
            .unwrap();
        store
            .update_subscription(&ws, &of_c2.id, &disable)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.emit(&ws, &nobody, None, None).await.unwrap(), None, "{db}");
        assert_eq!(deliveries(&*store, &ws, &of_c2.id).await.len(), before, "{db}");
    })
    .await;
}

#[tokio::test]
async fn only_reaches_one_subscription_whatever_it_filters() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let picky = subscription(&*store, &ws, &["contact.tagged"], &["con_nothing"]).await;
        let all = subscription(&*store, &ws, &["*"], &[]).await;
        let test = messages::subscription_test(&picky.id);
        let id = store
            .emit(&ws, &test, Some(&picky.id), None)
            .await
            .unwrap()
            .expect("sent");
        let got = deliveries(&*store, &ws, &picky.id).await;
        assert_eq!(got.len(), 1, "{db}");
        assert_eq!(
            (&got[0].message_id, got[0].event_type.as_str()),
            (&id, "subscription.test"),
            "{db}"
        );
        assert!(
            deliveries(&*store, &ws, &all.id).await.is_empty(),
            "{db}: only the one named"
        );
        let missing = SubscriptionId::new();
        assert_eq!(
            store.emit(&ws, &test, Some(&missing), None).await.unwrap(),
            None,
            "{db}"
        );
    })
    .await;
}

fn record(execution: &hookflow_core::ExecutionId) -> StepRecord {
    StepRecord {
        execution_id: execution.clone(),
        key: "announce".into(),
        seq: 1,
        step_id: "announce".into(),
        step_type: "emit_event".into(),
        status: StepStatus::Succeeded,
        input: json!({"event_type": "order_paid"}),
        output: Value::Null,
        error: None,
        missing: Vec::new(),
        started_at: Timestamp::now(),
        duration_ms: 1,
        attempts: 1,
        attempt_log: Vec::new(),
    }
}

#[tokio::test]
async fn emit_writes_its_journal_entry_with_the_message() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let c = connector(&*store, &ws, "orders").await;
        // The event goes in before any subscription, so nothing announces it.
        let e = event(&c, json!({}));
        store.insert_events(std::slice::from_ref(&e)).await.unwrap();
        let exe = e.execution.clone().unwrap();
        let sub = subscription(&*store, &ws, &["custom.*"], &[]).await;

        let entry = record(&exe);
        let message = messages::custom(EventType::custom("order_paid").unwrap(), &c.id, json!({"total": 5}));
        let id = store
            .emit(&ws, &message, None, Some(&entry))
            .await
            .unwrap()
            .expect("sent");
        let journal = store.journal(&exe).await.unwrap();
        assert_eq!(
            journal,
            [StepRecord {
                output: json!({"message_id": id, "type": "custom.order_paid"}),
                ..entry.clone()
            }],
            "{db}"
        );
        assert_eq!(
            delivered_types(&*store, &ws, &sub.id).await,
            ["custom.order_paid"],
            "{db}"
        );

        // With no subscription wanting it, the entry is still written, without a message.
        let unwanted = Message {
            event_type: EventType::ExecutionFailed,
            ..message
        };
        let second = StepRecord {
            key: "again".into(),
            seq: 2,
            ..entry
        };
        assert_eq!(
            store.emit(&ws, &unwanted, None, Some(&second)).await.unwrap(),
            None,
            "{db}"
        );
        let journal = store.journal(&exe).await.unwrap();
        assert_eq!(journal.len(), 2, "{db}");
        assert_eq!(
            journal[1].output,
            json!({"message_id": null, "type": "execution.failed"}),
            "{db}"
        );
        assert_eq!(deliveries(&*store, &ws, &sub.id).await.len(), 1, "{db}");
    })
    .await;
}

#[tokio::test]
async fn contact_changes_announce_themselves() {
    on_every_database(|store, db| async move {
        let ws = workspace(&*store, "a").await;
        let contacts = subscription(&*store, &ws, &["contact.*"], &[]).await;
        let tagged = subscription(&*store, &ws, &["contact.tagged"], &[]).await;
        let find = ContactMatch {
            mobile: Some("+15550000001".into()),
            ..Default::default()
        };
        let create = ContactChanges {
            name: Some("Ann".into()),
            mobile: Some("+15550000001".into()),
            add_tags: vec!["vip".into()],
            ..Default::default()
        };
        let (ann, _) = store.upsert_contact(&ws, &find, &create, true).await.unwrap().unwrap();
        assert_eq!(
            delivered_types(&*store, &ws, &contacts.id).await,
            ["contact.created", "contact.tagged"],
            "{db}"
        );
        let rename = ContactChanges {
            name: Some("Ann Smith".into()),
            ..Default::default()
        };
        store.upsert_contact(&ws, &find, &rename, false).await.unwrap().unwrap();
        store.update_contact(&ws, &ann.id, &rename).await.unwrap().unwrap();
        let retag = ContactChanges {
            add_tags: vec!["customer".into()],
            ..Default::default()
        };
        store.update_contact(&ws, &ann.id, &retag).await.unwrap().unwrap();
        assert_eq!(
            delivered_types(&*store, &ws, &contacts.id).await,
            [
                "contact.created",
                "contact.tagged",
                "contact.updated",
                "contact.updated",
                "contact.updated",
                "contact.tagged"
            ],
            "{db}"
        );
        let tags = deliveries(&*store, &ws, &tagged.id).await;
        assert_eq!(tags.len(), 2, "{db}");
        let work = store.delivery_work(&tags[1].id).await.unwrap().unwrap();
        assert_eq!(work.payload["data"]["tags_added"], json!(["customer"]), "{db}");
        assert_eq!(work.payload["data"]["contact"]["id"], json!(ann.id), "{db}");
        assert_eq!(work.payload["data"]["contact"]["name"], "Ann Smith", "{db}");
        let created = deliveries(&*store, &ws, &contacts.id).await;
        let work = store.delivery_work(&created[0].id).await.unwrap().unwrap();
        assert_eq!(
            (
                &work.payload["type"],
                &work.payload["data"]["id"],
                &work.payload["data"]["mobile"]
            ),
            (&json!("contact.created"), &json!(ann.id), &json!("+15550000001")),
            "{db}"
        );

        // Another workspace's contact changes reach none of a's subscriptions.
        let b = workspace(&*store, "b").await;
        store.upsert_contact(&b, &find, &create, true).await.unwrap().unwrap();
        assert_eq!(deliveries(&*store, &ws, &contacts.id).await.len(), 6, "{db}");
    })
    .await;
}
