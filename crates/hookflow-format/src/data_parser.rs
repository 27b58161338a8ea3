//! The `data_parser` kind: JSON, CSV, XML, key=value and form text to JSON,
//! optionally picking one value by path.

use serde_json::{json, Map, Value};

use crate::fields::{opt_bool, opt_char, opt_text, req_text, Built, Fields, Pre};
use crate::path::{self, Seg};
use crate::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xml,
    Kv,
    Form,
}

#[derive(Debug, Clone)]
struct Options {
    delimiter: char,
    header: bool,
    /// `None`: pairs are split at `&` and line breaks.
    separator: Option<String>,
    decode: bool,
    path: Option<Vec<Seg>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    format: Format,
    options: Pre<Options>,
}

impl Step {
    pub(crate) fn compile(format: &str, fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        let format = match format {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "xml" => Format::Xml,
            "kv" => Format::Kv,
            _ => Format::Form,
        };
        Step {
            format,
            options: Pre::new(
                fields,
                &["delimiter", "header", "separator", "decode", "path"],
                errors,
                options,
            ),
        }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>) -> Result<Value, String> {
        let options = self.options.get(values, options)?;
        let input = req_text(values, "input");
        if input.trim().is_empty() {
            return Ok(json!({ "value": null }));
        }
        let parsed = parse(self.format, &input, &options).map_err(|m| format!("input {m}"))?;
        let value = match &options.path {
            None => parsed,
            Some(segs) => path::pick(&parsed, segs).cloned().unwrap_or(Value::Null),
        };
        Ok(json!({ "value": value }))
    }
}

fn options(values: &Map<String, Value>) -> Built<Options> {
    Ok(Options {
        delimiter: opt_char(values, "delimiter", ',')?,
        header: opt_bool(values, "header", true)?,
        separator: opt_text(values, "separator"),
        decode: opt_bool(values, "decode", false)?,
        path: match opt_text(values, "path") {
            None => None,
            Some(p) => Some(path::parse(&p).map_err(|m| ("path", m))?),
        },
    })
}

fn parse(format: Format, input: &str, options: &Options) -> Result<Value, String> {
    match format {
        Format::Json => {
            serde_json::from_str(input.trim_start_matches('\u{feff}')).map_err(|e| format!("is not valid JSON: {e}"))
        }
        Format::Csv => Ok(crate::csv::to_json(
            crate::csv::parse(input, options.delimiter)?,
            options.header,
        )),
        Format::Xml => hookflow_payload::parse_body(Some("application/xml"), input.as_bytes(), &Map::new())
            .map(|parsed| parsed.body)
            .map_err(|e| format!("is not valid XML: {e}")),
        Format::Kv => Ok(Value::Object(kv(input, options))),
        Format::Form => Ok(Value::Object(hookflow_payload::parse_query(input.trim()))),
    }
}

/// `key=value` pairs split at `separator`, or at `&` and line breaks. Keys
/// and values are trimmed; a piece without `=` is a key with an empty value;
/// blank pieces are skipped; a repeated key collects its values in an array.
fn kv(input: &str, options: &Options) -> Map<String, Value> {
    let decode = |s: &str| {
        let s = s.trim();
        if options.decode {
            crate::text::url_decode(s)
        } else {
            s.to_string()
        }
    };
    let pieces: Vec<&str> = match &options.separator {
        Some(sep) => input.split(sep.as_str()).collect(),
        None => input.split(['&', '\n', '\r']).collect(),
    };
    let mut map = Map::new();
    for piece in pieces {
        if piece.trim().is_empty() {
            continue;
        }
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let (key, value) = (decode(key), Value::String(decode(value)));
        match map.get_mut(&key) {
            None => {
                map.insert(key, value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(key, Value::Array(vec![first, value]));
            }
        }
    }
    map
}
