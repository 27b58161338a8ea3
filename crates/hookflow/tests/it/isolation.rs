use reqwest::Method;
use serde_json::json;

use crate::utils::{on_every_database, problem};

/// Workspace B's token meets A's connector, events and stats as if they did not exist.
#[tokio::test]
async fn another_workspace_sees_nothing_and_changes_nothing() {
    on_every_database(|s, db| async move {
        let a = s.workspace("a").await;
        let b = s.workspace("b").await;
        let c = s.create_connector(&a, json!({"name": "A's orders"})).await;
        let (id, url) = (c["id"].as_str().unwrap(), c["url"].as_str().unwrap());
        let r = s.client.post(url).json(&json!({"order": 1})).send().await.unwrap();
        let event = r.json::<serde_json::Value>().await.unwrap()["event_id"]
            .as_str()
            .unwrap()
            .to_owned();

        let attempts = [
            (Method::GET, format!("/connectors/{id}"), None),
            (
                Method::PATCH,
                format!("/connectors/{id}"),
                Some(json!({"name": "mine now"})),
            ),
            (Method::DELETE, format!("/connectors/{id}"), None),
            (Method::GET, format!("/connectors/{id}/config"), None),
            (
                Method::PUT,
                format!("/connectors/{id}/config"),
                Some(json!({"steps": []})),
            ),
            (Method::GET, format!("/connectors/{id}/versions"), None),
            (Method::POST, format!("/connectors/{id}/versions/1/restore"), None),
            (Method::POST, format!("/connectors/{id}/rotate-url"), None),
            (Method::GET, format!("/connectors/{id}/attributes"), None),
            (
                Method::POST,
                format!("/connectors/{id}/structure/from-event/{event}"),
                None,
            ),
            (Method::GET, format!("/connectors/{id}/events"), None),
            (Method::GET, format!("/connectors/{id}/stats"), None),
            (Method::POST, format!("/connectors/{id}/stats/reset"), None),
            (Method::GET, format!("/events/{event}"), None),
            (Method::GET, format!("/events/{event}/raw"), None),
        ];
        let mut bodies = Vec::new();
        for (method, path, body) in attempts {
            let mut req = s.api(method.clone(), &path, &b);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let answer = problem(req.send().await.unwrap(), 404).await;
            bodies.push((format!("{method} {path}"), answer));
        }
        // Indistinguishable from a connector that never existed.
        let missing = problem(
            s.api(Method::GET, "/connectors/con_01M80KVTPZYA0HD1NHC88YAW1W", &b)
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        assert_eq!(bodies[0].1, missing, "{db}");
        let listed = s.get_json("/connectors", &b).await;
        assert_eq!(listed["data"], json!([]), "{db}");

        // A's data is untouched.
        let still = s.get_json(&format!("/connectors/{id}"), &a).await;
        assert_eq!(
            (still["name"].as_str(), still["url"].as_str(), still["version"].as_i64()),
            (Some("A's orders"), Some(url), Some(1)),
            "{db}"
        );
        assert_eq!(
            s.get_json(&format!("/connectors/{id}/stats"), &a).await["lifetime"]["received"],
            1,
            "{db}"
        );
        s.stop().await;
    })
    .await;
}
