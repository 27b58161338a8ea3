//! The `secrets` root of templates, and the masking that keeps its values out of the journal.
//!
//! An execution whose document names `secrets` gets the workspace's secrets as
//! the `secrets` root (`{{ secrets.crm_token }}`). Every journal entry and
//! simulated side effect it writes has those values replaced by [`MASK`]
//! first, wherever they appear (a header, a URL, a body, an echoed answer).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What a secret value is replaced with.
pub const MASK: &str = "[secret]";
/// Values shorter than this are not masked: masking `a` would mask every `a`.
const MIN_MASKED: usize = 4;

/// The secret values of one execution, longest first so a value is masked before its parts.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// The root value and the masker of a workspace's secrets.
    pub fn new(secrets: BTreeMap<String, String>) -> (Value, Secrets) {
        let mut values: Vec<String> = secrets.values().filter(|v| v.len() >= MIN_MASKED).cloned().collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        let root = Value::Object(
            secrets
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect::<Map<_, _>>(),
        );
        (root, Secrets { values })
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Replaces every secret value in the strings (and object keys) of `value`.
    pub fn mask(&self, value: &mut Value) {
        if self.values.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if let Some(masked) = self.mask_text(s) {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.mask(&mut v);
                    map.insert(self.mask_text(&key).unwrap_or(key), v);
                }
            }
            _ => {}
        }
    }

    /// The text with every secret value replaced, or `None` when it holds none.
    pub fn mask_text(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for secret in &self.values {
            let current = out.as_deref().unwrap_or(text);
            if current.contains(secret.as_str()) {
                out = Some(current.replace(secret.as_str(), MASK));
            }
        }
        out
    }
}

/// Whether a document names the `secrets` root anywhere (then its executions load them).
pub fn used_by(document: &Value) -> bool {
    match document {
        Value::String(s) => s.contains("secrets"),
        Value::Array(items) => items.iter().any(used_by),
        Value::Object(map) => map.values().any(used_by),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_values_wherever_they_appear() {
        let (root, secrets) = Secrets::new(BTreeMap::from([
            ("crm".to_owned(), "tok_live_123".to_owned()),
            ("short".to_owned(), "ab".to_owned()),
        ]));
        assert_eq!(root, json!({"crm": "tok_live_123", "short": "ab"}));
        let mut v = json!({"headers": {"authorization": "Bearer tok_live_123"}, "url": "https://x.example/?k=tok_live_123",
                           "tok_live_123": [1, "ab"]});
        secrets.mask(&mut v);
        assert_eq!(
            v,
            json!({"headers": {"authorization": "Bearer [secret]"}, "url": "https://x.example/?k=[secret]", "[secret]": [1, "ab"]})
        );
    }

    #[test]
    fn finds_the_root_in_documents() {
        assert!(used_by(&json!({"steps": [{"headers": {"x": "{{ secrets.crm }}"}}]})));
        assert!(!used_by(
            &json!({"steps": [{"headers": {"x": "{{ event.body.crm }}"}}]})
        ));
    }
}
