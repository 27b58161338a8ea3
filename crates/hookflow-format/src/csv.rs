//! CSV (RFC 4180) both ways, shared by `data_parser` and `convert`.

use serde_json::{Map, Value};

use crate::fields::text;

/// Splits CSV text into records of fields.
///
/// Records end with CRLF, LF or CR; a quoted field may hold delimiters, line
/// breaks and doubled quotes (`""`). Lenient where RFC 4180 is strict: a
/// quote inside an unquoted field is kept as a character, text after a
/// closing quote is appended to the field, and blank lines are skipped. A
/// leading byte order mark is ignored. A quoted field that is never closed
/// is an error.
pub(crate) fn parse(input: &str, delimiter: char) -> Result<Vec<Vec<String>>, String> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    // Whether the current field was quoted (so an empty quoted field counts).
    let mut quoted = false;
    let mut in_quotes = false;
    let mut line = 1;
    let mut quote_line = 1;
    let mut chars = input.chars().peekable();
    let mut end_row = |row: &mut Vec<String>, field: &mut String, quoted: &mut bool| {
        let blank = row.is_empty() && field.is_empty() && !*quoted;
        row.push(std::mem::take(field));
        *quoted = false;
        let row = std::mem::take(row);
        if !blank {
            rows.push(row);
        }
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
                quote_line = line;
            }
            c if c == delimiter => {
                row.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                line += 1;
                end_row(&mut row, &mut field, &mut quoted);
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(format!(
            "is not valid CSV: the quoted field starting on line {quote_line} is not closed"
        ));
    }
    end_row(&mut row, &mut field, &mut quoted);
    Ok(rows)
}

/// Records as JSON: with a header, objects keyed by the first record's
/// fields (a missing field is null, a field beyond the header is keyed
/// `column_N`, 1-based, and so is an empty header name; of repeated names
/// the last wins); without, arrays of strings.
pub(crate) fn to_json(rows: Vec<Vec<String>>, header: bool) -> Value {
    if !header {
        return Value::Array(
            rows.into_iter()
                .map(|r| r.into_iter().map(Value::String).collect())
                .collect(),
        );
    }
    let mut rows = rows.into_iter();
    let Some(names) = rows.next() else {
        return Value::Array(Vec::new());
    };
    let key = |i: usize| match names.get(i) {
        Some(name) if !name.is_empty() => name.clone(),
        _ => format!("column_{}", i + 1),
    };
    rows.map(|row| {
        let mut obj = Map::new();
        for i in 0..names.len().max(row.len()) {
            let value = row.get(i).cloned().map_or(Value::Null, Value::String);
            obj.insert(key(i), value);
        }
        Value::Object(obj)
    })
    .collect()
}

/// CSV text of records: fields holding the delimiter, a quote or a line break
/// are quoted (quotes doubled); records are separated by `\n`, with no line
/// break after the last.
pub(crate) fn write(rows: &[Vec<String>], delimiter: char) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (j, field) in row.iter().enumerate() {
            if j > 0 {
                out.push(delimiter);
            }
            if field.contains([delimiter, '"', '\r', '\n']) {
                out.push('"');
                out.push_str(&field.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(field);
            }
        }
    }
    out
}

/// An array of objects as CSV: the header is the union of their keys in
/// first-seen order; null and missing values are empty, strings as they
/// are, anything else compact JSON. The message of an error reads after "input".
pub(crate) fn from_json(value: &Value, delimiter: char, header: bool) -> Result<String, String> {
    let Value::Array(items) = value else {
        return Err(format!("{} is not an array of objects", crate::fields::show(value)));
    };
    let mut names: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(format!("element {i} is {}, not an object", crate::fields::show(item)));
        };
        for key in obj.keys() {
            if !names.contains(&key.as_str()) {
                names.push(key);
            }
        }
    }
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(items.len() + 1);
    if header {
        rows.push(names.iter().map(|n| n.to_string()).collect());
    }
    for item in items {
        rows.push(
            names
                .iter()
                .map(|n| item.get(*n).map(text).unwrap_or_default())
                .collect(),
        );
    }
    Ok(write(&rows, delimiter))
}
