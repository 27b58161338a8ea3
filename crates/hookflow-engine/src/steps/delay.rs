//! `delay`: the execution waits (for a duration, until a date-time, or until a time of day) and
//! resumes after; a simulation records the wait and goes on.

use std::time::Duration;

use hookflow_core::{StepStatus, Timestamp};
use hookflow_expr::Template;
use serde_json::{json, Value};

use super::kind::{Source, StepKind};
use super::{template, unknown_keys, StepErrors};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

#[derive(Clone)]
pub(crate) enum Delay {
    For(Duration),
    /// A date-time (template).
    Until(Template),
    /// The next time of day `hour:minute` in a timezone.
    AtTime {
        hour: i8,
        minute: i8,
        timezone: jiff::tz::TimeZone,
        timezone_name: String,
    },
}

impl StepKind for Delay {
    const TYPES: &'static [&'static str] = &["delay"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let (obj, templates) = (source.obj, source.templates);
        unknown_keys(obj, &["for", "until", "at_time", "timezone"], e);
        let given: Vec<&str> = ["for", "until", "at_time"]
            .into_iter()
            .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if given.len() != 1 {
            e.at("", "a delay needs exactly one of `for` (a duration like 15m), `until` (a date-time) or `at_time` (HH:MM with a timezone)");
            return None;
        }
        match given[0] {
            "for" => {
                let text = obj["for"]
                    .as_str()
                    .map_or_else(|| obj["for"].to_string(), str::to_owned);
                match hookflow_core::retry::parse_duration(&text) {
                    Ok(d) if d > Duration::from_secs(366 * 86_400) => {
                        e.at("for", "a delay may last at most 366 days");
                        None
                    }
                    Ok(d) => Some(Delay::For(d)),
                    Err(err) => {
                        e.at("for", err);
                        None
                    }
                }
            }
            "until" => template(obj, "until", templates, e).map(Delay::Until),
            _ => {
                let text = obj["at_time"].as_str().unwrap_or("");
                let parsed = text
                    .split_once(':')
                    .and_then(|(h, m)| Some((h.parse::<i8>().ok()?, m.parse::<i8>().ok()?)));
                let Some((hour, minute)) = parsed.filter(|(h, m)| (0..24).contains(h) && (0..60).contains(m)) else {
                    e.at("at_time", format!("`{text}` is not a time of day like 09:00"));
                    return None;
                };
                let timezone_name = obj.get("timezone").and_then(Value::as_str).unwrap_or("UTC").to_owned();
                match jiff::tz::TimeZone::get(&timezone_name) {
                    Ok(timezone) => Some(Delay::AtTime {
                        hour,
                        minute,
                        timezone,
                        timezone_name,
                    }),
                    Err(_) => {
                        e.at(
                            "timezone",
                            format!("`{timezone_name}` is not a timezone (use an IANA name like Asia/Kolkata)"),
                        );
                        None
                    }
                }
            }
        }
    }

    async fn run(&self, run: &mut Run<'_>, _: Live<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        let now = Timestamp::now();
        let (until, mut rec) = match self.until(run, here, rec, now) {
            Ok(until) => until,
            Err(flow) => return Ok(flow),
        };
        if until > now {
            rec.status = StepStatus::Waiting;
            run.save(rec);
            return Ok(Flow::Suspend(until));
        }
        run.set_output(here.id, rec.output.clone());
        run.save(rec);
        Ok(Flow::Continue)
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        let (until, mut rec) = match self.until(run, here, rec, Timestamp::now()) {
            Ok(until) => until,
            Err(flow) => return Ok(flow),
        };
        rec.output["skipped"] = json!(true);
        run.side_effect(json!({"step": here.id, "delay_until": until.to_rfc3339()}));
        run.set_output(here.id, rec.output.clone());
        run.save(rec);
        Ok(Flow::Continue)
    }
}

impl Delay {
    /// When the delay ends, with `rec` showing it; `Err` is how the step already ended: resumed
    /// (its wait is over), still waiting, or failed.
    fn until(
        &self,
        run: &mut Run<'_>,
        here: Here<'_>,
        mut rec: StepRecord,
        now: Timestamp,
    ) -> Result<(Timestamp, StepRecord), Flow> {
        // Already waiting: resume when due, else wait on.
        if let Some(waiting) = run.waiting(here.key).cloned() {
            let until = waiting.output["until"]
                .as_str()
                .and_then(Timestamp::parse_rfc3339)
                .unwrap_or(now);
            if now < until {
                run.shown(waiting);
                return Err(Flow::Suspend(until));
            }
            rec.input = waiting.input;
            rec.output = waiting.output;
            rec.started_at = waiting.started_at;
            run.set_output(here.id, rec.output.clone());
            run.save(rec);
            return Err(Flow::Continue);
        }
        let until = match self {
            Delay::For(d) => {
                rec.input = json!({"for": format!("{}s", d.as_secs_f64())});
                Ok(now.plus(*d))
            }
            Delay::Until(t) => {
                let r = match run.render(t) {
                    Ok(r) => r,
                    Err(message) => return Err(run.fail(here, rec, message)),
                };
                rec.missing = r.missing.clone();
                rec.input = json!({"until": r.value});
                parse_instant(&r.value).ok_or_else(|| format!("`until` gave {}, which is not a date-time", r.value))
            }
            Delay::AtTime {
                hour,
                minute,
                timezone,
                timezone_name,
            } => {
                rec.input = json!({"at_time": format!("{hour:02}:{minute:02}"), "timezone": timezone_name});
                next_time_of_day(now, *hour, *minute, timezone)
            }
        };
        match until {
            Ok(until) => {
                rec.output = json!({"until": until.to_rfc3339()});
                Ok((until, rec))
            }
            Err(message) => Err(run.fail(here, rec, message)),
        }
    }
}
/// A date-time from RFC 3339 (offset or not: UTC), a date, or Unix seconds/milliseconds.
pub fn parse_instant(v: &Value) -> Option<Timestamp> {
    let millis = |n: f64| if n.abs() >= 1e11 { n as i64 } else { (n * 1000.0) as i64 };
    match v {
        Value::Number(n) => n.as_f64().map(|n| Timestamp::from_millis(millis(n))),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                return Some(Timestamp::from_millis(millis(n)));
            }
            if let Ok(t) = s.parse::<jiff::Timestamp>() {
                return Some(Timestamp::from_millis(t.as_millisecond()));
            }
            if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
                return dt
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .ok()
                    .map(|z| Timestamp::from_millis(z.timestamp().as_millisecond()));
            }
            if let Ok(d) = s.parse::<jiff::civil::Date>() {
                return d
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .ok()
                    .map(|z| Timestamp::from_millis(z.timestamp().as_millisecond()));
            }
            jiff::fmt::rfc2822::parse(s)
                .ok()
                .map(|z| Timestamp::from_millis(z.timestamp().as_millisecond()))
        }
        _ => None,
    }
}

/// The next `hour:minute` in `tz` strictly after `now`.
pub fn next_time_of_day(now: Timestamp, hour: i8, minute: i8, tz: &jiff::tz::TimeZone) -> Result<Timestamp, String> {
    let here = now.to_jiff().to_zoned(tz.clone());
    let today = here
        .date()
        .at(hour, minute, 0, 0)
        .to_zoned(tz.clone())
        .map_err(|e| e.to_string())?;
    let next = if today.timestamp() > now.to_jiff() {
        today
    } else {
        here.date()
            .tomorrow()
            .map_err(|e| e.to_string())?
            .at(hour, minute, 0, 0)
            .to_zoned(tz.clone())
            .map_err(|e| e.to_string())?
    };
    Ok(Timestamp::from_millis(next.timestamp().as_millisecond()))
}
