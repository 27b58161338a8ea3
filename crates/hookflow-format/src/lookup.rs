//! The `lookup` kind: a table from input text to any value, with a fallback.

use serde_json::{json, Map, Value};

use crate::fields::{opt_bool, req_text, Arg, Fields, Pre};
use crate::{ConfigError, RunEnv};

#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// Keys as written and their values (templates rendered only when chosen).
    table: Vec<(String, Arg)>,
    case_insensitive: Pre<bool>,
}

impl Step {
    pub(crate) fn compile(fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        let table = match fields.get("table") {
            Some(Arg::Object(entries)) if !entries.is_empty() => entries.clone(),
            Some(_) => {
                errors.push(ConfigError::new(
                    "table",
                    "must be an object of keys to values, with at least one entry",
                ));
                Vec::new()
            }
            None => Vec::new(),
        };
        Step {
            table,
            case_insensitive: Pre::new(fields, &["case_insensitive"], errors, |v| {
                opt_bool(v, "case_insensitive", false)
            }),
        }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>, env: &mut RunEnv<'_>) -> Result<Value, String> {
        let case_insensitive = *self
            .case_insensitive
            .get(values, |v| opt_bool(v, "case_insensitive", false))?;
        let input = req_text(values, "input");
        let key = input.trim();
        let found = self.table.iter().find(|(k, _)| k == key).or_else(|| {
            let lower = key.to_lowercase();
            case_insensitive
                .then(|| self.table.iter().find(|(k, _)| k.to_lowercase() == lower))
                .flatten()
        });
        let value = match found {
            Some((k, arg)) => {
                let path = crate::fields::child_path("table", k);
                let before = env.renders.errors.len();
                let value = arg.render(env.templates, env.ctx, &path, env.renders);
                if let Some(error) = env.renders.errors.get(before) {
                    return Err(error.clone());
                }
                value
            }
            None => values.get("fallback").cloned().unwrap_or(Value::Null),
        };
        Ok(json!({"value": value, "found": found.is_some()}))
    }
}
