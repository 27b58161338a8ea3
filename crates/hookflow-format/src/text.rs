//! The `text` kind: case, trim, replace, split, truncate, extract, URL
//! encoding, slugs, length and defaults, on the input rendered to text.

use regex::Regex;
use serde_json::{json, Map, Value};

use crate::fields::{integer, opt, opt_bool, opt_text, req_text, show, show_text, text, Built, Fields, Pre};
use crate::ConfigError;

#[derive(Debug, Clone)]
enum Op {
    Upper,
    Lower,
    Title,
    Capitalize,
    Trim,
    Replace(Pre<Matcher>),
    Split(Pre<Split>),
    Truncate(Pre<usize>),
    Extract(Pre<Extract>),
    UrlEncode,
    UrlDecode,
    Slugify,
    Length,
    Default,
}

/// What `replace` looks for.
#[derive(Debug, Clone)]
enum Matcher {
    /// Plain text, case-sensitive.
    Literal(String),
    /// A regex; `expand` says whether `$1` in the replacement refers to groups.
    Regex { regex: Regex, expand: bool },
}

#[derive(Debug, Clone)]
struct Split {
    separator: String,
    index: Option<i64>,
}

#[derive(Debug, Clone)]
struct Extract {
    regex: Regex,
    group: Group,
}

#[derive(Debug, Clone)]
enum Group {
    Index(usize),
    Name(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    op: Op,
}

impl Step {
    pub(crate) fn compile(op: &str, fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        let op = match op {
            "upper" => Op::Upper,
            "lower" => Op::Lower,
            "title" => Op::Title,
            "capitalize" => Op::Capitalize,
            "trim" => Op::Trim,
            "replace" => Op::Replace(Pre::new(
                fields,
                &["find", "regex", "case_insensitive"],
                errors,
                matcher,
            )),
            "split" => Op::Split(Pre::new(fields, &["separator", "index"], errors, split)),
            "truncate" => Op::Truncate(Pre::new(fields, &["length"], errors, length)),
            "extract" => Op::Extract(Pre::new(
                fields,
                &["pattern", "group", "case_insensitive"],
                errors,
                extract,
            )),
            "url_encode" => Op::UrlEncode,
            "url_decode" => Op::UrlDecode,
            "slugify" => Op::Slugify,
            "length" => Op::Length,
            _ => Op::Default,
        };
        Step { op }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>) -> Result<Value, String> {
        let input = req_text(values, "input");
        let value = match &self.op {
            Op::Upper => json!(input.to_uppercase()),
            Op::Lower => json!(input.to_lowercase()),
            Op::Title => json!(title(&input)),
            Op::Capitalize => json!(capitalize(&input)),
            Op::Trim => json!(input.trim()),
            Op::Replace(pre) => {
                let with = req_text(values, "replace_with");
                let replaced = match &*pre.get(values, matcher)? {
                    Matcher::Literal(find) => input.replace(find.as_str(), &with),
                    Matcher::Regex { regex, expand: true } => regex.replace_all(&input, with.as_str()).into_owned(),
                    Matcher::Regex { regex, .. } => regex.replace_all(&input, regex::NoExpand(&with)).into_owned(),
                };
                json!(replaced)
            }
            Op::Split(pre) => {
                let split = pre.get(values, split)?;
                let parts: Vec<&str> = input.split(split.separator.as_str()).collect();
                let count = parts.len();
                let value = match split.index {
                    None => json!(parts),
                    Some(i) => pick(&parts, i).map_or(Value::Null, |p| json!(p)),
                };
                return Ok(json!({"value": value, "count": count}));
            }
            Op::Truncate(pre) => {
                let max = *pre.get(values, length)?;
                let suffix = match values.get("suffix") {
                    None => "…".to_string(),
                    Some(v) => text(v),
                };
                json!(truncate(&input, max, &suffix))
            }
            Op::Extract(pre) => {
                let extract = pre.get(values, extract)?;
                let group = |caps: &regex::Captures<'_>| {
                    let m = match &extract.group {
                        Group::Index(i) => caps.get(*i),
                        Group::Name(name) => caps.name(name),
                    };
                    m.map_or(Value::Null, |m| json!(m.as_str()))
                };
                let matches: Vec<Value> = extract.regex.captures_iter(&input).map(|c| group(&c)).collect();
                let first = matches.first().cloned().unwrap_or(Value::Null);
                return Ok(json!({"value": first, "matches": matches}));
            }
            Op::UrlEncode => json!(url_encode(&input)),
            Op::UrlDecode => json!(url_decode(&input)),
            Op::Slugify => json!(hookflow_expr::slugify(&input)),
            Op::Length => json!(input.chars().count()),
            Op::Default => {
                if input.trim().is_empty() {
                    values.get("fallback").cloned().unwrap_or(Value::Null)
                } else {
                    json!(input)
                }
            }
        };
        Ok(json!({ "value": value }))
    }
}

/// An element by position; a negative index counts from the end (-1 is the last).
pub(crate) fn pick<T>(items: &[T], index: i64) -> Option<&T> {
    let i = if index < 0 {
        items.len().checked_sub(index.unsigned_abs() as usize)?
    } else {
        index as usize
    };
    items.get(i)
}

fn build_regex(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    hookflow_expr::build_regex(pattern, case_insensitive)
        .map_err(|e| format!("{} is not a valid regex: {e}", show_text(pattern)))
}

fn matcher(values: &Map<String, Value>) -> Built<Matcher> {
    let find = opt_text(values, "find").ok_or(("find", "is empty".to_string()))?;
    let is_regex = opt_bool(values, "regex", false)?;
    let case_insensitive = opt_bool(values, "case_insensitive", false)?;
    if !is_regex && !case_insensitive {
        return Ok(Matcher::Literal(find));
    }
    let pattern = if is_regex { find } else { regex::escape(&find) };
    let regex = build_regex(&pattern, case_insensitive).map_err(|m| ("find", m))?;
    Ok(Matcher::Regex {
        regex,
        expand: is_regex,
    })
}

fn split(values: &Map<String, Value>) -> Built<Split> {
    let separator = opt_text(values, "separator").unwrap_or_else(|| ",".to_string());
    let index = match opt(values, "index") {
        None => None,
        Some(v) => Some(integer(v).map_err(|m| ("index", m))?),
    };
    Ok(Split { separator, index })
}

fn length(values: &Map<String, Value>) -> Built<usize> {
    let v = opt(values, "length").ok_or(("length", "is empty".to_string()))?;
    match integer(v) {
        Ok(n) if n >= 0 => Ok(n as usize),
        _ => Err((
            "length",
            format!("{} must be a whole number of characters, 0 or more", show(v)),
        )),
    }
}

fn extract(values: &Map<String, Value>) -> Built<Extract> {
    let pattern = opt_text(values, "pattern").ok_or(("pattern", "is empty".to_string()))?;
    let case_insensitive = opt_bool(values, "case_insensitive", false)?;
    let regex = build_regex(&pattern, case_insensitive).map_err(|m| ("pattern", m))?;
    let groups = regex.captures_len() - 1;
    let group = match opt(values, "group") {
        None => Group::Index(0),
        Some(v) => match integer(v) {
            Ok(i) if i >= 0 && i as usize <= groups => Group::Index(i as usize),
            Ok(_) => {
                return Err((
                    "group",
                    format!("{} is not a group of the pattern (it has {groups})", show(v)),
                ))
            }
            Err(_) => {
                let name = text(v);
                if !regex.capture_names().any(|n| n == Some(name.as_str())) {
                    return Err((
                        "group",
                        format!("{} is not a named group of the pattern", show_text(&name)),
                    ));
                }
                Group::Name(name)
            }
        },
    };
    Ok(Extract { regex, group })
}

/// Every word starts with a capital, the rest is lowercase. Words are
/// separated by whitespace and hyphens; leading punctuation is skipped
/// (`"(hi) jean-luc"` is `"(Hi) Jean-Luc"`).
fn title(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut at_start = true;
    for c in input.chars() {
        if c.is_whitespace() || c == '-' {
            at_start = true;
            out.push(c);
        } else if at_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
            at_start = false;
        } else if at_start {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The first character in uppercase, the rest unchanged.
fn capitalize(input: &str) -> String {
    let mut chars = input.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// At most `max` characters, suffix included; see the crate documentation.
fn truncate(input: &str, max: usize, suffix: &str) -> String {
    if input.chars().count() <= max {
        return input.to_string();
    }
    let suffix_len = suffix.chars().count();
    if suffix_len >= max {
        return input.chars().take(max).collect();
    }
    let kept: String = input.chars().take(max - suffix_len).collect();
    format!("{}{suffix}", kept.trim_end())
}

/// Percent-encodes every byte but the RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), like JavaScript's `encodeURIComponent`.
fn url_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (a space); a `%` not followed by two hex digits
/// stays as it is; invalid UTF-8 becomes U+FFFD.
pub(crate) fn url_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && hex_pair(bytes[i + 1], bytes[i + 2]).is_some() => {
                out.extend(hex_pair(bytes[i + 1], bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}
