//! The `datetime` kind: parse, format, add/subtract, convert time zones, now.

use jiff::fmt::strtime;
use jiff::tz::{Offset, TimeZone};
use jiff::{Span, Timestamp, Zoned};
use serde_json::{json, Map, Value};

use crate::fields::{opt, opt_text, show, show_text, Built, Fields, Pre};
use crate::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Format,
    Parse,
    Add,
    Subtract,
    ConvertTimezone,
    Now,
}

/// A time zone and the name it was given as.
#[derive(Debug, Clone)]
struct Tz {
    name: String,
    tz: TimeZone,
}

impl Tz {
    fn utc() -> Tz {
        Tz {
            name: "UTC".to_string(),
            tz: TimeZone::UTC,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    op: Op,
    timezone: Pre<Tz>,
    input_timezone: Pre<Tz>,
    format: Pre<Option<String>>,
    input_format: Pre<Option<String>>,
    duration: Pre<Span>,
}

impl Step {
    pub(crate) fn compile(op: &str, fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        let op = match op {
            "format" => Op::Format,
            "parse" => Op::Parse,
            "add" => Op::Add,
            "subtract" => Op::Subtract,
            "convert_timezone" => Op::ConvertTimezone,
            _ => Op::Now,
        };
        Step {
            op,
            timezone: Pre::new(fields, &["timezone"], errors, timezone),
            input_timezone: Pre::new(fields, &["input_timezone"], errors, input_timezone),
            format: Pre::new(fields, &["format"], errors, format),
            input_format: Pre::new(fields, &["input_format"], errors, input_format),
            duration: match op {
                Op::Add | Op::Subtract => Pre::new(fields, &["duration"], errors, duration),
                _ => Pre::Static(Span::new()),
            },
        }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>, now: Timestamp) -> Result<Value, String> {
        let tz = self.timezone.get(values, timezone)?;
        let timestamp = match self.op {
            Op::Now => now,
            _ => {
                let input_tz = self.input_timezone.get(values, input_timezone)?;
                let input_format = self.input_format.get(values, input_format)?;
                let input = values.get("input").unwrap_or(&Value::Null);
                parse_input(input, input_format.as_deref(), &input_tz.tz).map_err(|m| format!("input {m}"))?
            }
        };
        let mut zoned = timestamp.to_zoned(tz.tz.clone());
        if matches!(self.op, Op::Add | Op::Subtract) {
            let span = *self.duration.get(values, duration)?;
            let result = if self.op == Op::Add {
                zoned.checked_add(span)
            } else {
                zoned.checked_sub(span)
            };
            zoned = result.map_err(|e| format!("the result is out of range: {e}"))?;
        }
        let iso = rfc3339(&zoned, &tz);
        let value = match &*self.format.get(values, format)? {
            Some(f) => {
                strtime::format(f.as_str(), &zoned).map_err(|e| format!("format {} failed: {e}", show_text(f)))?
            }
            None => iso.clone(),
        };
        Ok(json!({
            "value": value,
            "iso": iso,
            "unix": zoned.timestamp().as_second(),
            "timezone": tz.name,
        }))
    }
}

/// RFC 3339: `Z` in UTC, else the numeric offset of the time zone at that instant.
fn rfc3339(zoned: &Zoned, tz: &Tz) -> String {
    if tz.tz == TimeZone::UTC {
        zoned.timestamp().to_string()
    } else {
        zoned.timestamp().display_with_offset(zoned.offset()).to_string()
    }
}

fn timezone(values: &Map<String, Value>) -> Built<Tz> {
    tz_field(values, "timezone")
}

fn input_timezone(values: &Map<String, Value>) -> Built<Tz> {
    tz_field(values, "input_timezone")
}

/// An IANA name (`Asia/Kolkata`), `UTC`, or a fixed offset (`+05:30`); UTC when not given.
fn tz_field(values: &Map<String, Value>, name: &'static str) -> Built<Tz> {
    let Some(given) = opt_text(values, name) else {
        return Ok(Tz::utc());
    };
    let given = given.trim();
    if given.eq_ignore_ascii_case("utc") || given == "Z" {
        return Ok(Tz {
            name: given.to_string(),
            tz: TimeZone::UTC,
        });
    }
    if given.starts_with(['+', '-']) {
        if let Some(offset) = parse_offset(given) {
            return Ok(Tz {
                name: given.to_string(),
                tz: TimeZone::fixed(offset),
            });
        }
    }
    match TimeZone::get(given) {
        Ok(tz) => Ok(Tz {
            name: given.to_string(),
            tz,
        }),
        Err(_) => Err((
            name,
            format!(
                "{} is not a known time zone (use an IANA name like Europe/Paris, UTC, or an offset like +05:30)",
                show_text(given)
            ),
        )),
    }
}

/// `+05:30`, `-0800`, `+02`.
fn parse_offset(s: &str) -> Option<Offset> {
    let sign: i32 = if s.starts_with('-') { -1 } else { 1 };
    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits.get(2..).map_or(Some(0), |m| m.parse().ok())?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

/// A strftime pattern, checked by formatting a sample date-time.
fn format(values: &Map<String, Value>) -> Built<Option<String>> {
    strftime(values, "format")
}

fn input_format(values: &Map<String, Value>) -> Built<Option<String>> {
    strftime(values, "input_format")
}

fn strftime(values: &Map<String, Value>, name: &'static str) -> Built<Option<String>> {
    let Some(pattern) = opt_text(values, name) else {
        return Ok(None);
    };
    let sample = Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC);
    match strtime::format(pattern.as_str(), &sample) {
        Ok(_) => Ok(Some(pattern)),
        Err(e) => Err((
            name,
            format!("{} is not a valid strftime format: {e}", show_text(&pattern)),
        )),
    }
}

/// `30s`, `15m`, `2h`, `3d`, `1w`, `1mo`, `1y`, sums like `1d12h` or
/// `1 day 12 hours`, ISO 8601 like `P1DT2H`; a number is seconds.
fn duration(values: &Map<String, Value>) -> Built<Span> {
    let bad = |given: &str| {
        (
            "duration",
            format!(
                "{} is not a duration (like 30s, 15m, 2h, 3d, 1w, 1mo, 1y, 1d12h or P1DT2H)",
                show_text(given)
            ),
        )
    };
    match opt(values, "duration") {
        None => Err(("duration", "is empty".to_string())),
        Some(Value::Number(n)) => {
            let seconds = n.as_i64().ok_or_else(|| bad(&n.to_string()))?;
            Span::new().try_seconds(seconds).map_err(|_| bad(&n.to_string()))
        }
        Some(Value::String(s)) => {
            let s = s.trim();
            if let Ok(seconds) = s.parse::<i64>() {
                return Span::new().try_seconds(seconds).map_err(|_| bad(s));
            }
            s.parse::<Span>().map_err(|_| bad(s))
        }
        Some(other) => Err(bad(&other.to_string())),
    }
}

/// Unix times at or above this (in absolute value) are milliseconds: 10^11
/// seconds is in the year 5138, 10^11 milliseconds in 1973.
const MILLIS_THRESHOLD: u128 = 100_000_000_000;

/// Unix seconds or milliseconds written as a decimal (`1795341600`,
/// `-86400`, `1795341600123`, `1795341600.5`), exactly to the nanosecond.
fn unix_decimal(s: &str) -> Option<Timestamp> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u128 = int.parse().ok()?;
    let (unit, places) = if whole >= MILLIS_THRESHOLD {
        (1_000_000, 6)
    } else {
        (1_000_000_000, 9)
    };
    let mut fraction: String = fraction.chars().take(places).collect();
    while fraction.len() < places {
        fraction.push('0');
    }
    let nanos = whole.checked_mul(unit)?.checked_add(fraction.parse().ok()?)?;
    let nanos = i128::try_from(nanos).ok()?;
    Timestamp::from_nanosecond(if negative { -nanos } else { nanos }).ok()
}

/// A JSON number as Unix time: exact for integers and for floats whose
/// shortest decimal form has no exponent.
fn unix_number(n: &serde_json::Number) -> Option<Timestamp> {
    if let Some(ts) = unix_decimal(&n.to_string()) {
        return Some(ts);
    }
    let f = n.as_f64()?;
    let nanos = if f.abs() >= MILLIS_THRESHOLD as f64 {
        f * 1e6
    } else {
        f * 1e9
    };
    if !nanos.is_finite() {
        return None;
    }
    Timestamp::from_nanosecond(nanos.round() as i128).ok()
}

/// A date-time input; the message reads after "input".
fn parse_input(value: &Value, input_format: Option<&str>, input_tz: &TimeZone) -> Result<Timestamp, String> {
    let not_a_date = || {
        format!(
            "{} is not a date-time (expected RFC 3339 / ISO 8601, RFC 2822 or Unix seconds or milliseconds; set input_format for other layouts)",
            show(value)
        )
    };
    let s = match value {
        Value::Null => return Err("is empty".to_string()),
        Value::Number(n) => return unix_number(n).ok_or_else(not_a_date),
        Value::String(s) => s.trim(),
        _ => return Err(not_a_date()),
    };
    if s.is_empty() {
        return Err("is empty".to_string());
    }
    if let Some(pattern) = input_format {
        return with_format(pattern, s, input_tz);
    }
    if let Some(ts) = unix_decimal(s) {
        return Ok(ts);
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(zoned) = s.parse::<Zoned>() {
        return Ok(zoned.timestamp());
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return input_tz.to_timestamp(dt).map_err(|e| e.to_string());
    }
    if let Ok(ts) = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(s) {
        return Ok(ts);
    }
    // `2026-11-22 10:00:00 +0000` and `2026-11-22 10:00:00 UTC`, as Ruby and
    // many databases print them.
    for pattern in ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z"] {
        if let Ok(ts) = strtime::parse(pattern, s).and_then(|t| t.to_timestamp()) {
            return Ok(ts);
        }
    }
    for suffix in [" UTC", " GMT"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            if let Ok(dt) = rest.trim().parse::<jiff::civil::DateTime>() {
                return TimeZone::UTC.to_timestamp(dt).map_err(|e| e.to_string());
            }
        }
    }
    Err(not_a_date())
}

/// Parses with a strftime pattern: an offset (`%z`) or zone (`%Q`) in the
/// input wins, else the date-time is read in `input_tz`; a missing time is midnight.
fn with_format(pattern: &str, s: &str, input_tz: &TimeZone) -> Result<Timestamp, String> {
    let parsed = strtime::parse(pattern, s).map_err(|e| {
        format!(
            "{} does not match input_format {}: {e}",
            show_text(s),
            show_text(pattern)
        )
    })?;
    if let Ok(zoned) = parsed.to_zoned() {
        return Ok(zoned.timestamp());
    }
    if let Ok(ts) = parsed.to_timestamp() {
        return Ok(ts);
    }
    let dt = parsed.to_datetime().or_else(|e| {
        parsed
            .to_date()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|_| e)
    });
    match dt {
        Ok(dt) => input_tz.to_timestamp(dt).map_err(|e| e.to_string()),
        Err(e) => Err(format!(
            "{} parsed with input_format {} is not a full date: {e}",
            show_text(s),
            show_text(pattern)
        )),
    }
}
