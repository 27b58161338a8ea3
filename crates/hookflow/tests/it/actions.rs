//! Actions against real peers on 127.0.0.1: exact channel requests, the
//! order flow of the issue, retries and the private-address guard.

use std::sync::Arc;
use std::time::Duration;

use hookflow_test_support::TestDatabase;
use reqwest::Method;
use serde_json::{json, Value};

use crate::peer::{Peer, Reply};
use crate::utils::{journal_step, on_every_database, run_event, TestServer};

async fn channel(s: &TestServer, token: &str, body: Value) -> String {
    let r = s
        .api(Method::POST, "/channels", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn connector(s: &TestServer, token: &str, steps: Value) -> (String, String) {
    let c = s
        .create_connector(token, json!({"name": "Actions", "config": {"steps": steps}}))
        .await;
    (
        c["id"].as_str().unwrap().to_owned(),
        c["url"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn whatsapp_cloud_requests_are_exactly_what_the_api_expects() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let mut wa = Peer::start(Reply::json(200, json!({"messaging_product": "whatsapp",
            "contacts": [{"input": "14155552671", "wa_id": "14155552671"}], "messages": [{"id": "wamid.HBgL"}]}))).await;
        let ch = channel(&s, &token, json!({"name": "WA", "kind": "whatsapp_cloud",
            "settings": {"phone_number_id": "1234567890", "base_url": format!("{}/v21.0", wa.base)},
            "credentials": {"access_token": "EAAG-test-token"}})).await;
        let (_, url) = connector(&s, &token, json!([
            {"id": "hi", "type": "send_message", "channel": ch, "to": "{{ event.body.phone }}", "text": "Hi {{ event.body.name }}"},
            {"id": "photo", "type": "send_message", "channel": ch, "to": "{{ event.body.phone }}",
             "media": {"type": "image", "url": "https://cdn.example/p.jpg", "caption": "Your order"}},
            {"id": "confirm", "type": "send_message", "channel": ch, "to": "{{ event.body.phone }}",
             "template": {"name": "order_confirmed", "language": "en_US",
                          "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{ event.body.order | string }}"}]}]}},
            {"id": "rate", "type": "send_message", "channel": ch, "to": "{{ event.body.phone }}",
             "buttons": {"body": "Rate us", "buttons": [{"id": "good", "title": "Good"}, {"id": "bad", "title": "Bad"}]}}
        ])).await;
        let e = run_event(&s, &token, &url, json!({"phone": "+1 415 555 2671", "name": "Ann", "order": 1001})).await;
        assert_eq!(e["status"], "succeeded", "{db}: {e}");
        let exe = e["execution_id"].as_str().unwrap();
        let base = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "14155552671"});
        let with = |extra: Value| {
            let mut b = base.clone();
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        let expected = [
            ("hi", with(json!({"type": "text", "text": {"preview_url": false, "body": "Hi Ann"}}))),
            ("photo", with(json!({"type": "image", "image": {"link": "https://cdn.example/p.jpg", "caption": "Your order"}}))),
            ("confirm", with(json!({"type": "template", "template": {"name": "order_confirmed", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "1001"}]}]}}))),
            ("rate", with(json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Rate us"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "good", "title": "Good"}},
                                       {"type": "reply", "reply": {"id": "bad", "title": "Bad"}}]}}}))),
        ];
        for (id, body) in expected {
            let got = wa.next(5).await;
            assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/v21.0/1234567890/messages"), "{db}");
            assert_eq!(got.header("authorization"), Some("Bearer EAAG-test-token"), "{db}");
            assert_eq!(got.header("idempotency-key"), Some(format!("{exe}:{id}").as_str()), "{db}");
            assert_eq!(got.json(), body, "{db}: {id}");
            assert_eq!(journal_step(&e, id)["output"]["message_id"], "wamid.HBgL", "{db}");
        }
        // The journal shows the request without the token.
        let hi = journal_step(&e, "hi");
        assert_eq!(hi["input"]["headers"]["Authorization"], "[redacted]", "{db}");
        assert!(!e.to_string().contains("EAAG-test-token"), "{db}: the token leaked into the journal");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn sms_goes_out_as_a_twilio_form() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let mut twilio = Peer::start(Reply::json(201, json!({"sid": "SM5ef8", "status": "queued"}))).await;
        let ch = channel(&s, &token, json!({"name": "SMS", "kind": "sms_http",
            "settings": {"account_sid": "AC0123", "from": "+15005550006", "base_url": twilio.base},
            "credentials": {"auth_token": "tw-secret"}})).await;
        let (_, url) = connector(&s, &token, json!([
            {"id": "sms", "type": "send_message", "channel": "{{ event.custom_variables.via }}", "to": "{{ event.body.phone }}", "text": "Code {{ event.body.code }}"}
        ])).await;
        let e = run_event(&s, &token, &format!("{url}?via={ch}"), json!({"phone": "+14155552671", "code": "0420"})).await;
        assert_eq!(journal_step(&e, "sms")["output"]["message_id"], "SM5ef8", "{db}: {e}");
        let got = twilio.next(5).await;
        assert_eq!(got.path, "/2010-04-01/Accounts/AC0123/Messages.json", "{db}");
        assert_eq!(got.header("authorization"), Some("Basic QUMwMTIzOnR3LXNlY3JldA=="), "{db}: AC0123:tw-secret");
        assert_eq!(got.header("content-type"), Some("application/x-www-form-urlencoded"), "{db}");
        let form = got.form();
        assert_eq!(form, [("To".into(), "+14155552671".into()), ("From".into(), "+15005550006".into()), ("Body".into(), "Code 0420".into())], "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_order_fetches_its_customer_messages_them_and_saves_the_contact() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let mut crm = Peer::start(Reply::json(200, json!({"id": 77, "first_name": "Ann", "phone": "+14155552671", "email": "ann@shop.example"}))).await;
        let mut wa = Peer::start(Reply::json(200, json!({"messages": [{"id": "wamid.ORDER"}]}))).await;
        let ch = channel(&s, &token, json!({"name": "WA", "kind": "whatsapp_cloud",
            "settings": {"phone_number_id": "555", "base_url": wa.base}, "credentials": {"access_token": "EAAG-x"}})).await;
        let stored = s
            .client
            .post(format!("{}/api/v1/secrets", s.url))
            .bearer_auth(&token)
            .json(&json!({"name": "crm_token", "value": "crm-secret"}))
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), 201, "{db}");
        let (_, url) = connector(&s, &token, json!([
            {"id": "paid", "type": "filter", "conditions": [{"left": "{{ event.body.financial_status }}", "op": "equals", "right": "paid"}]},
            {"id": "crm", "type": "http_request", "method": "GET", "url": format!("{}/customers/{{{{ event.body.customer.id }}}}", crm.base),
             "query": {"expand": "orders", "shop": "{{ event.body.shop }}"},
             "headers": {"Accept": "application/json"}, "auth": {"type": "bearer", "token": "{{ secrets.crm_token }}"}, "timeout": "5s"},
            {"id": "hello", "type": "send_message", "channel": ch, "to": "{{ steps.crm.body.phone }}",
             "text": "Hi {{ steps.crm.body.first_name }}, order {{ event.body.name }} is confirmed."},
            {"id": "save", "type": "upsert_contact", "mobile": "{{ steps.crm.body.phone }}", "email": "{{ steps.crm.body.email }}",
             "name": "{{ steps.crm.body.first_name }}", "attributes": {"last_order": "{{ event.body.name }}"}}
        ])).await;
        let order = json!({"id": 820982911946154508u64, "name": "#1001", "financial_status": "paid", "shop": "a&b", "customer": {"id": 77}});
        let e = run_event(&s, &token, &url, order).await;
        assert_eq!(e["status"], "succeeded", "{db}: {e}");
        let got = crm.next(5).await;
        assert_eq!((got.method.as_str(), got.path.as_str(), got.query.as_str()), ("GET", "/customers/77", "expand=orders&shop=a%26b"), "{db}");
        assert_eq!(got.header("authorization"), Some("Bearer crm-secret"), "{db}");
        let crm_step = journal_step(&e, "crm");
        assert_eq!((crm_step["output"]["status"].as_i64(), crm_step["output"]["body"]["first_name"].as_str()), (Some(200), Some("Ann")), "{db}");
        assert_eq!(crm_step["output"]["headers"]["content-type"], "application/json", "{db}");
        assert_eq!(crm_step["attempt_log"].as_array().unwrap().len(), 1, "{db}");
        let sent = wa.next(5).await;
        assert_eq!(sent.json()["text"]["body"], "Hi Ann, order #1001 is confirmed.", "{db}");
        assert_eq!(sent.json()["to"], "14155552671", "{db}");
        let saved = &journal_step(&e, "save")["output"];
        assert_eq!((saved["mobile"].as_str(), saved["attributes"]["last_order"].as_str()), (Some("+14155552671"), Some("#1001")), "{db}");
        let found = s.get_json("/contacts?mobile=%2B14155552671", &token).await;
        assert_eq!(found["data"][0]["name"], "Ann", "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn retries_resume_without_repeating_finished_steps() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let mut flaky = Peer::start(Reply::json(200, json!({"ok": true}))).await;
        flaky.script(vec![Reply::status(503), Reply::status(503)]);
        let (_, url) = connector(&s, &token, json!([
            {"id": "before", "type": "storage", "operation": "increment", "key": "before"},
            {"id": "call", "type": "http_request", "method": "POST", "url": format!("{}/hook", flaky.base), "body": {"n": "{{ event.body.n }}"},
             "retry": {"attempts": 5, "initial_delay": "200ms", "max_delay": "1s"}}
        ])).await;
        let e = run_event(&s, &token, &url, json!({"n": 1})).await;
        assert_eq!(e["status"], "succeeded", "{db}: {e}");
        let call = journal_step(&e, "call");
        let log = call["attempt_log"].as_array().unwrap();
        let statuses: Vec<i64> = log.iter().map(|a| a["status"].as_i64().unwrap()).collect();
        assert_eq!(statuses, [503, 503, 200], "{db}");
        assert_eq!(call["attempts"], 3, "{db}");
        assert!(log[0]["error"].as_str().unwrap().contains("503"), "{db}");
        assert!(log.iter().all(|a| a["latency_ms"].is_u64()), "{db}");
        assert_eq!((journal_step(&e, "before")["attempts"].as_i64(), journal_step(&e, "before")["output"]["value"].as_i64()), (Some(1), Some(1)), "{db}: a finished step ran again");
        let calls = [flaky.next(5).await, flaky.next(5).await, flaky.next(5).await];
        let keys: Vec<_> = calls.iter().map(|c| c.header("idempotency-key").unwrap().to_owned()).collect();
        assert!(keys.iter().all(|k| k == &keys[0]), "{db}: the idempotency key changed between attempts");
        assert_eq!(calls[0].json(), json!({"n": 1}), "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_client_error_fails_at_once_and_retry_after_is_honoured() {
    on_every_database(|s, db| async move {
        let token = s.workspace("shop").await;
        let mut peer = Peer::start(Reply::json(200, json!({}))).await;
        let (_, url) = connector(
            &s,
            &token,
            json!([
                {"id": "call", "type": "http_request", "method": "POST", "url": format!("{}/x", peer.base),
                 "retry": {"attempts": 3, "initial_delay": "100ms", "max_delay": "200ms"}}
            ]),
        )
        .await;
        peer.script(vec![Reply::json(400, json!({"error": "bad field"}))]);
        let e = run_event(&s, &token, &url, json!({})).await;
        assert_eq!(e["status"], "failed", "{db}");
        let call = journal_step(&e, "call");
        assert_eq!(
            (call["attempts"].as_i64(), call["attempt_log"].as_array().unwrap().len()),
            (Some(1), 1),
            "{db}"
        );
        assert!(call["error"].as_str().unwrap().contains("400"), "{db}: {call}");
        assert!(
            call["attempt_log"][0]["response"]
                .as_str()
                .unwrap()
                .contains("bad field"),
            "{db}"
        );
        peer.drain();

        peer.script(vec![Reply::status(429).header("retry-after", "2")]);
        let e = run_event(&s, &token, &url, json!({})).await;
        assert_eq!(e["status"], "succeeded", "{db}");
        let (first, second) = (peer.next(5).await, peer.next(5).await);
        let waited = second.at.duration_since(first.at);
        assert!(
            waited >= Duration::from_millis(1900),
            "{db}: Retry-After: 2 was not honoured ({waited:?})"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_guard_refuses_private_addresses_unless_allowed() {
    for db in TestDatabase::all().await {
        let label = db.label;
        // This server allows no private network at all.
        let s = TestServer::start_with(Arc::new(db), |c| {
            c.allow_networks = hookflow_delivery::Guard::new(Vec::new())
        })
        .await;
        let token = s.workspace("shop").await;
        let mut peer = Peer::start(Reply::json(200, json!({}))).await;
        let port = peer.base.rsplit(':').next().unwrap().to_owned();
        let targets = [
            format!("http://127.0.0.1:{port}/"),
            "http://10.0.0.1/".to_owned(),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            format!("http://[::1]:{port}/"),
            format!("http://localhost:{port}/"),
        ];
        let steps: Vec<Value> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"id": format!("t{i}"), "type": "http_request", "url": t}))
            .collect();
        let (cid, url) = connector(&s, &token, Value::Array(steps)).await;
        let e = run_event(&s, &token, &url, json!({})).await;
        assert_eq!(e["status"], "failed", "{label}");
        let first = journal_step(&e, "t0");
        assert!(first["error"].as_str().unwrap().contains("refused"), "{label}: {first}");
        assert!(
            first["error"].as_str().unwrap().contains("HOOKFLOW_ALLOW_NETWORKS"),
            "{label}: {first}"
        );
        // Each target alone is refused, with its reason, at the first attempt.
        for (i, target) in targets.iter().enumerate() {
            let doc = json!({"steps": [{"id": "t", "type": "http_request", "url": target}]});
            assert_eq!(s.put_config(&token, &cid, &doc).await.status(), 200);
            let e = run_event(&s, &token, &url, json!({})).await;
            let t = journal_step(&e, "t");
            assert_eq!(
                (e["status"].as_str(), t["attempts"].as_i64()),
                (Some("failed"), Some(1)),
                "{label}: {target}"
            );
            assert!(
                t["error"].as_str().unwrap().starts_with("refused"),
                "{label} {i}: {target}: {}",
                t["error"]
            );
        }
        assert!(peer.drain().is_empty(), "{label}: a refused call reached the peer");
        s.stop().await;
    }
}

/// A real SMTP server (aiosmtpd) receives the email with both bodies.
#[tokio::test]
async fn send_email_reaches_a_real_smtp_server() {
    let Some(mut sink) = hookflow_test_support::smtp::SmtpSink::start().await else {
        return;
    };
    on_every_database(|s, db| {
        let port = sink.port();
        async move {
            let token = s.workspace("shop").await;
            let ch = channel(&s, &token, json!({"name": "Mail", "kind": "smtp",
                "settings": {"host": "127.0.0.1", "port": port, "security": "none", "from": "Shop <shop@shop.example>"}})).await;
            let c = s.create_connector(&token, json!({"name": "Mail", "config": {
                "field_mapping": {"email": "{{ event.body.email }}", "name": "{{ event.body.name }}", "channel": ch},
                "steps": [{"id": "mail", "type": "send_email", "channel": ch, "subject": "Order {{ event.body.order }} shipped",
                           "text": "Hi {{ contact.name }}, it is on its way.", "html": "<p>Hi <b>{{ contact.name }}</b>, it is on its way.</p>",
                           "cc": "ops@shop.example"}]}})).await;
            let e = run_event(&s, &token, c["url"].as_str().unwrap(), json!({"email": "ann@shop.example", "name": "Ann", "order": "1001"})).await;
            assert_eq!(e["status"], "succeeded", "{db}: {e}");
            let mail = journal_step(&e, "mail");
            assert!(mail["output"]["message_id"].as_str().unwrap().contains('@'), "{db}: {mail}");
            s.stop().await;
        }
    })
    .await;
    // One message a database run.
    for _ in TestDatabase::all().await {
        let msg = sink
            .next_message(Duration::from_secs(10))
            .await
            .expect("the email arrived");
        let mut rcpts: Vec<&str> = msg["rcpt_tos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        rcpts.sort_unstable();
        assert_eq!(rcpts, ["ann@shop.example", "ops@shop.example"]);
        let data = msg["data"].as_str().unwrap();
        for needle in [
            "Subject: Order 1001 shipped",
            "From: Shop <shop@shop.example>",
            "To: ann@shop.example",
            "multipart/alternative",
            "Hi Ann, it is on its way.",
            "<p>Hi <b>Ann</b>, it is on its way.</p>",
            "X-Hookflow-Idempotency-Key: exe_",
        ] {
            assert!(data.contains(needle), "missing {needle:?} in:\n{data}");
        }
    }
}
