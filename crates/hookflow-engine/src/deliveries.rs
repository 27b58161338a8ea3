//! Delivering emitted events to subscriptions (SPEC section 7): signed per
//! Standard Webhooks, retried on a schedule, every attempt recorded.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hookflow_core::{DeliveryId, JobKind, Timestamp};
use hookflow_delivery::{signing, Client, Outcome, Request};
use serde_json::{Map, Value};

use crate::store::{Deliveries, DeliveryAttempt, DeliveryResult, DeliveryWork, Job, StoreError};
use crate::worker::{JobHandler, JobOutcome};

/// How deliveries are retried and when a failing subscription is turned off.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The delay before each retry: `5s, 5m, 30m, 2h, 5h, 10h, 10h` by default
    /// (so 8 attempts in all); each is jittered by ±20 %.
    pub schedule: Vec<Duration>,
    /// One attempt's timeout.
    pub timeout: Duration,
    /// A subscription whose deliveries all failed for this long is disabled.
    pub disable_after: Duration,
    /// How long a rotated-out secret keeps signing, beside the new one.
    pub rotation_overlap: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        let m = 60;
        let h = 3600;
        Self {
            schedule: [5, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 86_400),
            rotation_overlap: Duration::from_secs(86_400),
        }
    }
}

/// The longest `Retry-After` a subscriber can ask for.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(86_400);
/// How much of a response body an attempt keeps.
const BODY_EXCERPT: usize = 4096;

/// The body sent: the payload with the subscription's extra fields merged at
/// the top level (they never replace `type`, `timestamp` or `data`).
pub fn body(payload: &Value, extra_fields: &Map<String, Value>) -> Value {
    let mut out = extra_fields.clone();
    if let Some(p) = payload.as_object() {
        for (k, v) in p {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

pub struct DeliveryHandler {
    store: Arc<dyn Deliveries>,
    client: Arc<Client>,
    settings: DeliverySettings,
    metrics: Arc<crate::metrics::Metrics>,
}

impl DeliveryHandler {
    pub fn new(
        store: Arc<dyn Deliveries>,
        client: Arc<Client>,
        settings: DeliverySettings,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            store,
            client,
            settings,
            metrics,
        }
    }

    async fn deliver(&self, work: DeliveryWork) -> Result<JobOutcome, StoreError> {
        let d = &work.delivery;
        let sub = &work.subscription;
        let attempt_no = d.attempts + 1;
        let now = Timestamp::now();
        let disable_after_ms = hookflow_core::time::millis(self.settings.disable_after);
        if !sub.enabled {
            let attempt = attempt_record(attempt_no, now, None, Some("the subscription is disabled".into()));
            self.store
                .record_delivery_attempt(
                    &d.id,
                    &attempt,
                    &DeliveryResult::Failed {
                        disable: None,
                        disable_after_ms,
                    },
                )
                .await?;
            return Ok(JobOutcome::Done);
        }
        let body = body(&work.payload, &sub.extra_fields).to_string().into_bytes();
        let timestamp = now.as_millis() / 1000;
        let mut secrets = vec![sub.secret.as_str()];
        if let (Some(old), Some(until)) = (&sub.previous_secret, sub.previous_until) {
            if until > now {
                secrets.push(old.as_str());
            }
        }
        let signature = match signing::signature_header(&secrets, d.message_id.as_str(), timestamp, &body) {
            Ok(s) => s,
            Err(e) => {
                let attempt = attempt_record(attempt_no, now, None, Some(format!("cannot sign: {e}")));
                self.store
                    .record_delivery_attempt(
                        &d.id,
                        &attempt,
                        &DeliveryResult::Failed {
                            disable: None,
                            disable_after_ms,
                        },
                    )
                    .await?;
                return Ok(JobOutcome::Done);
            }
        };
        let mut headers: Vec<(String, String)> = sub
            .headers
            .iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("webhook-") && !k.eq_ignore_ascii_case("content-type"))
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        headers.extend([
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (signing::HEADER_ID.to_owned(), d.message_id.to_string()),
            (signing::HEADER_TIMESTAMP.to_owned(), timestamp.to_string()),
            (signing::HEADER_SIGNATURE.to_owned(), signature),
        ]);
        let request = Request {
            method: "POST".into(),
            url: sub.url.clone(),
            headers,
            body: Some(body),
            timeout: self.settings.timeout,
            follow_redirects: false,
        };
        let result = self.client.send(request).await;
        let (status, latency, response_headers, excerpt) = match &result {
            Ok(r) => (
                Some(i64::from(r.status)),
                Some(r.latency_ms as i64),
                Value::Object(
                    r.headers
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
                        .collect(),
                ),
                String::from_utf8_lossy(&r.body[..r.body.len().min(BODY_EXCERPT)]).into_owned(),
            ),
            Err(_) => (None, None, Value::Object(Map::new()), String::new()),
        };
        let outcome = hookflow_delivery::classify_delivery(result);
        self.metrics.deliveries.inc(match &outcome {
            Outcome::Success(_) => "success",
            Outcome::Retry { .. } => "retry",
            Outcome::GiveUp { .. } => "give_up",
        });
        let attempt = DeliveryAttempt {
            attempt: attempt_no,
            at: now,
            status_code: status,
            latency_ms: latency,
            response_headers,
            response_body: excerpt,
            error: outcome.reason().map(str::to_owned),
        };
        let (result, job) = match outcome {
            Outcome::Success(_) => (DeliveryResult::Delivered, JobOutcome::Done),
            Outcome::Retry {
                reason, retry_after, ..
            } => match self.settings.schedule.get(attempt_no as usize - 1) {
                Some(base) => {
                    let jittered = base.mul_f64(0.8 + 0.4 * rand::random::<f64>());
                    let delay = retry_after.map_or(jittered, |after| jittered.max(after.min(RETRY_AFTER_CAP)));
                    let at = Timestamp::now().plus(delay);
                    (
                        DeliveryResult::Retry { at, disable_after_ms },
                        JobOutcome::Retry { at, reason },
                    )
                }
                None => (
                    DeliveryResult::Failed {
                        disable: None,
                        disable_after_ms,
                    },
                    JobOutcome::Done,
                ),
            },
            Outcome::GiveUp { response, .. } => {
                let gone = response.as_ref().is_some_and(|r| r.status == 410);
                let disable = gone.then(|| "the endpoint answered 410 Gone".to_owned());
                (
                    DeliveryResult::Failed {
                        disable,
                        disable_after_ms,
                    },
                    JobOutcome::Done,
                )
            }
        };
        self.store.record_delivery_attempt(&d.id, &attempt, &result).await?;
        Ok(job)
    }
}

fn attempt_record(attempt: i64, at: Timestamp, status: Option<i64>, error: Option<String>) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt,
        at,
        status_code: status,
        latency_ms: None,
        response_headers: Value::Object(Map::new()),
        response_body: String::new(),
        error,
    }
}

#[async_trait]
impl JobHandler for DeliveryHandler {
    fn kinds(&self) -> &[JobKind] {
        &[JobKind::Delivery]
    }

    async fn run(&self, job: &Job) -> JobOutcome {
        let id = DeliveryId::from_trusted(job.target_id.clone());
        let work = match self.store.delivery_work(&id).await {
            Ok(Some(w)) if w.delivery.status == "pending" => w,
            Ok(_) => return JobOutcome::Done,
            Err(e) => {
                return JobOutcome::Retry {
                    at: Timestamp::now().plus_millis(2_000),
                    reason: e.to_string(),
                }
            }
        };
        match self.deliver(work).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(delivery_id = %id, error = %e, "Delivery interrupted by the database.");
                JobOutcome::Retry {
                    at: Timestamp::now().plus_millis(2_000),
                    reason: e.to_string(),
                }
            }
        }
    }
}
