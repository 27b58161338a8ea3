//! The two helpers every test goes through, and the fixtures.

use expect_test::Expect;
use hookflow_expr::Templates;
use hookflow_format::{compile, Output};
use serde_json::Value;

/// The `now` every run gets.
pub const NOW: &str = "2026-03-14T15:09:26Z";

/// An order event, as the engine would build the context for it.
pub const EVENT: &str = r#"{
  "event": {
    "id": "evt_1",
    "received_at": "2026-11-22T10:00:00Z",
    "body": {
      "order": {
        "id": 1001,
        "created_at": "2026-11-22T10:00:00Z",
        "local_time": "2026-11-22 10:00",
        "unix": 1795341600,
        "unix_ms": "1795341600123",
        "total": 149.5,
        "quantity": 3,
        "price": 19.99,
        "status": "PAID",
        "note": "  Gift wrap, please  ",
        "tags": "vip, gift ,repeat",
        "skus": ["A-1", "B-2", "C-3"],
        "qtys": "2,1",
        "items": [
          {"sku": "A-1", "qty": 2, "price": 9.99},
          {"sku": "B-2", "qty": 1, "gift": true}
        ]
      },
      "customer": {"name": "ann LEE", "email": "Ann@Example.com", "timezone": "Europe/Paris", "country": "fr"},
      "csv": "sku,qty\nA-1,2\nB-2,1\n",
      "json_text": "{\"a\": {\"b\": [1, 2]}, \"smtp-id\": \"<x@y>\"}",
      "xml": "<order><id>7</id><item>a</item><item>b</item></order>",
      "b64": "aGVsbG8gd29ybGQ=",
      "empty": "",
      "zero": 0
    },
    "custom_variables": {"tz": "Mars/Base", "by": "abc", "pattern": "(", "duration": "5 parsecs"}
  },
  "steps": {},
  "system": {"timezone": "Asia/Kolkata"}
}"#;

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is valid JSON")
}

/// Compiles `step`, runs it twice over `ctx` at `NOW` (a compiled step is
/// reusable) and prints the rendered input, the output or error, and what was missing.
pub fn check(step: &str, ctx: &str, expect: Expect) {
    let templates = Templates::new();
    let actual = match compile(&templates, &json(step)) {
        Err(errors) => {
            let mut out = String::new();
            for e in errors {
                out += &format!("config error: {e}\n");
            }
            out
        }
        Ok(formatter) => {
            let ctx = json(ctx);
            let now: jiff::Timestamp = NOW.parse().expect("NOW is a timestamp");
            let outcome = formatter.run(&templates, &ctx, now);
            assert_eq!(
                outcome,
                formatter.clone().run(&templates, &ctx, now),
                "a second run differs"
            );
            let mut out = format!("input: {}\n", outcome.input);
            match outcome.result {
                Ok(Output::Value(value)) => out += &format!("output: {value}\n"),
                Ok(Output::Counter { name, by, read_only }) => {
                    out += &format!("counter: name={name:?} by={by} read_only={read_only}\n")
                }
                Err(error) => out += &format!("error: {error}\n"),
            }
            if !outcome.missing.is_empty() {
                out += &format!("missing: {}\n", outcome.missing.join(", "));
            }
            out
        }
    };
    expect.assert_eq(&actual);
}

/// Compiles a step that should be rejected and prints every problem.
pub fn check_config(step: &str, expect: Expect) {
    let actual = match compile(&Templates::new(), &json(step)) {
        Ok(formatter) => format!(
            "compiled: {} {}\n",
            formatter.kind(),
            formatter.operation().unwrap_or("-")
        ),
        Err(errors) => errors.iter().map(|e| format!("{}: {}\n", e.path, e.message)).collect(),
    };
    expect.assert_eq(&actual);
}
