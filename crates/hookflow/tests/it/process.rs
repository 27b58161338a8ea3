//! The `hookflow` binary as a process: SIGKILL right after acknowledged
//! ingests loses nothing.

use hookflow_engine::store::{Ingest, Queue};
use std::sync::{Arc, Mutex};

use hookflow_core::{EventId, ExecutionId};
use hookflow_test_support::TestDatabase;
use serde_json::{json, Value};
use tokio::process::Child;

use crate::spawn::{cli_workspace, serve_at, Log};

/// Starts `hookflow serve` on a free port; answers the child and its base URL.
async fn serve(db: &TestDatabase) -> (Child, String) {
    serve_with(db, "warn", Log::Inherit, &[]).await
}

/// `serve` with a log filter, a place for its log, and more environment.
async fn serve_with(db: &TestDatabase, log: &str, to: Log, env: &[(&str, &str)]) -> (Child, String) {
    serve_at(&db.url, log, to, env).await
}

/// Stdout carries only data: `serve` writes nothing there, from start to shutdown.
#[tokio::test]
async fn serve_writes_nothing_to_stdout() {
    let db = TestDatabase::sqlite();
    let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
    let (mut child, base) = serve(&db).await;
    let client = reqwest::Client::new();
    let connector = post_json(&client, &base, &token, "/connectors", json!({"name": "quiet"})).await;
    post_event(&client, connector["url"].as_str().unwrap()).await;
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let mut stdout = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout)
        .await
        .unwrap();
    assert!(child.wait().await.unwrap().success());
    assert_eq!(stdout, "");
}

#[tokio::test]
async fn sigkill_after_acknowledged_ingests_loses_nothing() {
    for db in TestDatabase::all().await {
        let created = cli_workspace(&db).await;
        let token = created["token"].as_str().unwrap().to_owned();

        let (mut child, base) = serve(&db).await;
        let client = reqwest::Client::new();
        let c: Value = client
            .post(format!("{base}/api/v1/connectors"))
            .bearer_auth(&token)
            .json(&json!({"name": "Orders", "config": crate::utils::one_step()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = c["url"].as_str().unwrap().to_owned();

        // Eight senders post as fast as they can; the server is killed once 300 are acknowledged.
        let acked: Arc<Mutex<Vec<String>>> = Arc::default();
        let (enough_tx, enough_rx) = tokio::sync::watch::channel(false);
        let mut senders = Vec::new();
        for sender in 0..8 {
            let (client, url, acked, enough_tx) = (client.clone(), url.clone(), acked.clone(), enough_tx.clone());
            senders.push(tokio::spawn(async move {
                for n in 0.. {
                    let body = json!({"sender": sender, "n": n, "order": {"id": format!("{sender}-{n}")}});
                    let Ok(r) = client.post(&url).json(&body).send().await else {
                        return;
                    };
                    if !r.status().is_success() {
                        return;
                    }
                    let Ok(answer) = r.json::<Value>().await else {
                        return;
                    };
                    let mut acked = acked.lock().unwrap();
                    acked.push(answer["event_id"].as_str().unwrap().to_owned());
                    if acked.len() >= 300 {
                        let _ = enough_tx.send(true);
                    }
                }
            }));
        }
        let mut enough = enough_rx;
        tokio::time::timeout(std::time::Duration::from_secs(60), enough.wait_for(|e| *e))
            .await
            .unwrap()
            .unwrap();
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        for s in senders {
            s.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(acked.len() >= 300, "{}", db.label);

        // Every acknowledged event and its execution job are in the database.
        let store = hookflow::open_store(&db.backend).await.unwrap();
        let ws = created["workspace_id"].as_str().unwrap().parse().unwrap();
        let mut executions = Vec::new();
        for id in &acked {
            let event = store.get_event(&ws, &id.parse::<EventId>().unwrap()).await.unwrap();
            let event = event.unwrap_or_else(|| panic!("{}: acknowledged event {id} was lost", db.label));
            let execution: ExecutionId = event.execution_id.expect("an execution");
            assert!(
                store.job_for_target(execution.as_str()).await.unwrap().is_some(),
                "{}: job of {id} lost",
                db.label
            );
            executions.push(id.clone());
        }
        store.close().await;

        // After a restart, every acknowledged event's execution completes.
        let (mut child, base) = serve(&db).await;
        for id in &executions {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let e: Value = client
                    .get(format!("{base}/api/v1/events/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if e["status"] == "succeeded" {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{}: {id} stuck in {}",
                    db.label,
                    e["status"]
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
}

/// A delay survives SIGKILL and restart: it runs once, not before its time,
/// and the step before it is not run again.
#[tokio::test]
async fn a_delay_survives_sigkill_and_restart() {
    for db in TestDatabase::all().await {
        let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
        let (mut child, base) = serve(&db).await;
        let client = reqwest::Client::new();
        let api = |path: &str| format!("{base}/api/v1{path}");
        let c: Value = client
            .post(api("/connectors"))
            .bearer_auth(&token)
            .json(&json!({"name": "Reminder", "config": {"steps": [
                {"id": "before", "type": "storage", "operation": "increment", "key": "before"},
                {"id": "wait", "type": "delay", "for": "4s"},
                {"id": "after", "type": "storage", "operation": "increment", "key": "after"}]}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let r: Value = client
            .post(c["url"].as_str().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let event = r["event_id"].as_str().unwrap().to_owned();
        let until = loop {
            let e: Value = client
                .get(api(&format!("/events/{event}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if e["status"] == "waiting" {
                let wait = e["execution"]["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["id"] == "wait")
                    .unwrap()
                    .clone();
                break wait["output"]["until"].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        child.start_kill().unwrap();
        child.wait().await.unwrap();

        let (mut child, base) = serve(&db).await;
        let api = |path: &str| format!("{base}/api/v1{path}");
        let done = loop {
            let e: Value = client
                .get(api(&format!("/events/{event}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if e["status"] == "succeeded" {
                break e;
            }
            assert!(
                e["status"] == "waiting" || e["status"] == "running",
                "{}: {}",
                db.label,
                e["status"]
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let steps = done["execution"]["steps"].as_array().unwrap();
        let after = steps.iter().find(|s| s["id"] == "after").unwrap();
        assert!(
            after["started_at"].as_str().unwrap() >= until.as_str(),
            "{}: the delay was shortened",
            db.label
        );
        let before = steps.iter().find(|s| s["id"] == "before").unwrap();
        assert_eq!(
            (before["attempts"].as_i64(), before["output"]["value"].as_i64()),
            (Some(1), Some(1)),
            "{}",
            db.label
        );
        // Storage holds one increment each: nothing ran twice.
        let counts: Value = client
            .post(api(&format!("/connectors/{}/simulate", c["id"].as_str().unwrap())))
            .bearer_auth(&token)
            .json(&json!({"payload": {}, "config": {"steps": [
                {"id": "b", "type": "storage", "operation": "get", "key": "before"},
                {"id": "a", "type": "storage", "operation": "get", "key": "after"}]}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let values: Vec<&Value> = counts["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["output"]["value"])
            .collect();
        assert_eq!(values, [&json!(1), &json!(1)], "{}", db.label);
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
}

/// Posts an empty JSON event to a connector URL; answers the JSON of the answer.
async fn post_event(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    client
        .post(url)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls an event through the API of the node at `base` until it has `status`; fails after `secs`.
async fn wait_for_status(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    event: &str,
    status: &str,
    secs: u64,
) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let e: Value = client
            .get(format!("{base}/api/v1/events/{event}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if e["status"] == status {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{event} is not {status} after {secs} s: {e}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn post_json(client: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    client
        .post(format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Channel credentials, action tokens and subscription secrets appear in no
/// API response (after the one creating them) and no log line.
#[tokio::test]
async fn secrets_never_appear_in_responses_or_logs() {
    for db in TestDatabase::all().await {
        let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("hookflow.log");
        let log_file = std::fs::File::create(&log_path).unwrap();
        let (mut child, base) = serve_with(&db, "debug", Log::File(log_file), &[]).await;
        let client = reqwest::Client::new();
        let mut responses = String::new();
        let call = |method: reqwest::Method, path: String, body: Option<Value>| {
            let req = client
                .request(method, format!("{base}/api/v1{path}"))
                .bearer_auth(&token);
            let req = match body {
                Some(b) => req.json(&b),
                None => req,
            };
            async move { req.send().await.unwrap().text().await.unwrap() }
        };
        let secrets = [
            "EAAG-whatsapp-secret-7f3a",
            "smtp-password-91c2",
            "twilio-auth-5d1e",
            "crm-bearer-0b9d",
        ];
        let mut wa =
            crate::peer::Peer::start(crate::peer::Reply::json(200, json!({"messages": [{"id": "wamid.S"}]}))).await;
        let mut crm = crate::peer::Peer::start(crate::peer::Reply::json(200, json!({"ok": true}))).await;
        let created = call(
            reqwest::Method::POST,
            "/channels".into(),
            Some(json!({"name": "WA", "kind": "whatsapp_cloud",
            "settings": {"phone_number_id": "1", "base_url": wa.base}, "credentials": {"access_token": secrets[0]}})),
        )
        .await;
        let ch = serde_json::from_str::<Value>(&created).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        responses.push_str(&created);
        responses.push_str(&call(reqwest::Method::POST, "/channels".into(), Some(json!({"name": "Mail", "kind": "smtp",
            "settings": {"host": "127.0.0.1", "port": 2525, "security": "none", "from": "shop@shop.example", "username": "shop"},
            "credentials": {"password": secrets[1]}}))).await);
        responses.push_str(
            &call(
                reqwest::Method::POST,
                "/channels".into(),
                Some(json!({"name": "SMS", "kind": "sms_http",
            "settings": {"account_sid": "AC1", "from": "+15005550006"}, "credentials": {"auth_token": secrets[2]}})),
            )
            .await,
        );
        // A credential written into a document is refused; the secret store keeps it instead.
        let inline = call(reqwest::Method::POST, "/connectors".into(), Some(json!({"name": "Inline", "config": {"steps": [
            {"id": "crm", "type": "http_request", "url": format!("{}/x", crm.base), "auth": {"type": "bearer", "token": secrets[3]}}]}}))).await;
        assert!(inline.contains("POST /api/v1/secrets"), "{}: {inline}", db.label);
        responses.push_str(
            &call(
                reqwest::Method::POST,
                "/secrets".into(),
                Some(json!({"name": "crm", "value": secrets[3]})),
            )
            .await,
        );
        let c = call(
            reqwest::Method::POST,
            "/connectors".into(),
            Some(json!({"name": "Leak check", "config": {"steps": [
            {"id": "crm", "type": "http_request", "url": format!("{}/x?echo={{{{ secrets.crm }}}}", crm.base),
             "auth": {"type": "bearer", "token": "{{ secrets.crm }}"}, "body": {"token": "{{ secrets.crm }}"}},
            {"id": "hi", "type": "send_message", "channel": ch, "to": "+14155552671", "text": "hi"}]}})),
        )
        .await;
        let c: Value = serde_json::from_str(&c).unwrap();
        let custom = post_json(
            &client,
            &base,
            &token,
            "/subscriptions",
            json!({"url": format!("{}/custom", crm.base),
            "event_types": ["contact.created"], "headers": {"X-Crm-Key": secrets[2]}}),
        )
        .await;
        assert_eq!(custom["headers"], json!({"X-Crm-Key": "********"}), "{}", db.label);
        // A subscription's secret is shown once, in the answer that creates it, and never again.
        let mut hooks = crate::peer::Peer::start(crate::peer::Reply::status(200)).await;
        let sub: Value = post_json(
            &client,
            &base,
            &token,
            "/subscriptions",
            json!({"url": hooks.base, "event_types": ["execution.*"]}),
        )
        .await;
        let sub_secret = sub["secret"].as_str().unwrap().to_owned();
        assert!(sub_secret.starts_with("whsec_"));
        let r: Value = client
            .post(c["url"].as_str().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let event = r["event_id"].as_str().unwrap().to_owned();
        let sent = crm.next(10).await;
        hooks.next(10).await;
        assert_eq!(
            sent.header("authorization"),
            Some(format!("Bearer {}", secrets[3]).as_str()),
            "the token is sent"
        );
        assert_eq!(
            wa.next(10).await.header("authorization"),
            Some(format!("Bearer {}", secrets[0]).as_str())
        );
        loop {
            let e = call(reqwest::Method::GET, format!("/events/{event}"), None).await;
            if e.contains("\"status\":\"succeeded\"") {
                responses.push_str(&e);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            sent.json()["token"],
            json!(secrets[3]),
            "{}: the secret is rendered",
            db.label
        );
        for path in [
            "/secrets".to_owned(),
            format!("/connectors/{}/config", c["id"].as_str().unwrap()),
            "/subscriptions".to_owned(),
            format!("/subscriptions/{}", custom["id"].as_str().unwrap()),
            "/channels".to_owned(),
            format!("/channels/{ch}"),
            format!("/executions/{}", r["event_id"]),
            "/openapi.json".into(),
        ] {
            responses.push_str(&call(reqwest::Method::GET, path, None).await);
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert!(
            log.lines().count() > 10,
            "{}: the debug log is too thin to prove anything:\n{log}",
            db.label
        );
        for secret in secrets.iter().copied().chain([sub_secret.as_str()]) {
            assert!(
                !responses.contains(secret),
                "{}: {secret} appeared in an API response",
                db.label
            );
            assert!(!log.contains(secret), "{}: {secret} appeared in the log", db.label);
        }
        assert!(
            responses.contains("[secret]"),
            "{}: the journal masks the rendered secret",
            db.label
        );
        // At rest: the SQLite file (and its write-ahead log) holds no secret in plain text.
        if let hookflow_store::Backend::Sqlite(path) = &db.backend {
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            let text = String::from_utf8_lossy(&bytes);
            let url_token = c["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
            for secret in secrets.iter().copied().chain([sub_secret.as_str(), url_token.as_str()]) {
                assert!(!text.contains(secret), "{secret} is in the database file in plain text");
            }
        }
    }
}

/// SIGKILL while deliveries wait for their next attempt: after a restart
/// every one of them arrives (at least once), none is lost.
#[tokio::test]
async fn pending_deliveries_survive_sigkill() {
    for db in TestDatabase::all().await {
        let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
        let env = [(
            "HOOKFLOW_DELIVERY_SCHEDULE",
            "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
        )];
        let (mut child, base) = serve_with(&db, "warn", Log::Inherit, &env).await;
        let client = reqwest::Client::new();
        let mut rx = crate::peer::Peer::start(crate::peer::Reply::status(503)).await;
        let post = |path: &str, body: Value| {
            client
                .post(format!("{base}/api/v1{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
        };
        post(
            "/subscriptions",
            json!({"url": rx.base, "event_types": ["event.received"]}),
        )
        .await
        .unwrap();
        let c: Value = post("/connectors", json!({"name": "In"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for i in 0..20 {
            client
                .post(c["url"].as_str().unwrap())
                .json(&json!({"i": i}))
                .send()
                .await
                .unwrap();
        }
        // Some attempts have failed and wait for their next try.
        for _ in 0..5 {
            rx.next(10).await;
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        rx.set_default(crate::peer::Reply::status(200));
        let switched = tokio::time::Instant::now();
        let (mut child, _) = serve_with(&db, "warn", Log::Inherit, &env).await;
        let mut delivered = std::collections::HashSet::new();
        while delivered.len() < 20 {
            let got = rx.next(40).await;
            if got.at >= switched {
                delivered.insert(got.header("webhook-id").unwrap().to_owned());
            }
        }
        assert_eq!(delivered.len(), 20, "{}", db.label);
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
}

/// JSON logs name the request id on a request's lines and the execution on a job's lines.
#[tokio::test]
async fn json_logs_carry_request_and_execution_ids() {
    let db = TestDatabase::sqlite();
    let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("hookflow.log");
    let log = Log::File(std::fs::File::create(&log_path).unwrap());
    let (mut child, base) = serve_with(&db, "debug", log, &[("HOOKFLOW_LOG_JSON", "true")]).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/api/v1/workspace"))
        .bearer_auth(&token)
        .header("x-request-id", "req-from-client-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-from-client-42");
    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(
        r.headers()["x-request-id"].to_str().unwrap().starts_with("req_"),
        "an id is made when none is sent"
    );
    let c = post_json(
        &client,
        &base,
        &token,
        "/connectors",
        json!({"name": "Logged", "config": crate::utils::one_step()}),
    )
    .await;
    let event: Value = client
        .post(c["url"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = event["event_id"].as_str().unwrap();
    let execution = loop {
        let e: Value = client
            .get(format!("{base}/api/v1/events/{event_id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if e["status"] == "succeeded" {
            break e["execution_id"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(
        lines.len() > 5 && lines.len() == text.lines().count(),
        "every log line is JSON"
    );
    let with = |needle: &str| lines.iter().filter(|l| l.to_string().contains(needle)).count();
    assert!(with("req-from-client-42") > 0, "no log line names the request id");
    assert!(
        with(&format!("\"target\":\"{execution}\"")) > 0,
        "no log line names the execution {execution}"
    );
}

/// Crash-loop protection: a node is killed while it runs an execution's step, three times in a
/// row (as a poison event that crashed the process would do); the next node fails the execution
/// with the reason instead of running the step a fourth time, and goes on with other work.
#[tokio::test]
async fn an_execution_whose_node_keeps_dying_is_failed_not_run_forever() {
    use crate::peer::{Peer, Reply};
    for db in TestDatabase::all().await {
        let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
        // The peer holds every call far longer than the test: the node is mid-step when killed.
        let hang = Reply {
            delay: std::time::Duration::from_secs(600),
            ..Reply::status(200)
        };
        let mut peer = Peer::start(hang).await;
        let env = [("HOOKFLOW_LEASE", "1s")];
        let (mut child, base) = serve_with(&db, "warn", Log::Inherit, &env).await;
        let client = reqwest::Client::new();
        let doc = json!({"steps": [{"id": "call", "type": "http_request", "method": "POST",
            "url": format!("{}/hang", peer.base), "timeout": "2m"}]});
        let c = post_json(
            &client,
            &base,
            &token,
            "/connectors",
            json!({"name": "Poison", "config": doc}),
        )
        .await;
        let url = c["url"].as_str().unwrap().to_owned();
        let r = post_event(&client, &url).await;
        let event = r["event_id"].as_str().unwrap().to_owned();

        let mut base = base;
        for kill in 1..=3 {
            let call = peer.next(30).await;
            assert_eq!(call.path, "/hang", "{}: call {kill}", db.label);
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            (child, base) = serve_with(&db, "warn", Log::Inherit, &env).await;
        }
        let failed = wait_for_status(&client, &base, &token, &event, "failed", 60).await;
        let error = failed["execution"]["error"].as_str().unwrap_or_default();
        assert!(error.contains("stopped 3 times"), "{}: {failed}", db.label);
        // The step was not called a fourth time, and the node works on.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(peer.drain().is_empty(), "{}: the step ran again", db.label);
        // Each node has a port of its own, so its connector URLs have it too.
        let hook = &url[url.find("/hooks/").unwrap()..];
        let ok = post_event(&client, format!("{base}{hook}")).await;
        assert_eq!(ok["status"], "accepted", "{}", db.label);
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
}

/// Hostile templates through the binary: a nesting that used to overflow the stack and abort the
/// process, and strings that used to grow until allocation failed. Simulate answers with the
/// step's error at once, a saved connector fails the execution, and the process answers on.
#[tokio::test]
async fn hostile_templates_fail_their_step_and_the_process_answers_on() {
    let deep = "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | length }}";
    let big = "{% set a = 'x' * 1000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c | length }}";
    let db = TestDatabase::sqlite();
    let token = cli_workspace(&db).await["token"].as_str().unwrap().to_owned();
    let (mut child, base) = serve(&db).await;
    let client = reqwest::Client::new();
    let steps = json!({"steps": [
        {"id": "deep", "type": "storage", "operation": "set", "key": "deep", "value": deep},
        {"id": "big", "type": "storage", "operation": "set", "key": "big", "value": big}]});
    let c = post_json(
        &client,
        &base,
        &token,
        "/connectors",
        json!({"name": "Hostile", "config": steps}),
    )
    .await;
    let id = c["id"].as_str().unwrap();
    for only in ["deep", "big"] {
        let doc =
            json!({"steps": steps["steps"].as_array().unwrap().iter().filter(|s| s["id"] == only).collect::<Vec<_>>()});
        let sim = post_json(
            &client,
            &base,
            &token,
            &format!("/connectors/{id}/simulate"),
            json!({"payload": {}, "config": doc}),
        )
        .await;
        let text = sim.to_string();
        assert!(
            text.contains("nested deeper than 32 levels") || text.contains("string over the 1 MiB limit"),
            "{only}: {sim}"
        );
    }
    let r = post_event(&client, c["url"].as_str().unwrap()).await;
    let event = r["event_id"].as_str().unwrap().to_owned();
    let failed = wait_for_status(&client, &base, &token, &event, "failed", 30).await;
    assert!(failed.to_string().contains("nested deeper than 32 levels"), "{failed}");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(health.status().is_success());
    assert!(child.try_wait().unwrap().is_none(), "the process is still running");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
