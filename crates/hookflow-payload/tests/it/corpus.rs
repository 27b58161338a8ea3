//! Every real payload of `shared/corpus` parses, and its probe fields are reachable both in the
//! parsed body and through the attribute list.

use std::path::PathBuf;

use hookflow_payload::{attributes, parse_body, parse_query, BodyKind};
use serde_json::{Map, Value};
use sha2::Digest as _;

/// One step of a probe path.
enum Segment {
    Key(String),
    Index(usize),
}

/// Reads a probe path of the corpus README: `a.b[0].c`, `[0].email`, or `(whole body)`.
fn probe_segments(path: &str) -> Vec<Segment> {
    if path == "(whole body)" {
        return Vec::new();
    }
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, mut indexes) = part.split_once('[').map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            segments.push(Segment::Key(key.to_owned()));
        }
        while let Some((index, rest)) = indexes.split_once(']') {
            segments.push(Segment::Index(index.parse().expect("numeric index")));
            indexes = rest.strip_prefix('[').unwrap_or(rest);
        }
    }
    segments
}

/// The attribute path we expect for a probe, written out independently of the crate.
fn expected_path(segments: &[Segment]) -> String {
    let mut path = "body".to_owned();
    for segment in segments {
        match segment {
            Segment::Index(i) => path.push_str(&format!("[{i}]")),
            Segment::Key(key) => {
                let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !["true", "false", "none", "and", "or", "not", "in", "is", "if"].contains(&key.as_str());
                if plain {
                    path.push('.');
                    path.push_str(key);
                } else {
                    path.push_str(&format!("[{}]", Value::String(key.clone())));
                }
            }
        }
    }
    path
}

fn lookup<'a>(value: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    segments.iter().try_fold(value, |value, segment| match segment {
        Segment::Key(key) => value.get(key),
        Segment::Index(i) => value.get(i),
    })
}

fn strip_one_newline(s: &str) -> &str {
    s.strip_suffix("\r\n").or_else(|| s.strip_suffix('\n')).unwrap_or(s)
}

/// The kind a content type of the corpus must give.
fn expected_kind(content_type: &str, shapes: &[Value]) -> BodyKind {
    let has = |shape: &str| shapes.iter().any(|s| s == shape);
    match content_type.split(';').next().unwrap_or_default() {
        "application/json" => BodyKind::Json,
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "multipart/form-data" => BodyKind::Multipart,
        "application/xml" => BodyKind::Xml,
        "text/plain" if has("json-as-text-plain") => BodyKind::Json,
        "text/plain" => BodyKind::Text,
        other => panic!("no expectation for content type {other}"),
    }
}

/// Counts the values of a form body (a repeated key counts once per value).
fn value_count(body: &Value) -> usize {
    let Some(map) = body.as_object() else {
        return 0;
    };
    map.values().map(|v| v.as_array().map_or(1, Vec::len)).sum()
}

#[test]
fn every_corpus_payload_parses_and_its_probes_resolve() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let Ok(index) = std::fs::read_to_string(dir.join("index.json")) else {
        println!("corpus not found at {}: skipped", dir.display());
        return;
    };
    let index: Value = serde_json::from_str(&index).unwrap();
    let entries = index["entries"].as_array().unwrap();
    assert_eq!(Some(entries.len() as u64), index["count"].as_u64());

    let mut failures = Vec::new();
    let mut probes = 0;
    for entry in entries {
        let file = entry["path"].as_str().unwrap();
        let mut fail = |what: String| failures.push(format!("{file}: {what}"));
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        if sha256 != entry["sha256"].as_str().unwrap() {
            fail(format!("sha256 {sha256} differs from the index"));
        }
        let content_type = entry["content_type"].as_str().unwrap();
        let parsed = match parse_body(Some(content_type), &bytes, &Map::new()) {
            Ok(parsed) => parsed,
            Err(error) => {
                fail(format!("rejected: {error}"));
                continue;
            }
        };
        let shapes = entry["shapes"].as_array().unwrap();
        let kind = expected_kind(content_type, shapes);
        if parsed.kind != kind {
            fail(format!("kind {} instead of {}", parsed.kind, kind));
        }
        let listed = attributes("body", &parsed.body, 1000);
        let event = serde_json::json!({ "body": parsed.body });
        for problem in crate::utils::verify_paths(&listed, &event) {
            fail(format!("attribute {problem}"));
        }

        for probe in entry["probe_fields"].as_array().unwrap() {
            probes += 1;
            let probe_path = probe["path"].as_str().unwrap();
            let want = probe["value"].as_str().unwrap();
            let segments = probe_segments(probe_path);
            match lookup(&parsed.body, &segments) {
                Some(Value::String(got)) if strip_one_newline(got) == want => {}
                got => fail(format!("probe {probe_path}: got {got:?}, want {want:?}")),
            }
            let path = expected_path(&segments);
            if !listed.iter().any(|attribute| attribute.path == path) {
                fail(format!("no attribute with path {path}"));
            }
        }

        if let Some(names) = entry["multipart_fields"].as_array() {
            for name in names {
                if parsed.body.get(name.as_str().unwrap()).is_none() {
                    fail(format!("multipart field {name} missing"));
                }
            }
        }
        let raw_email = parsed.body.get("email").filter(|_| parsed.kind == BodyKind::Multipart);
        if let Some(Value::String(raw)) = raw_email {
            // SendGrid's raw mode: the whole message is a text field; it must parse as email.
            match parse_body(Some("message/rfc822"), raw.as_bytes(), &Map::new()) {
                Ok(email) => {
                    let from = &email.body["from"]["email"];
                    let field = parsed.body["from"].as_str().unwrap_or_default();
                    if !from.as_str().is_some_and(|from| field.contains(from)) {
                        fail(format!("email from {from} not in the from field {field:?}"));
                    }
                }
                Err(error) => fail(format!("email field: {error}")),
            }
        }
        if let Some(count) = entry["form_keys"].as_u64() {
            if value_count(&parsed.body) as u64 != count {
                fail(format!("{} form values, index says {count}", value_count(&parsed.body)));
            }
        }
        if entry["also_valid_as_query_string"] == Value::Bool(true) {
            // Twilio with GET: the same string as the query and no body.
            let query = parse_query(std::str::from_utf8(&bytes).unwrap());
            if Value::Object(query.clone()) != parsed.body {
                fail("query string differs from the form body".to_owned());
            }
            match parse_body(None, b"", &query) {
                Ok(empty) if empty.kind == BodyKind::Empty && empty.body == parsed.body => {}
                other => fail(format!("as a query string: {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{} corpus entries, {probes} probes", entries.len());
    assert_eq!(entries.len(), 62);
}
