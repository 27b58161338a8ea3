//! A small, lenient `multipart/form-data` reader (RFC 7578 and RFC 2046 section 5.1.1).
//!
//! Lenient where real senders differ from the RFC: line endings may be CRLF or bare LF,
//! whitespace may follow a boundary, a part without a blank line after its headers has no
//! content, and the preamble and epilogue are ignored.

use serde_json::{Map, Value};

use crate::{FileMeta, ParseError, MAX_MULTIPART_PARTS, MAX_PART_HEADER_BYTES};

/// Splits a body into fields (text parts and file objects) and file metadata.
pub(crate) fn parse(boundary: &str, body: &[u8]) -> Result<(Map<String, Value>, Vec<FileMeta>), ParseError> {
    if boundary.is_empty() {
        return Err(invalid("the content type has no boundary parameter"));
    }
    // No header can carry one, and the search below relies on it.
    if boundary.contains(['\r', '\n']) {
        return Err(invalid("the boundary has a line break"));
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let mut delimiters = Delimiters::new(body, &delimiter);
    let Some(mut current) = delimiters.next() else {
        return Err(invalid(format!("the boundary `--{boundary}` does not occur")));
    };
    let mut fields = Map::new();
    let mut files = Vec::new();
    let mut index = 0;
    while !current.is_close {
        let start = current.next;
        let Some(end) = delimiters.next() else {
            return Err(invalid(format!("the closing boundary `--{boundary}--` is missing")));
        };
        if index == MAX_MULTIPART_PARTS {
            let message = format!("the body has more than {MAX_MULTIPART_PARTS} parts");
            return Err(ParseError::over_limit(message));
        }
        let part = &body[start..end.content_end.max(start)];
        index += 1;
        read_part(index, part, &mut fields, &mut files)?;
        current = end;
    }
    Ok((fields, files))
}

fn invalid(message: impl Into<String>) -> ParseError {
    ParseError::InvalidMultipart {
        message: message.into(),
    }
}

/// A delimiter line found in the body.
struct Delimiter {
    /// Where the content before it ends (the line break before the delimiter belongs to it).
    content_end: usize,
    /// `--boundary--`: the last one.
    is_close: bool,
    /// Where the next part starts (after the delimiter's line break).
    next: usize,
}

/// The delimiter lines of a body, in order: each `--boundary` at the start of a line that is
/// followed by `--`, or by optional spaces and a line break. Other occurrences are content.
///
/// Only the start of a line can hold one, so only line starts are compared with the delimiter,
/// and a comparison ends at the first byte that differs, at the latest at the line's end (a
/// boundary has no line break). Each byte is looked at a bounded number of times, so the time is
/// linear in the body whatever the boundary's length, and the boundary needs no preparation
/// (a substring searcher's, for a 100 KB boundary, would cost more than the search).
struct Delimiters<'a> {
    body: &'a [u8],
    delimiter: &'a [u8],
    /// Where the next line to look at starts; `None` once every line was.
    line: Option<usize>,
    newlines: memchr::Memchr<'a>,
}

impl<'a> Delimiters<'a> {
    fn new(body: &'a [u8], delimiter: &'a [u8]) -> Delimiters<'a> {
        Delimiters {
            body,
            delimiter,
            line: Some(0),
            newlines: memchr::memchr_iter(b'\n', body),
        }
    }

    /// The delimiter line starting at `at`, if the line is one.
    fn delimiter_at(&self, at: usize) -> Option<Delimiter> {
        let body = self.body;
        if !body[at..].starts_with(self.delimiter) {
            return None;
        }
        let content_end = match at {
            0 => 0,
            _ if at >= 2 && body[at - 2] == b'\r' => at - 2,
            _ => at - 1,
        };
        let mut after = at + self.delimiter.len();
        if body[after..].starts_with(b"--") {
            return Some(Delimiter {
                content_end,
                is_close: true,
                next: body.len(),
            });
        }
        while after < body.len() && (body[after] == b' ' || body[after] == b'\t') {
            after += 1;
        }
        let next = if body[after..].starts_with(b"\r\n") {
            after + 2
        } else if body[after..].starts_with(b"\n") {
            after + 1
        } else {
            return None;
        };
        Some(Delimiter {
            content_end,
            is_close: false,
            next,
        })
    }
}

impl Iterator for Delimiters<'_> {
    type Item = Delimiter;

    fn next(&mut self) -> Option<Delimiter> {
        loop {
            let at = self.line?;
            self.line = self.newlines.next().map(|newline| newline + 1);
            if let Some(delimiter) = self.delimiter_at(at) {
                return Some(delimiter);
            }
        }
    }
}

/// Reads one part (headers, blank line, content) into the fields.
fn read_part(
    index: usize,
    part: &[u8],
    fields: &mut Map<String, Value>,
    files: &mut Vec<FileMeta>,
) -> Result<(), ParseError> {
    let (head, content) = split_head(part);
    if head.len() > MAX_PART_HEADER_BYTES {
        let message = format!("the headers of part {index} are longer than {MAX_PART_HEADER_BYTES} bytes");
        return Err(ParseError::over_limit(message));
    }
    let headers = parse_headers(&String::from_utf8_lossy(head));
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let Some(disposition) = header("content-disposition") else {
        return Err(invalid(format!("part {index} has no Content-Disposition")));
    };
    let params = crate::parse_params(disposition.split_once(';').map_or("", |(_, rest)| rest));
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let Some(name) = param("name") else {
        return Err(invalid(format!("part {index} has no name")));
    };
    let filename = param("filename*")
        .and_then(|value| decode_ext_value(&value))
        .or_else(|| param("filename"));
    let value = match filename {
        None => Value::String(String::from_utf8_lossy(content).into_owned()),
        Some(filename) => {
            let content_type = header("content-type")
                .and_then(|value| value.split(';').next())
                .map(|essence| essence.trim().to_ascii_lowercase())
                .filter(|essence| !essence.is_empty())
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let meta = FileMeta::new(&name, &filename, &content_type, content);
            let value = meta.to_json();
            files.push(meta);
            value
        }
    };
    crate::insert_repeated(fields, name, value);
    Ok(())
}

/// Splits a part at its first empty line. A part that starts with a line break has no headers;
/// a part without an empty line is all headers.
fn split_head(part: &[u8]) -> (&[u8], &[u8]) {
    let mut line_start = 0;
    while line_start < part.len() {
        let rest = &part[line_start..];
        let blank = if rest.starts_with(b"\r\n") {
            Some(2)
        } else if rest.starts_with(b"\n") {
            Some(1)
        } else {
            None
        };
        if let Some(len) = blank {
            return (&part[..line_start], &part[line_start + len..]);
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(newline) => line_start += newline + 1,
            None => break,
        }
    }
    (part, &[])
}

/// Header lines into lowercased names and trimmed values; folded lines are joined.
fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    headers
}

/// Decodes an RFC 8187 value such as `UTF-8''na%C3%AFve.txt`; `None` if it is not one.
fn decode_ext_value(value: &str) -> Option<String> {
    let (charset, rest) = value.split_once('\'')?;
    let (_language, encoded) = rest.split_once('\'')?;
    let bytes = percent_decode(encoded.as_bytes());
    if charset.eq_ignore_ascii_case("iso-8859-1") {
        return Some(bytes.iter().map(|&b| char::from(b)).collect());
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(high), Some(low)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}
