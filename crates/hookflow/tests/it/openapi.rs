use reqwest::Method;
use serde_json::Value;

use crate::utils::on_every_database;

/// Every documented operation is served, and every served route is documented.
#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    on_every_database(|s, db| async move {
        let token = s.workspace("acme").await;
        let doc: Value = s
            .client
            .get(format!("{}/api/v1/openapi.json", s.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{db}");
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = Vec::new();
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                operations.push(format!("{} {path}", method.to_uppercase()));
                // Fill path parameters with well-formed ids of nothing: a served route answers 404 as
                // a problem (or 200 for a list), never the router's bare 404/405.
                let concrete = path
                    .replace("/events/{id}", "/events/evt_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("/executions/{id}", "/executions/exe_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("/channels/{id}", "/channels/ch_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("/contacts/{id}", "/contacts/ctc_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("/members/{id}", "/members/mem_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("/subscriptions/{id}", "/subscriptions/sub_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("/deliveries/{id}", "/deliveries/del_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("{name}", "nothing")
                    .replace("{tag}", "nothing")
                    .replace("{id}", "con_01M80KVTPZYA0HD1NHC88YAW1W")
                    .replace("{event_id}", "evt_01M80KVTW7XZ1B3A77GSY8B0HB")
                    .replace("{version}", "1");
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let r = s
                    .api(method.clone(), &concrete, &token)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                assert_ne!(r.status(), 405, "{db}: {method} {path} is documented but not routed");
                if r.status() == 404 {
                    let body: Value = r.json().await.unwrap();
                    assert_ne!(
                        body["detail"], "no such route",
                        "{db}: {method} {path} is documented but not routed"
                    );
                }
            }
        }
        operations.sort();
        let expected = [
            "DELETE /channels/{id}",
            "DELETE /connectors/{id}",
            "DELETE /contact-attributes/{name}",
            "DELETE /contacts/{id}",
            "DELETE /contacts/{id}/tags/{tag}",
            "DELETE /members/{id}",
            "DELETE /secrets/{name}",
            "DELETE /subscriptions/{id}",
            "GET /channels",
            "GET /channels/{id}",
            "GET /connectors",
            "GET /connectors/{id}",
            "GET /connectors/{id}/attributes",
            "GET /connectors/{id}/config",
            "GET /connectors/{id}/events",
            "GET /connectors/{id}/stats",
            "GET /connectors/{id}/versions",
            "GET /contact-attributes",
            "GET /contacts",
            "GET /contacts/{id}",
            "GET /deliveries/{id}",
            "GET /event-types",
            "GET /events/{id}",
            "GET /events/{id}/raw",
            "GET /executions/{id}",
            "GET /members",
            "GET /members/{id}",
            "GET /secrets",
            "GET /subscriptions",
            "GET /subscriptions/{id}",
            "GET /subscriptions/{id}/deliveries",
            "GET /workspace",
            "PATCH /channels/{id}",
            "PATCH /connectors/{id}",
            "PATCH /contacts/{id}",
            "PATCH /subscriptions/{id}",
            "PATCH /workspace",
            "POST /channels",
            "POST /connectors",
            "POST /connectors/{id}/rotate-url",
            "POST /connectors/{id}/simulate",
            "POST /connectors/{id}/stats/reset",
            "POST /connectors/{id}/structure/from-event/{event_id}",
            "POST /connectors/{id}/versions/{version}/restore",
            "POST /contact-attributes",
            "POST /contacts",
            "POST /contacts/{id}/tags",
            "POST /deliveries/{id}/retry",
            "POST /events/{id}/replay",
            "POST /members",
            "POST /secrets",
            "POST /subscriptions",
            "POST /subscriptions/{id}/recover",
            "POST /subscriptions/{id}/rotate-secret",
            "POST /subscriptions/{id}/test",
            "PUT /connectors/{id}/config",
            "PUT /secrets/{name}",
        ];
        assert_eq!(operations, expected, "{db}");
        s.stop().await;
    })
    .await;
}
