//! The contact book, members, channels and the field mapping, end to end.

use reqwest::Method;
use serde_json::{json, Value};

use crate::utils::{journal_step, on_every_database, problem, run_event, TestServer};

async fn send(s: &TestServer, method: Method, path: &str, token: &str, body: Value) -> reqwest::Response {
    s.api(method, path, token).json(&body).send().await.unwrap()
}

async fn created(s: &TestServer, path: &str, token: &str, body: Value) -> Value {
    let r = send(s, Method::POST, path, token, body).await;
    assert_eq!(r.status(), 201, "POST {path}: {}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn whatsapp_channel(s: &TestServer, token: &str, name: &str) -> String {
    let c = created(
        s,
        "/channels",
        token,
        json!({"name": name, "kind": "whatsapp_cloud",
        "settings": {"phone_number_id": "1234567890", "base_url": "http://127.0.0.1:9/v21.0"},
        "credentials": {"access_token": format!("EAAG-secret-{name}")}}),
    )
    .await;
    c["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn contacts_are_kept_normalized_and_searchable() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let ws = send(
            &s,
            Method::PATCH,
            "/workspace",
            &token,
            json!({"default_country": "in", "timezone": "Asia/Kolkata"}),
        )
        .await;
        let ws: Value = ws.json().await.unwrap();
        assert_eq!(
            (ws["default_country"].as_str(), ws["timezone"].as_str()),
            (Some("IN"), Some("Asia/Kolkata")),
            "{db}"
        );
        problem(
            send(
                &s,
                Method::PATCH,
                "/workspace",
                &token,
                json!({"timezone": "Mars/Base"}),
            )
            .await,
            400,
        )
        .await;

        let ann = created(
            &s,
            "/contacts",
            &token,
            json!({"name": "Ann", "mobile": "099999 00111", "email": " Ann@Shop.Example ",
            "tags": ["vip"], "attributes": {"city": "Kochi", "orders": 3}}),
        )
        .await;
        assert_eq!(
            (ann["mobile"].as_str(), ann["email"].as_str()),
            (Some("+919999900111"), Some("ann@shop.example")),
            "{db}"
        );
        assert_eq!(
            (&ann["tags"], &ann["attributes"]),
            (&json!(["vip"]), &json!({"city": "Kochi", "orders": 3})),
            "{db}"
        );
        let id = ann["id"].as_str().unwrap();
        assert!(id.starts_with("ctc_"), "{db}");
        let dup = problem(
            send(
                &s,
                Method::POST,
                "/contacts",
                &token,
                json!({"mobile": "+91 99999 00111"}),
            )
            .await,
            409,
        )
        .await;
        assert!(dup["detail"].as_str().unwrap().contains("+919999900111"), "{db}");
        let bad = problem(
            send(&s, Method::POST, "/contacts", &token, json!({"name": "Nobody"})).await,
            400,
        )
        .await;
        assert_eq!(bad["errors"][0]["path"], "mobile", "{db}");
        let bad = problem(
            send(
                &s,
                Method::POST,
                "/contacts",
                &token,
                json!({"email": "ann@", "mobile": "12", "channel": "ch_x", "owner": "who@x.example"}),
            )
            .await,
            400,
        )
        .await;
        let paths: Vec<&str> = bad["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["mobile", "email", "channel", "owner"], "{db}: {bad}");

        created(
            &s,
            "/contacts",
            &token,
            json!({"email": "bob@shop.example", "attributes": {"city": "Pune"}}),
        )
        .await;
        let search = |q: &'static str| {
            let (s, token) = (&s, &token);
            async move { s.get_json(&format!("/contacts?{q}"), token).await }
        };
        let names = |v: Value| {
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["email"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(search("mobile=%2B91%2099999%2000111").await),
            ["ann@shop.example"],
            "{db}"
        );
        assert_eq!(
            names(search("mobile=09999900111").await),
            ["ann@shop.example"],
            "{db}: local numbers use the default country"
        );
        assert_eq!(
            names(search("email=BOB@shop.example").await),
            ["bob@shop.example"],
            "{db}"
        );
        assert_eq!(names(search("tag=vip").await), ["ann@shop.example"], "{db}");
        assert_eq!(names(search("attribute=city:Pune").await), ["bob@shop.example"], "{db}");
        assert_eq!(
            names(search("attribute=orders:3").await),
            ["ann@shop.example"],
            "{db}: numbers match their text"
        );
        assert_eq!(names(search("").await).len(), 2, "{db}");
        problem(
            s.api(Method::GET, "/contacts?attribute=city", &token)
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;

        let r = send(
            &s,
            Method::PATCH,
            &format!("/contacts/{id}"),
            &token,
            json!({"attributes": {"city": null, "plan": "gold"}, "tags": ["paid"]}),
        )
        .await;
        let ann: Value = r.json().await.unwrap();
        assert_eq!(
            (&ann["attributes"], &ann["tags"]),
            (&json!({"orders": 3, "plan": "gold"}), &json!(["paid", "vip"])),
            "{db}"
        );
        let r = s
            .api(Method::DELETE, &format!("/contacts/{id}/tags/vip"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["paid"]), "{db}");

        // Typed attributes.
        created(
            &s,
            "/contact-attributes",
            &token,
            json!({"name": "orders", "type": "number"}),
        )
        .await;
        let bad = problem(
            send(
                &s,
                Method::PATCH,
                &format!("/contacts/{id}"),
                &token,
                json!({"attributes": {"orders": "many"}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(bad["errors"][0]["path"], "attributes.orders", "{db}");
        problem(
            send(
                &s,
                Method::POST,
                "/contact-attributes",
                &token,
                json!({"name": "x y", "type": "colour"}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(
            s.get_json("/contact-attributes", &token).await["data"],
            json!([{"name": "orders", "type": "number"}]),
            "{db}"
        );

        // Another workspace sees none of it.
        let other = s.workspace("other").await;
        problem(
            s.api(Method::GET, &format!("/contacts/{id}"), &other)
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        problem(
            send(
                &s,
                Method::PATCH,
                &format!("/contacts/{id}"),
                &other,
                json!({"name": "x"}),
            )
            .await,
            404,
        )
        .await;
        assert_eq!(
            s.get_json("/contacts?tag=paid", &other).await["data"],
            json!([]),
            "{db}"
        );

        assert_eq!(
            s.api(Method::DELETE, &format!("/contacts/{id}"), &token)
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
        problem(
            s.api(Method::GET, &format!("/contacts/{id}"), &token)
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn channel_credentials_are_write_only() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let id = whatsapp_channel(&s, &token, "main").await;
        assert!(id.starts_with("ch_"), "{db}");
        let mut seen = String::new();
        for path in ["/channels".to_owned(), format!("/channels/{id}")] {
            seen.push_str(
                &s.api(Method::GET, &path, &token)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
            );
        }
        let r = send(
            &s,
            Method::PATCH,
            &format!("/channels/{id}"),
            &token,
            json!({"credentials": {"access_token": "EAAG-rotated"}}),
        )
        .await;
        let patched = r.text().await.unwrap();
        seen.push_str(&patched);
        assert!(
            patched.contains("\"credentials_set\":[\"access_token\"]"),
            "{db}: {patched}"
        );
        assert!(!seen.contains("EAAG-"), "{db}: a credential was shown: {seen}");
        let bad = problem(
            send(
                &s,
                Method::POST,
                "/channels",
                &token,
                json!({"name": "x", "kind": "smtp", "settings": {"host": "mail"}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(bad["errors"][0]["path"], "settings.from", "{db}");
        problem(
            send(
                &s,
                Method::POST,
                "/channels",
                &token,
                json!({"name": "x", "kind": "pigeon"}),
            )
            .await,
            400,
        )
        .await;
        let other = s.workspace("other").await;
        problem(
            s.api(Method::GET, &format!("/channels/{id}"), &other)
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn field_mapping_needs_a_mobile_or_email_and_a_channel() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let id = s.create_connector(&token, json!({"name": "Leads"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = problem(
            s.put_config(
                &token,
                &id,
                &json!({"field_mapping": {"name": "{{ event.body.name }}", "channel": "ch_x"}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["errors"][0]["path"], "field_mapping.mobile", "{db}");
        let body = problem(
            s.put_config(
                &token,
                &id,
                &json!({"field_mapping": {"email": "{{ event.body.email }}"}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["errors"][0]["path"], "field_mapping.channel", "{db}");
        let body = problem(
            s.put_config(
                &token,
                &id,
                &json!({"field_mapping": {"email": "{{ event.body.email }}", "channel": "x", "colour": 1}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["errors"][0]["path"], "field_mapping.colour", "{db}");
        s.stop().await;
    })
    .await;
}

/// Creates a connector whose field mapping is `mapping` and a storage step that shows the contact.
async fn mapped_connector(s: &TestServer, token: &str, mapping: Value) -> String {
    let c = s
        .create_connector(token, json!({"name": "Leads", "config": {"field_mapping": mapping, "steps": [
            {"id": "seen", "type": "storage", "operation": "set", "key": "last", "value": "{{ contact.id }} {{ contact.mobile }} {{ contact.owner.email }}"}]}}))
        .await;
    c["url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_event_upserts_its_contact_by_mobile() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        send(
            &s,
            Method::PATCH,
            "/workspace",
            &token,
            json!({"default_country": "US"}),
        )
        .await;
        let ch = whatsapp_channel(&s, &token, "main").await;
        let url = mapped_connector(
            &s,
            &token,
            json!({"mobile": "{{ event.body.phone }}", "name": "{{ event.body.name }}",
            "channel": ch, "attributes": {"city": "{{ event.body.city }}"}}),
        )
        .await;
        let first = run_event(
            &s,
            &token,
            &url,
            json!({"phone": "(415) 555-2671", "name": "Ann", "city": "SF"}),
        )
        .await;
        assert_eq!(first["status"], "succeeded", "{db}: {first}");
        let mapped = journal_step(&first, "@field_mapping");
        assert_eq!(
            (
                mapped["output"]["mobile"].as_str(),
                mapped["output"]["created"].as_bool()
            ),
            (Some("+14155552671"), Some(true)),
            "{db}"
        );
        let contact_id = mapped["output"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            journal_step(&first, "seen")["output"]["value"],
            format!("{contact_id} +14155552671 "),
            "{db}: `contact` is a template root"
        );

        let second = run_event(
            &s,
            &token,
            &url,
            json!({"phone": "+1 415 555 2671", "name": "Ann Lee", "city": "Oakland"}),
        )
        .await;
        let mapped = journal_step(&second, "@field_mapping");
        assert_eq!(
            (mapped["output"]["id"].as_str(), mapped["output"]["created"].as_bool()),
            (Some(contact_id.as_str()), Some(false)),
            "{db}"
        );
        let c = s.get_json(&format!("/contacts/{contact_id}"), &token).await;
        assert_eq!(
            (
                c["name"].as_str(),
                c["attributes"]["city"].as_str(),
                c["channel"].as_str()
            ),
            (Some("Ann Lee"), Some("Oakland"), Some(ch.as_str())),
            "{db}"
        );
        assert_eq!(
            s.get_json("/contacts", &token).await["data"].as_array().unwrap().len(),
            1,
            "{db}"
        );

        // Neither a mobile nor an email: the execution fails with the reason.
        let none = run_event(&s, &token, &url, json!({"name": "?"})).await;
        assert_eq!(none["status"], "failed", "{db}");
        assert!(
            journal_step(&none, "@field_mapping")["error"]
                .as_str()
                .unwrap()
                .contains("no mobile, email or unique key"),
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_email_only_event_finds_the_contact_added_first() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let ch = whatsapp_channel(&s, &token, "main").await;
        let first = created(&s, "/contacts", &token, json!({"name": "First", "email": "shared@shop.example", "mobile": "+14155552671"})).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        created(&s, "/contacts", &token, json!({"name": "Second", "email": "shared@shop.example", "mobile": "+14155552672"})).await;
        let url = mapped_connector(&s, &token, json!({"email": "{{ event.body.email }}", "channel": ch, "attributes": {"last_order": "{{ event.body.order }}"}})).await;
        let e = run_event(&s, &token, &url, json!({"email": "Shared@Shop.example", "order": "A-7"})).await;
        let mapped = journal_step(&e, "@field_mapping");
        assert_eq!(mapped["output"]["id"], first["id"], "{db}: the contact added first wins");
        assert_eq!(journal_step(&e, "seen")["output"]["value"], format!("{} +14155552671 ", first["id"].as_str().unwrap()), "{db}: its mobile is known");
        let c = s.get_json(&format!("/contacts/{}", first["id"].as_str().unwrap()), &token).await;
        assert_eq!(c["attributes"]["last_order"], "A-7", "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_unique_key_finds_the_contact_before_mobile_or_email() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let ch = whatsapp_channel(&s, &token, "main").await;
        let known = created(
            &s,
            "/contacts",
            &token,
            json!({"email": "old@shop.example", "attributes": {"shop_customer_id": 123}}),
        )
        .await;
        let url = mapped_connector(
            &s,
            &token,
            json!({"email": "{{ event.body.customer.email }}", "channel": ch,
            "unique_key": {"name": "shop_customer_id", "value": "{{ event.body.customer.id }}"}}),
        )
        .await;
        let e = run_event(
            &s,
            &token,
            &url,
            json!({"customer": {"id": 123, "email": "new@shop.example"}}),
        )
        .await;
        assert_eq!(journal_step(&e, "@field_mapping")["output"]["id"], known["id"], "{db}");
        let c = s
            .get_json(&format!("/contacts/{}", known["id"].as_str().unwrap()), &token)
            .await;
        assert_eq!(
            c["email"], "new@shop.example",
            "{db}: the email was updated on the matched contact"
        );
        let fresh = run_event(
            &s,
            &token,
            &url,
            json!({"customer": {"id": 456, "email": "third@shop.example"}}),
        )
        .await;
        let made = &journal_step(&fresh, "@field_mapping")["output"];
        assert_eq!(
            (
                made["created"].as_bool(),
                made["attributes"]["shop_customer_id"].as_str()
            ),
            (Some(true), Some("456")),
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn channel_and_owner_can_be_mapped_dynamically() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let main = whatsapp_channel(&s, &token, "main").await;
        let support = whatsapp_channel(&s, &token, "support").await;
        let agent = created(
            &s,
            "/members",
            &token,
            json!({"name": "Agent", "email": "agent@shop.example"}),
        )
        .await;
        let url = mapped_connector(
            &s,
            &token,
            json!({"mobile": "{{ event.body.phone }}", "channel": "{{ event.custom_variables.channel }}",
            "owner": "{{ event.custom_variables.agent }}"}),
        )
        .await;
        let e = run_event(
            &s,
            &token,
            &format!("{url}?channel={support}&agent=Agent%40shop.example"),
            json!({"phone": "+14155552671"}),
        )
        .await;
        assert_eq!(e["status"], "succeeded", "{db}: {e}");
        let out = &journal_step(&e, "@field_mapping")["output"];
        assert_eq!(
            (out["channel"].as_str(), out["owner"]["id"].as_str()),
            (Some(support.as_str()), agent["id"].as_str()),
            "{db}"
        );
        assert!(
            journal_step(&e, "seen")["output"]["value"]
                .as_str()
                .unwrap()
                .ends_with("agent@shop.example"),
            "{db}"
        );

        let unknown = run_event(
            &s,
            &token,
            &format!("{url}?channel=ch_01M80KVTPZYA0HD1NHC88YAW1W&agent=agent%40shop.example"),
            json!({"phone": "+14155552672"}),
        )
        .await;
        assert_eq!(unknown["status"], "failed", "{db}");
        let error = journal_step(&unknown, "@field_mapping")["error"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            error, "there is no channel with the id `ch_01M80KVTPZYA0HD1NHC88YAW1W` in this workspace",
            "{db}"
        );
        let nobody = run_event(
            &s,
            &token,
            &format!("{url}?channel={main}&agent=ghost%40shop.example"),
            json!({"phone": "+14155552673"}),
        )
        .await;
        assert!(
            journal_step(&nobody, "@field_mapping")["error"]
                .as_str()
                .unwrap()
                .contains("no member with the email `ghost@shop.example`"),
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn contact_actions_upsert_tag_and_assign() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        created(&s, "/members", &token, json!({"name": "Agent", "email": "agent@shop.example"})).await;
        let c = s.create_connector(&token, json!({"name": "CRM", "config": {"steps": [
            {"id": "who", "type": "upsert_contact", "email": "{{ event.body.email }}", "name": "{{ event.body.name }}", "tags": "lead, web"},
            {"id": "vip", "type": "add_tag", "tags": "{{ event.body.tier }}"},
            {"id": "unlead", "type": "remove_tag", "tags": "lead"},
            {"id": "own", "type": "assign_owner", "owner": "{{ event.body.agent }}"}]}})).await;
        let e = run_event(&s, &token, c["url"].as_str().unwrap(), json!({"email": "lee@shop.example", "name": "Lee", "tier": "vip", "agent": "agent@shop.example"})).await;
        assert_eq!(e["status"], "succeeded", "{db}: {e}");
        assert_eq!(journal_step(&e, "unlead")["output"]["tags"], json!(["vip", "web"]), "{db}");
        let id = journal_step(&e, "who")["output"]["id"].as_str().unwrap().to_owned();
        let contact = s.get_json(&format!("/contacts/{id}"), &token).await;
        assert_eq!((contact["name"].as_str(), &contact["tags"]), (Some("Lee"), &json!(["vip", "web"])), "{db}");
        assert!(contact["owner"].as_str().unwrap().starts_with("mem_"), "{db}");
        let bad = s.put_config(&token, c["id"].as_str().unwrap(), &json!({"steps": [{"id": "x", "type": "upsert_contact", "name": "n"}]})).await;
        assert_eq!(problem(bad, 400).await["errors"][0]["path"], "steps[0].mobile", "{db}");
        s.stop().await;
    })
    .await;
}
