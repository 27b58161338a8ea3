//! Every real payload in `shared/corpus` is accepted, kept byte for byte,
//! and its probe fields are addressable both in the attribute list and
//! through a template.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::utils::on_every_database;

fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    dir.join("index.json").exists().then_some(dir)
}

const KEYWORDS: &[&str] = &[
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else", "loop",
];

fn identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&key)
}

/// `hook.events[0]` -> `body.hook.events[0]`; `smtp-id` -> `body["smtp-id"]`; `(whole body)` -> `body`.
fn translate(probe: &str) -> String {
    let mut out = String::from("body");
    if probe == "(whole body)" {
        return out;
    }
    for segment in probe.split('.') {
        let (key, indexes) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        if identifier(key) {
            out.push('.');
            out.push_str(key);
        } else if !key.is_empty() {
            out.push_str(&format!("[{}]", serde_json::to_string(key).unwrap()));
        }
        out.push_str(indexes);
    }
    out
}

fn text(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    s.strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .map(str::to_owned)
        .unwrap_or(s)
}

#[tokio::test]
async fn every_corpus_payload_is_accepted_kept_and_addressable() {
    let Some(dir) = corpus_dir() else {
        eprintln!("shared/corpus is not beside the repository: the corpus test is skipped");
        return;
    };
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let entries = index["entries"].as_array().unwrap().clone();
    assert!(entries.len() >= 60, "the corpus index lists {} payloads", entries.len());
    on_every_database(|s, db| {
        let (entries, dir) = (entries.clone(), dir.clone());
        async move {
            let token = s.workspace("corpus").await;
            for entry in &entries {
                let path = entry["path"].as_str().unwrap();
                let bytes = std::fs::read(dir.join(path)).unwrap();
                assert_eq!(
                    hex::encode(Sha256::digest(&bytes)),
                    entry["sha256"].as_str().unwrap(),
                    "{path}: wrong bytes on disk"
                );
                let c = s.create_connector(&token, json!({"name": path})).await;
                let (id, url) = (
                    c["id"].as_str().unwrap().to_owned(),
                    c["url"].as_str().unwrap().to_owned(),
                );
                let send = || {
                    let mut req = s
                        .client
                        .post(&url)
                        .header("content-type", entry["content_type"].as_str().unwrap())
                        .body(bytes.clone());
                    for (k, v) in entry["suggested_headers"].as_object().into_iter().flatten() {
                        req = req.header(k, v.as_str().unwrap());
                    }
                    req.send()
                };
                let r = send().await.unwrap();
                assert!(
                    r.status().is_success(),
                    "{db} {path}: {} {}",
                    r.status(),
                    r.text().await.unwrap()
                );
                let event_id = r.json::<Value>().await.unwrap()["event_id"]
                    .as_str()
                    .unwrap()
                    .to_owned();

                // Kept byte for byte.
                let raw = s
                    .api(Method::GET, &format!("/events/{event_id}/raw"), &token)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert_eq!(raw.as_ref(), bytes.as_slice(), "{db} {path}: raw body differs");
                let event = s.get_json(&format!("/events/{event_id}"), &token).await;
                assert_eq!(
                    event["status"].as_str().map(|s| s != "rejected"),
                    Some(true),
                    "{db} {path}"
                );

                // Addressable in the attribute list (the structure came from this first event).
                let attrs = s.get_json(&format!("/connectors/{id}/attributes"), &token).await;
                let probes = entry["probe_fields"].as_array().unwrap();
                for probe in probes {
                    let want = translate(probe["path"].as_str().unwrap());
                    let found = attrs["data"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|a| a["path"] == want.as_str());
                    let found = found.unwrap_or_else(|| panic!("{db} {path}: no attribute {want}"));
                    assert_eq!(
                        text(&found["sample"]),
                        text(&probe["value"]),
                        "{db} {path}: sample of {want}"
                    );
                }

                // Addressable through a template: the response map renders every probe.
                let exprs: Vec<String> = probes
                    .iter()
                    .map(|p| format!("event.{}", translate(p["path"].as_str().unwrap())))
                    .collect();
                let doc = json!({"response": {"status": 200, "content_type": "application/json",
                                 "body": format!("{{{{ [{}] | tojson }}}}", exprs.join(", "))}, "steps": []});
                assert_eq!(s.put_config(&token, &id, &doc).await.status(), 200, "{db} {path}");
                let rendered: Value = send().await.unwrap().json().await.unwrap();
                for (probe, got) in probes.iter().zip(rendered.as_array().unwrap()) {
                    assert_eq!(
                        text(got),
                        text(&probe["value"]),
                        "{db} {path}: template {}",
                        probe["path"]
                    );
                }
            }
            s.stop().await;
        }
    })
    .await;
}

#[test]
fn probe_paths_translate() {
    assert_eq!(translate("hook.events[0]"), "body.hook.events[0]");
    assert_eq!(translate("[0].smtp-id"), "body[0][\"smtp-id\"]");
    assert_eq!(translate("(whole body)"), "body");
    assert_eq!(translate("activity.event_type"), "body.activity.event_type");
}
