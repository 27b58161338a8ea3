//! The `counter` kind: a named counter in workspace storage, incremented or read by the engine.

use serde_json::{Map, Value};

use crate::fields::{number, opt, req_text, show_text, Built, Fields, Pre};
use crate::{ConfigError, Output};

/// The longest counter name, in characters.
const MAX_NAME: usize = 200;

#[derive(Debug, Clone)]
pub(crate) struct Step {
    read_only: bool,
    by: Pre<f64>,
}

impl Step {
    pub(crate) fn compile(op: &str, fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        Step {
            read_only: op == "read",
            by: Pre::new(fields, &["by"], errors, by),
        }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>) -> Result<Output, String> {
        let name = req_text(values, "name").trim().to_string();
        if name.is_empty() {
            return Err("name is empty".to_string());
        }
        if name.chars().count() > MAX_NAME {
            return Err(format!(
                "name {} is longer than {MAX_NAME} characters",
                show_text(&name)
            ));
        }
        let by = if self.read_only { 0.0 } else { *self.by.get(values, by)? };
        Ok(Output::Counter {
            name,
            by,
            read_only: self.read_only,
        })
    }
}

/// A finite number, 1 when not given.
fn by(values: &Map<String, Value>) -> Built<f64> {
    match opt(values, "by") {
        None => Ok(1.0),
        Some(v) => number(v).map_err(|m| ("by", m)),
    }
}
