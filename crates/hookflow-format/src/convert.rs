//! The `convert` kind: base64, hex, text encodings, CSV to JSON and back.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::fields::{opt_bool, opt_char, opt_text, req_text, show, show_text, Built, Fields, Pre};
use crate::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Base64Encode,
    Base64Decode,
    HexEncode,
    HexDecode,
    CsvToJson,
    JsonToCsv,
    TextEncoding,
}

/// How text becomes bytes and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    /// ISO-8859-1: one byte per character, U+0000 to U+00FF.
    Latin1,
}

#[derive(Debug, Clone)]
struct Options {
    encoding: Encoding,
    url_safe: bool,
    delimiter: char,
    header: bool,
    from: Encoding,
    to: Encoding,
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    op: Op,
    options: Pre<Options>,
}

impl Step {
    pub(crate) fn compile(op: &str, fields: &Fields, errors: &mut Vec<ConfigError>) -> Step {
        let op = match op {
            "base64_encode" => Op::Base64Encode,
            "base64_decode" => Op::Base64Decode,
            "hex_encode" => Op::HexEncode,
            "hex_decode" => Op::HexDecode,
            "csv_to_json" => Op::CsvToJson,
            "json_to_csv" => Op::JsonToCsv,
            _ => Op::TextEncoding,
        };
        Step {
            op,
            options: Pre::new(
                fields,
                &["encoding", "url_safe", "delimiter", "header", "from", "to"],
                errors,
                options,
            ),
        }
    }

    pub(crate) fn run(&self, values: &Map<String, Value>) -> Result<Value, String> {
        let o = self.options.get(values, options)?;
        let input = || req_text(values, "input");
        let value = match self.op {
            Op::Base64Encode => {
                let bytes = to_bytes(&input(), o.encoding)?;
                if o.url_safe {
                    json!(URL_SAFE_NO_PAD.encode(bytes))
                } else {
                    json!(STANDARD.encode(bytes))
                }
            }
            Op::Base64Decode => json!(from_bytes(base64_decode(&input())?, o.encoding)?),
            Op::HexEncode => json!(hex::encode(to_bytes(&input(), o.encoding)?)),
            Op::HexDecode => {
                let text: String = input().chars().filter(|c| !c.is_whitespace()).collect();
                let digits = text.strip_prefix("0x").unwrap_or(&text);
                let bytes = hex::decode(digits).map_err(|e| format!("input {} is not hex: {e}", show_text(&text)))?;
                json!(from_bytes(bytes, o.encoding)?)
            }
            Op::CsvToJson => {
                let rows = crate::csv::parse(&input(), o.delimiter).map_err(|m| format!("input {m}"))?;
                crate::csv::to_json(rows, o.header)
            }
            Op::JsonToCsv => {
                let given = values.get("input").unwrap_or(&Value::Null);
                let parsed;
                let data = match given {
                    Value::String(s) if s.trim().is_empty() => return Ok(json!({"value": ""})),
                    Value::String(s) => {
                        parsed = serde_json::from_str::<Value>(s)
                            .map_err(|e| format!("input {} is not JSON: {e}", show(given)))?;
                        &parsed
                    }
                    Value::Null => return Ok(json!({"value": ""})),
                    other => other,
                };
                json!(crate::csv::from_json(data, o.delimiter, o.header).map_err(|m| format!("input {m}"))?)
            }
            Op::TextEncoding => {
                let bytes = base64_decode(&input())?;
                let text = from_bytes(bytes, o.from)
                    .map_err(|_| "the decoded bytes are not UTF-8 text (from is utf8)".to_string())?;
                json!(STANDARD.encode(to_bytes(&text, o.to)?))
            }
        };
        Ok(json!({ "value": value }))
    }
}

fn options(values: &Map<String, Value>) -> Built<Options> {
    Ok(Options {
        encoding: encoding(values, "encoding")?,
        url_safe: opt_bool(values, "url_safe", false)?,
        delimiter: opt_char(values, "delimiter", ',')?,
        header: opt_bool(values, "header", true)?,
        from: encoding(values, "from")?,
        to: encoding(values, "to")?,
    })
}

/// `utf8` (the default) or `latin1`.
fn encoding(values: &Map<String, Value>, name: &'static str) -> Built<Encoding> {
    match opt_text(values, name).map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(Encoding::Utf8),
        Some(s) => match s.as_str() {
            "utf8" | "utf-8" => Ok(Encoding::Utf8),
            "latin1" | "latin-1" | "iso-8859-1" => Ok(Encoding::Latin1),
            _ => Err((
                name,
                format!("{} is not an encoding; encodings: utf8, latin1", show_text(&s)),
            )),
        },
    }
}

/// Standard or URL-safe base64, padded or not; whitespace is ignored.
fn base64_decode(input: &str) -> Result<Vec<u8>, String> {
    let text: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .map_err(|e| format!("input {} is not base64: {e}", show_text(input.trim())))
}

fn to_bytes(text: &str, encoding: Encoding) -> Result<Vec<u8>, String> {
    match encoding {
        Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
        Encoding::Latin1 => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| format!("the text has `{c}`, which latin1 cannot encode")))
            .collect(),
    }
}

fn from_bytes(bytes: Vec<u8>, encoding: Encoding) -> Result<String, String> {
    match encoding {
        Encoding::Utf8 => String::from_utf8(bytes).map_err(|_| {
            "the decoded bytes are not UTF-8 text (set encoding to latin1 to read them as ISO-8859-1)".to_string()
        }),
        Encoding::Latin1 => Ok(bytes.into_iter().map(char::from).collect()),
    }
}
