use reqwest::Method;
use serde_json::{json, Value};

use crate::utils::{on_every_database, problem};

#[tokio::test]
async fn connectors_crud() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s
            .create_connector(&token, json!({"name": " Orders ", "description": "Shop orders"}))
            .await;
        let id = c["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("con_"), "{db}");
        assert_eq!(
            (c["name"].as_str(), c["event_source"].as_str(), c["enabled"].as_bool()),
            (Some("Orders"), Some("webhook"), Some(true))
        );
        let url = c["url"].as_str().unwrap();
        let secret = url.rsplit('/').next().unwrap();
        assert!(url.starts_with(&format!("{}/hooks/", s.url)), "{db}: {url}");
        assert!(secret.len() >= 22, "{db}: the URL token must carry at least 128 bits");

        let got = s.get_json(&format!("/connectors/{id}"), &token).await;
        assert_eq!(got, c, "{db}");
        let patched = s
            .api(Method::PATCH, &format!("/connectors/{id}"), &token)
            .json(&json!({"name": "Paid orders", "enabled": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 200, "{db}");
        let patched: Value = patched.json().await.unwrap();
        assert_eq!(
            (
                patched["name"].as_str(),
                patched["enabled"].as_bool(),
                patched["description"].as_str()
            ),
            (Some("Paid orders"), Some(false), Some("Shop orders"))
        );
        // A turned-off connector refuses events without losing any: the sender retries.
        let r = s.client.post(url).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), 503, "{db}");
        assert!(r.headers().contains_key("retry-after"), "{db}");

        let r = s
            .api(Method::DELETE, &format!("/connectors/{id}"), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{db}");
        problem(
            s.api(Method::GET, &format!("/connectors/{id}"), &token)
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        problem(s.client.post(url).json(&json!({})).send().await.unwrap(), 404).await;
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_requests_are_explained() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let r = s
            .api(Method::POST, "/connectors", &token)
            .json(&json!({"name": "", "event_source": "fax"}))
            .send()
            .await
            .unwrap();
        let body = problem(r, 400).await;
        let paths: Vec<_> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(paths, ["name", "event_source"], "{db}: {body}");
        assert!(
            body["errors"][1]["message"]
                .as_str()
                .unwrap()
                .contains("use webhook or email"),
            "{body}"
        );
        for source in ["schedule", "internal"] {
            let r = s
                .api(Method::POST, "/connectors", &token)
                .json(&json!({"name": "Ticks", "event_source": source}))
                .send()
                .await
                .unwrap();
            let body = problem(r, 400).await;
            assert_eq!(body["errors"][0]["path"], "event_source", "{db}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("not implemented yet; use webhook or email"), "{body}");
        }

        let r = s
            .api(Method::POST, "/connectors", &token)
            .json(&json!({"name": "x", "colour": "red"}))
            .send()
            .await
            .unwrap();
        let body = problem(r, 400).await;
        assert!(body["detail"].as_str().unwrap().contains("colour"), "{db}: {body}");
        let r = s
            .api(Method::POST, "/connectors", &token)
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
        problem(r, 400).await;
        problem(
            s.api(Method::GET, "/connectors?limit=0", &token).send().await.unwrap(),
            400,
        )
        .await;
        problem(
            s.api(Method::GET, "/connectors?limit=501", &token)
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
        problem(
            s.api(Method::GET, "/connectors?cursor=evt_nope", &token)
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
        problem(
            s.api(Method::GET, "/connectors/not-an-id", &token)
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        problem(s.api(Method::GET, "/no/such/route", &token).send().await.unwrap(), 404).await;

        // A known route with a method it does not take, on the API and beside it.
        let r = s.api(Method::DELETE, "/connectors", &token).send().await.unwrap();
        let allow = r.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let body = problem(r, 405).await;
        assert_eq!(body["type"], "/docs/problems#method-not-allowed", "{db}: {body}");
        assert!(allow.is_some_and(|a| a.contains("GET") && a.contains("POST")), "{db}");
        problem(s.client.post(format!("{}/healthz", s.url)).send().await.unwrap(), 405).await;
        // A connector URL that is not UTF-8 once decoded is rejected by the framework, as a problem too.
        problem(s.client.post(format!("{}/hooks/%FF", s.url)).send().await.unwrap(), 400).await;

        // An API body over 2 MiB is too large, not malformed.
        let big = json!({"name": "x".repeat(3 * 1024 * 1024)});
        let body = problem(
            s.api(Method::POST, "/connectors", &token)
                .json(&big)
                .send()
                .await
                .unwrap(),
            413,
        )
        .await;
        assert_eq!(body["type"], "/docs/problems#payload-too-large", "{db}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("2097152 bytes"),
            "{db}: {body}"
        );

        // Auth: missing, malformed and unknown tokens.
        let r = s
            .client
            .get(format!("{}/api/v1/connectors", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers().get("www-authenticate").unwrap(), "Bearer");
        problem(r, 401).await;
        problem(
            s.api(Method::GET, "/connectors", "hft_wrong").send().await.unwrap(),
            401,
        )
        .await;
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn lists_page_newest_first() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(
                s.create_connector(&token, json!({"name": format!("c{i}")})).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        ids.reverse();
        let mut seen = Vec::new();
        let mut path = "/connectors?limit=2".to_owned();
        loop {
            let page = s.get_json(&path, &token).await;
            seen.extend(
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/connectors?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, ids, "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn documents_are_versioned_and_restorable() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let id = s.create_connector(&token, json!({"name": "Orders"})).await["id"].as_str().unwrap().to_owned();
        let first = s.get_json(&format!("/connectors/{id}/config"), &token).await;
        assert_eq!(first, json!({"response": null, "structure": null, "field_mapping": null, "steps": []}), "{db}");
        for i in 0..25 {
            let doc = json!({"response": {"status": 200, "content_type": "text/plain", "body": format!("v{i}")}, "steps": []});
            let r = s.put_config(&token, &id, &doc).await;
            assert_eq!(r.status(), 200, "{db}");
            assert_eq!(r.headers().get("etag").unwrap().to_str().unwrap(), format!("\"{}\"", i + 2));
        }
        let versions = s.get_json(&format!("/connectors/{id}/versions"), &token).await;
        let numbers: Vec<i64> = versions["data"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
        assert_eq!(numbers, (7..=26).rev().collect::<Vec<_>>(), "{db}: 25 saves keep the newest 20");
        problem(s.api(Method::POST, &format!("/connectors/{id}/versions/6/restore"), &token).send().await.unwrap(), 404).await;

        let r = s.api(Method::POST, &format!("/connectors/{id}/versions/8/restore"), &token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{db}");
        assert_eq!(r.headers().get("etag").unwrap(), "\"27\"");
        let restored: Value = r.json().await.unwrap();
        assert_eq!(restored["response"]["body"], "v6", "{db}");
        let versions = s.get_json(&format!("/connectors/{id}/versions"), &token).await;
        assert_eq!(versions["data"][0]["note"], "restored from 8", "{db}");
        assert_eq!(versions["data"].as_array().unwrap().len(), 20, "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_documents_name_the_place() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let id = s.create_connector(&token, json!({"name": "Orders"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let doc = json!({
            "response": {"status": 200, "body": "{{ event.id "},
            "steps": [
                {"id": "ok", "type": "filter"},
                {"id": "crm", "type": "http_request", "url": "https://crm.example/{{ event.body.id }"},
                {"id": "ok", "type": "teleport"}
            ]
        });
        let body = problem(s.put_config(&token, &id, &doc).await, 400).await;
        let errors: Vec<(String, String)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().unwrap().to_owned(),
                    e["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let paths: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            ["steps[2].id", "steps[2].type"],
            "{db}: shape errors come first: {body}"
        );
        let doc = json!({"response": {"status": 200, "body": "{{ event.id "}, "steps": [
            {"id": "later", "type": "delay", "until": "{{ event.body.at }"}]});
        let body = problem(s.put_config(&token, &id, &doc).await, 400).await;
        let paths: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["response.body", "steps[0].until"], "{db}: {body}");
        assert!(
            body["errors"][1]["message"]
                .as_str()
                .unwrap()
                .contains("line 1, column"),
            "{body}"
        );
        problem(s.put_config(&token, &id, &json!([1, 2])).await, 400).await;
        problem(
            s.put_config(&token, &id, &json!({"response": {"status": 99}})).await,
            400,
        )
        .await;
        // Nothing was saved.
        assert_eq!(
            s.get_json(&format!("/connectors/{id}"), &token).await["version"],
            1,
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn rotating_the_url_retires_the_old_one_at_once() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Orders"})).await;
        let old = c["url"].as_str().unwrap().to_owned();
        assert_eq!(
            s.client
                .post(&old)
                .json(&json!({"a": 1}))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{db}"
        );
        let r = s
            .api(
                Method::POST,
                &format!("/connectors/{}/rotate-url", c["id"].as_str().unwrap()),
                &token,
            )
            .send()
            .await
            .unwrap();
        let rotated: Value = r.json().await.unwrap();
        let new = rotated["url"].as_str().unwrap();
        assert_ne!(new, old, "{db}");
        let gone = problem(s.client.post(&old).json(&json!({"a": 1})).send().await.unwrap(), 404).await;
        assert_eq!(
            gone["detail"], "no connector answers at this URL",
            "{db}: the 404 reveals nothing"
        );
        assert_eq!(
            s.client.post(new).json(&json!({"a": 1})).send().await.unwrap().status(),
            200,
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

/// The paths and messages of a validation problem.
async fn field_errors(r: reqwest::Response) -> Vec<(String, String)> {
    let body = problem(r, 400).await;
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn overflowing_durations_are_refused_with_their_path() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let id = s.create_connector(&token, json!({"name": "Orders"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let huge = "99999999999999999999w".repeat(2);
        let doc = json!({"steps": [
            {"id": "wait", "type": "delay", "for": huge},
            {"id": "crm", "type": "http_request", "url": "https://crm.example/", "timeout": huge}]});
        let errors = field_errors(s.put_config(&token, &id, &doc).await).await;
        let paths: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(paths, ["steps[0].for", "steps[1].timeout"], "{db}: {errors:?}");
        assert!(errors[0].1.contains("is too long"), "{db}: {errors:?}");
        let doc = json!({"rate_limit": {"requests": 1, "per": huge}});
        let errors = field_errors(s.put_config(&token, &id, &doc).await).await;
        assert_eq!(errors[0].0, "rate_limit.per", "{db}: {errors:?}");
        // The server is still there, and nothing was saved.
        assert_eq!(
            s.get_json(&format!("/connectors/{id}"), &token).await["version"],
            1,
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_document_keys_are_refused() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let id = s.create_connector(&token, json!({"name": "Orders"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let doc = json!({"steps": [], "rate_limt": {"requests": 1, "per": "1s"}});
        let errors = field_errors(s.put_config(&token, &id, &doc).await).await;
        assert_eq!(errors.len(), 1, "{db}: {errors:?}");
        assert_eq!(errors[0].0, "rate_limt", "{db}");
        assert!(errors[0].1.contains("unknown field `rate_limt`"), "{db}: {errors:?}");
        let r = s
            .api(Method::POST, "/connectors", &token)
            .json(&json!({"name": "x", "config": {"stepz": []}}))
            .send()
            .await
            .unwrap();
        assert_eq!(field_errors(r).await[0].0, "config.stepz", "{db}");
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn structure_attributes_and_remap() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Orders"})).await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        // The first event captures the structure; the second does not replace it.
        s.client
            .post(format!("{url}?agent=ann%40shop.example&day=day1"))
            .json(&json!({"order": {"id": 7, "items": [{"sku": "A"}]}, "smtp-id": "x"}))
            .send()
            .await
            .unwrap();
        s.client
            .post(url)
            .json(&json!({"refund": {"id": 9}}))
            .send()
            .await
            .unwrap();
        let config = s.get_json(&format!("/connectors/{id}/config"), &token).await;
        assert_eq!(
            config["structure"],
            json!({"order": {"id": 7, "items": [{"sku": "A"}]}, "smtp-id": "x"}),
            "{db}"
        );
        let attrs = s.get_json(&format!("/connectors/{id}/attributes"), &token).await;
        let find = |path: &str| {
            attrs["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["path"] == path)
                .cloned()
        };
        assert_eq!(find("body.order.id").unwrap()["type"], "integer", "{db}");
        assert_eq!(
            find("body.order.items[0].sku").unwrap()["template"],
            "{{ event.body.order.items[0].sku }}"
        );
        assert_eq!(find("body[\"smtp-id\"]").unwrap()["sample"], "x");
        assert_eq!(
            find("custom_variables.agent").unwrap()["sample"],
            "ann@shop.example",
            "{db}: query values are decoded"
        );
        assert!(find("body.refund").is_none(), "{db}");

        // Re-map from the second event.
        let events = s.get_json(&format!("/connectors/{id}/events"), &token).await;
        let second = events["data"][0]["id"].as_str().unwrap();
        let r = s
            .api(
                Method::POST,
                &format!("/connectors/{id}/structure/from-event/{second}"),
                &token,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{db}");
        let attrs = s.get_json(&format!("/connectors/{id}/attributes"), &token).await;
        assert!(
            attrs["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["path"] == "body.refund.id"),
            "{db}"
        );
        problem(
            s.api(
                Method::POST,
                &format!("/connectors/{id}/structure/from-event/evt_01M80KVTW7XZ1B3A77GSY8B0HB"),
                &token,
            )
            .send()
            .await
            .unwrap(),
            404,
        )
        .await;
        // A structure edited by hand through the document.
        let mut doc = s.get_json(&format!("/connectors/{id}/config"), &token).await;
        doc["structure"] = json!({"lead": {"email": "a@b.c"}});
        assert_eq!(s.put_config(&token, id, &doc).await.status(), 200);
        let attrs = s.get_json(&format!("/connectors/{id}/attributes"), &token).await;
        assert!(
            attrs["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["path"] == "body.lead.email"),
            "{db}"
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn stats_count_and_reset() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let c = s.create_connector(&token, json!({"name": "Orders"})).await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        for i in 0..3 {
            s.client.post(url).json(&json!({"i": i})).send().await.unwrap();
        }
        s.client
            .post(url)
            .header("content-type", "application/json")
            .body("{nope")
            .send()
            .await
            .unwrap();
        let stats = crate::utils::eventually(10, || async {
            let stats = s.get_json(&format!("/connectors/{id}/stats"), &token).await;
            (stats["lifetime"]["succeeded"] == 3).then_some(stats)
        })
        .await;
        assert_eq!(
            stats["lifetime"],
            json!({"received": 4, "succeeded": 3, "failed": 0, "filtered": 0, "rejected": 1}),
            "{db}"
        );
        assert_eq!(stats["reset_at"], Value::Null);
        let r = s
            .api(Method::POST, &format!("/connectors/{id}/stats/reset"), &token)
            .send()
            .await
            .unwrap();
        let reset: Value = r.json().await.unwrap();
        assert_eq!(reset["since_reset"]["received"], 0, "{db}");
        assert_eq!(reset["lifetime"]["received"], 4, "{db}");
        assert!(reset["reset_at"].is_string(), "{db}");
        s.client.post(url).json(&json!({})).send().await.unwrap();
        let after = s.get_json(&format!("/connectors/{id}/stats"), &token).await;
        assert_eq!(
            (
                after["lifetime"]["received"].as_i64(),
                after["since_reset"]["received"].as_i64()
            ),
            (Some(5), Some(1))
        );
        s.stop().await;
    })
    .await;
}
