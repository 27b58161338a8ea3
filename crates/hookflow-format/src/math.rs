//! The `math` kind: an arithmetic expression rendered from a template, optionally rounded.

use serde_json::{json, Map, Value};

use crate::fields::{integer, opt, req_text, show_text, Built, Fields, Pre};
use crate::ConfigError;

/// The most decimal digits `round` may ask for.
const MAX_DIGITS: i64 = 10;

#[derive(Debug, Clone)]
pub(crate) struct Step {
    round: Pre<Option<i64>>,
}

impl Step {
    pub(crate) fn compile(fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        Step {
            round: Pre::new(fields, &["round"], errors, round),
        }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>) -> Result<Value, String> {
        let expression = req_text(values, "expression");
        let mut value = hookflow_expr::eval_math(&expression)
            .map_err(|e| format!("expression {} cannot be computed: {e}", show_text(&expression)))?;
        if let Some(digits) = *self.round.get(values, round)? {
            // The expression crate's `round` rounds the number as written, half away from zero.
            value = hookflow_expr::eval_math(&format!("round({value}, {digits})"))
                .map_err(|e| format!("cannot round {value}: {e}"))?;
        }
        Ok(json!({ "value": value }))
    }
}

/// Decimal digits from 0 to 10.
fn round(values: &Map<String, Value>) -> Built<Option<i64>> {
    let Some(v) = opt(values, "round") else {
        return Ok(None);
    };
    match integer(v) {
        Ok(d) if (0..=MAX_DIGITS).contains(&d) => Ok(Some(d)),
        _ => Err((
            "round",
            format!(
                "{} must be a whole number of digits from 0 to {MAX_DIGITS}",
                crate::fields::show(v)
            ),
        )),
    }
}
