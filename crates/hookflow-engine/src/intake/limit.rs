//! Connectors' `rate_limit`, kept per node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Token buckets of connectors with a `rate_limit`, on this node.
#[derive(Default)]
pub(crate) struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes a token for `connector` at `now`, or answers how many seconds until one is free.
    pub(crate) fn take(&self, connector: &str, requests: f64, per: Duration, now: Instant) -> Result<(), u32> {
        let rate = requests / per.as_secs_f64().max(0.001);
        let mut buckets = self.buckets.lock().expect("lock poisoned");
        let (tokens, last) = buckets.entry(connector.to_owned()).or_insert((requests, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(requests);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u32)
        }
    }
}

/// The document's `rate_limit`: `{"requests": 10, "per": "1s"}`.
pub(crate) fn rate_limit(doc: &Value) -> Option<(f64, Duration)> {
    let limit = doc.get("rate_limit")?;
    let requests = limit.get("requests")?.as_f64()?;
    let per = hookflow_core::retry::parse_duration(limit.get("per").and_then(Value::as_str).unwrap_or("1s")).ok()?;
    Some((requests, per))
}
