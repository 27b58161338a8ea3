//! How a condition's two sides compare: text, numbers, dates, lists and regexes, with the reason
//! when they cannot be compared.

use std::cmp::Ordering;

use regex::Regex;
use serde_json::Value as Json;

use super::Op;

/// Compares; `Err` is the reason the values could not be compared.
pub(super) fn compare(op: Op, left: &Json, right: &Json, regex: Option<&Regex>) -> Result<bool, String> {
    let ci = op.is_case_insensitive();
    match op.base() {
        Op::Equals => Ok(same(left, right, ci)),
        Op::NotEquals => Ok(!same(left, right, ci)),
        Op::Contains => contains(left, right, ci),
        Op::NotContains => contains(left, right, ci).map(|c| !c),
        Op::StartsWith => Ok(fold(&text(left), ci).starts_with(&needle(right, ci)?)),
        Op::EndsWith => Ok(fold(&text(left), ci).ends_with(&needle(right, ci)?)),
        Op::Matches => match regex {
            Some(regex) => Ok(regex.is_match(&text(left))),
            None => {
                let regex = crate::text::build_regex(&text(right), ci)
                    .map_err(|e| format!("right is not a valid regular expression: {e}"))?;
                Ok(regex.is_match(&text(left)))
            }
        },
        Op::In => {
            let list = list(right);
            let is_in = |value: &Json| list.iter().any(|item| same(value, item, ci));
            Ok(match left {
                Json::Array(items) => items.iter().any(is_in),
                other => is_in(other),
            })
        }
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = number("left", left)?.cmp(number("right", right)?);
            Ok(match op {
                Op::Eq => ordering == Ordering::Equal,
                Op::Ne => ordering != Ordering::Equal,
                Op::Lt => ordering == Ordering::Less,
                Op::Le => ordering != Ordering::Greater,
                Op::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            })
        }
        Op::Before => Ok(date("left", left)? < date("right", right)?),
        Op::After => Ok(date("left", left)? > date("right", right)?),
        Op::IsTrue => boolean(left),
        Op::IsFalse => boolean(left).map(|b| !b),
        Op::Exists => Ok(!left.is_null()),
        Op::NotExists => Ok(left.is_null()),
        Op::IsEmpty => Ok(is_empty(left)),
        Op::NotEmpty => Ok(!is_empty(left)),
        // `base` maps every `_ci` operator to one of the above.
        _ => Err(format!("operator `{op}` is not implemented")),
    }
}

/// A value as text: strings as they are, null as nothing, anything else as compact JSON.
pub(super) fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn fold(s: &str, ci: bool) -> String {
    if ci {
        s.to_lowercase()
    } else {
        s.to_string()
    }
}

/// Text equality; two numbers compare as numbers (`1` equals `1.0`).
fn same(a: &Json, b: &Json, ci: bool) -> bool {
    if let (Json::Number(_), Json::Number(_)) = (a, b) {
        if let (Ok(x), Ok(y)) = (number("", a), number("", b)) {
            return x.cmp(y) == Ordering::Equal;
        }
    }
    fold(&text(a), ci) == fold(&text(b), ci)
}

/// The right side of a substring operator; empty text can't be searched for.
fn needle(right: &Json, ci: bool) -> Result<String, String> {
    let needle = text(right);
    if needle.is_empty() {
        return Err("right is empty".to_string());
    }
    Ok(fold(&needle, ci))
}

/// Array: an element equals right. Object: a key equals right. Otherwise substring.
fn contains(left: &Json, right: &Json, ci: bool) -> Result<bool, String> {
    match left {
        Json::Array(items) => Ok(items.iter().any(|item| same(item, right, ci))),
        Json::Object(map) => Ok(map.keys().any(|key| fold(key, ci) == fold(&text(right), ci))),
        _ => Ok(fold(&text(left), ci).contains(&needle(right, ci)?)),
    }
}

/// The right side of `in`: a list, or a comma-separated string.
fn list(right: &Json) -> Vec<Json> {
    match right {
        Json::Array(items) => items.clone(),
        Json::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Json::String(s.to_string()))
            .collect(),
        Json::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn is_empty(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::String(s) => s.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn describe(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// A number for comparison: integers exactly, others as floats.
#[derive(Debug, Clone, Copy)]
enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    fn cmp(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (a, b) => a.float().partial_cmp(&b.float()).unwrap_or(Ordering::Equal),
        }
    }

    fn float(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// JSON numbers, and strings holding a decimal number (`"100.5"`, `" -3 "`, `"1e3"`).
fn number(side: &str, value: &Json) -> Result<Number, String> {
    let not_a_number = || format!("{side} is not a number: {}", describe(value));
    match value {
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(Number::Int(i.into())),
            (_, Some(u), _) => Ok(Number::Int(u.into())),
            (_, _, Some(f)) => Ok(Number::Float(f)),
            _ => Err(not_a_number()),
        },
        Json::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
            let well_formed = !digits.is_empty()
                && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
                && digits
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
            if !well_formed {
                return Err(not_a_number());
            }
            if let Ok(i) = s.parse::<i128>() {
                return Ok(Number::Int(i));
            }
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Number::Float(f)),
                _ => Err(not_a_number()),
            }
        }
        _ => Err(not_a_number()),
    }
}

/// `true`/`false`, `"true"`/`"false"`, `"yes"`/`"no"`, `"1"`/`"0"`, `1`/`0` (text in any case).
fn boolean(value: &Json) -> Result<bool, String> {
    let parsed = match value {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Json::String(s) => match s.trim().to_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| format!("left is not a boolean: {}", describe(value)))
}

/// Unix seconds below this (in absolute value) are seconds; above, milliseconds.
/// 10^11 seconds is in the year 5138; 10^11 milliseconds is in 1973.
const MILLIS_THRESHOLD: f64 = 1e11;

/// A date-time: RFC 3339 / ISO 8601 with or without offset (without is UTC),
/// `YYYY-MM-DD` (midnight UTC), RFC 2822, or Unix seconds or milliseconds
/// as a number or a digit string.
fn date(side: &str, value: &Json) -> Result<jiff::Timestamp, String> {
    let not_a_date = || format!("{side} is not a date-time: {}", describe(value));
    match value {
        Json::Number(n) => n.as_f64().and_then(unix).ok_or_else(not_a_date),
        Json::String(s) => parse_date(s.trim()).ok_or_else(not_a_date),
        _ => Err(not_a_date()),
    }
}

fn unix(value: f64) -> Option<jiff::Timestamp> {
    let nanos = if value.abs() >= MILLIS_THRESHOLD {
        value * 1e6
    } else {
        value * 1e9
    };
    if !nanos.is_finite() {
        return None;
    }
    jiff::Timestamp::from_nanosecond(nanos.round() as i128).ok()
}

fn parse_date(s: &str) -> Option<jiff::Timestamp> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return s.parse::<f64>().ok().and_then(unix);
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return jiff::tz::TimeZone::UTC.to_timestamp(dt).ok();
    }
    jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(s).ok()
}
