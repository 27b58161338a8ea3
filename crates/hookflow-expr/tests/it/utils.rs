//! Fixtures shared by the test modules.

use serde_json::Value;

/// A paid order event, as the engine would build the context for it.
pub const EVENT: &str = r#"{
  "event": {
    "id": "evt_1",
    "method": "POST",
    "received_at": "2024-06-01T10:00:05Z",
    "body": {
      "order": {
        "id": 1001,
        "total": 149.5,
        "status": "paid",
        "paid": true,
        "note": null,
        "big": 12345678901234567890,
        "big_negative": -9007199254740993,
        "tags": ["VIP", "gift"],
        "created_at": "2024-06-01T10:00:00+05:30",
        "line_items": [
          {"sku": "A-1", "quantity": 2, "price": 9.99},
          {"sku": "B-2", "quantity": 1, "price": 100}
        ]
      },
      "customer": {"id": "c_42", "name": "Ann Lee", "email": "Ann@Example.com"},
      "smtp-id": "<abc@mail.example>",
      "empty": "",
      "zero": 0,
      "amount_text": "100.50",
      "subscribed": "yes",
      "z": 1,
      "a": 2
    },
    "custom_variables": {"agent": "bob@example.com"},
    "headers": {"content-type": "application/json"}
  },
  "steps": {"crm": {"status": 200, "body": {"first_name": "Ann"}}},
  "contact": {"mobile": "+15550100", "tags": []},
  "system": {"timezone": "Asia/Kolkata"},
  "item": {"quantity": 3, "price": 2.5},
  "index": 0
}"#;

/// A webhook whose body is a JSON array.
pub const ARRAY_BODY: &str = r#"{"event": {"body": [{"email": "a@example.com"}, {"email": "b@example.com"}]}}"#;

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is valid JSON")
}
