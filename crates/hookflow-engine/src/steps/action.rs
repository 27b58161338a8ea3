//! What the action steps (`http_request`, `send_message`, `send_email`) share: the request is
//! sent once per attempt and its entry written right after; a retryable failure schedules the
//! next attempt, and a simulation records the request instead of sending it.

use hookflow_core::{StepStatus, Timestamp};
use serde_json::{json, Value};

use crate::outbound::{Action, Plan};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

/// Makes an action config a step kind: `$type` is its step type, `$compile` its compiler in
/// `crate::actions`, `$action` the [`Action`] it sends as. Every action kind runs and simulates
/// through [`send`] and [`simulate`].
macro_rules! action_kind {
    ($config:ident, $type:literal, $compile:ident, $action:ident) => {
        impl $crate::steps::kind::StepKind for $config {
            const TYPES: &'static [&'static str] = &[$type];

            fn compile(
                source: &$crate::steps::kind::Source<'_>,
                e: &mut $crate::steps::StepErrors<'_>,
            ) -> Option<Self> {
                $crate::actions::$compile(source.obj, e.path, source.templates, e.errors)
            }

            async fn run(
                &self,
                run: &mut $crate::run::Run<'_>,
                live: $crate::run::Live<'_>,
                here: $crate::run::Here<'_>,
                rec: $crate::store::StepRecord,
            ) -> Result<$crate::run::Flow, $crate::store::StoreError> {
                $crate::steps::action::send(run, live, $crate::outbound::Action::$action(self), here, rec).await
            }

            async fn simulate(
                &self,
                run: &mut $crate::run::Run<'_>,
                here: $crate::run::Here<'_>,
                rec: $crate::store::StepRecord,
            ) -> Result<$crate::run::Flow, $crate::store::StoreError> {
                $crate::steps::action::simulate(run, $crate::outbound::Action::$action(self), here, rec).await
            }
        }
    };
}
pub(super) use action_kind;

/// Builds the request; `Err` is the step failed (a bad rendered value, an unknown channel).
async fn plan(
    run: &mut Run<'_>,
    action: Action<'_>,
    here: Here<'_>,
    mut rec: StepRecord,
) -> Result<Result<(Plan, StepRecord), Flow>, StoreError> {
    // Stable across attempts, so the peer can tell a retry from a new call.
    let key = format!("{}:{}", run.execution, rec.key);
    let plan = crate::outbound::plan(
        action,
        run.templates,
        &run.ctx,
        run.stores.contacts,
        &run.workspace,
        &key,
        run.default_country.as_deref(),
    )
    .await?;
    let plan = match plan {
        Ok(p) => p,
        Err(message) => return Ok(Err(run.fail(here, rec, message))),
    };
    rec.input = plan.input.clone();
    rec.missing = plan.missing.clone();
    Ok(Ok((plan, rec)))
}

/// Records the request a simulation does not send.
pub(super) async fn simulate(
    run: &mut Run<'_>,
    action: Action<'_>,
    here: Here<'_>,
    rec: StepRecord,
) -> Result<Flow, StoreError> {
    let (plan, mut rec) = match plan(run, action, here, rec).await? {
        Ok(planned) => planned,
        Err(flow) => return Ok(flow),
    };
    run.side_effect(json!({"step": here.id, "type": here.type_name, "request": plan.input}));
    rec.output = json!({"simulated": true});
    run.set_output(here.id, rec.output.clone());
    run.save(rec);
    Ok(Flow::Continue)
}

/// Sends an action's request once; a retryable failure schedules the next attempt.
pub(super) async fn send(
    run: &mut Run<'_>,
    live: Live<'_>,
    action: Action<'_>,
    here: Here<'_>,
    rec: StepRecord,
) -> Result<Flow, StoreError> {
    let (plan, mut rec) = match plan(run, action, here, rec).await? {
        Ok(planned) => planned,
        Err(flow) => return Ok(flow),
    };
    let client = live.client;
    let attempt_at = Timestamp::now();
    let (outcome, status, latency_ms, response_excerpt) = match plan.planned {
        crate::outbound::Planned::Http(request) => {
            let result = client.send(request).await;
            let (status, latency, excerpt) = match &result {
                Ok(r) => (
                    Some(r.status),
                    Some(r.latency_ms),
                    Some(crate::outbound::excerpt(&r.body)),
                ),
                Err(_) => (None, None, None),
            };
            (
                map_success(hookflow_delivery::classify_action(result), |r| {
                    crate::outbound::output(plan.reading, &r, &plan.extra)
                }),
                status,
                latency,
                excerpt,
            )
        }
        crate::outbound::Planned::Email(settings, email) => {
            let started = std::time::Instant::now();
            let result = client.send_email(&settings, &email).await;
            let latency = started.elapsed().as_millis() as u64;
            let outcome = map_success(hookflow_delivery::classify_email(result), |id| {
                let mut out = json!({"message_id": id});
                for (k, v) in &plan.extra {
                    out[k] = v.clone();
                }
                out
            });
            (outcome, None, Some(latency), None)
        }
    };
    live.metrics.outbound.inc(match &outcome {
        hookflow_delivery::Outcome::Success(_) => "success",
        hookflow_delivery::Outcome::Retry { .. } => "retry",
        hookflow_delivery::Outcome::GiveUp { .. } => "give_up",
    });
    rec.attempt_log.push(json!({
        "attempt": rec.attempts,
        "at": attempt_at.to_rfc3339(),
        "status": status,
        "latency_ms": latency_ms,
        "response": response_excerpt,
        "error": outcome.reason(),
    }));
    match outcome {
        hookflow_delivery::Outcome::Success(output) => {
            rec.output = output;
            rec.error = None;
            run.set_output(here.id, rec.output.clone());
            run.save_now(rec).await?;
            Ok(Flow::Continue)
        }
        hookflow_delivery::Outcome::Retry {
            reason, retry_after, ..
        } => {
            let attempt = u32::try_from(rec.attempts).unwrap_or(u32::MAX);
            match plan.retry.next_delay(attempt, rand::random::<f64>(), retry_after) {
                Some(delay) => {
                    let at = Timestamp::now().plus(delay);
                    rec.status = StepStatus::Retrying;
                    rec.error = Some(format!(
                        "attempt {attempt} of {}: {reason}; next at {at}",
                        plan.retry.attempts
                    ));
                    run.save_now(rec).await?;
                    Ok(Flow::Retry { at, reason })
                }
                None => {
                    let flow = run.fail(here, rec, format!("gave up after {attempt} attempts: {reason}"));
                    run.flush().await?;
                    Ok(flow)
                }
            }
        }
        hookflow_delivery::Outcome::GiveUp { reason, .. } => {
            let flow = run.fail(here, rec, reason);
            run.flush().await?;
            Ok(flow)
        }
    }
}

/// The outcome with its success turned into the step's output.
fn map_success<T>(
    outcome: hookflow_delivery::Outcome<T>,
    f: impl FnOnce(T) -> Value,
) -> hookflow_delivery::Outcome<Value> {
    use hookflow_delivery::Outcome;
    match outcome {
        Outcome::Success(t) => Outcome::Success(f(t)),
        Outcome::Retry {
            reason,
            retry_after,
            response,
        } => Outcome::Retry {
            reason,
            retry_after,
            response,
        },
        Outcome::GiveUp { reason, response } => Outcome::GiveUp { reason, response },
    }
}
