//! Finds the filter and test names a template uses, so that a misspelt
//! filter is a compile error (at config save) rather than a runtime error
//! on every event. Also refuses the tags that load other templates.
//!
//! minijinja resolves filters only when it runs them; this is a small lexer
//! over the tags of a template that already parsed.

use crate::filters::{BUILTIN_FILTERS, BUILTIN_TESTS, CUSTOM_FILTERS};
use crate::template::{position, TemplateError};

/// Tags that load other templates; a connector's templates have none to load.
const UNSUPPORTED_TAGS: &[&str] = &["extends", "from", "import", "include"];

#[derive(Clone, Copy, PartialEq)]
enum Prev {
    Start,
    Pipe,
    Dot,
    Is,
    IsNot,
    FilterTag,
    Other,
}

/// Fails on the first unknown filter or test.
pub(crate) fn check_names(source: &str) -> Result<(), TemplateError> {
    let bytes = source.as_bytes();
    let mut i = 0;
    while let Some(found) = source[i..].find('{') {
        let open = i + found;
        let Some(&kind) = bytes.get(open + 1) else {
            break;
        };
        i = open + 2;
        match kind {
            b'#' => i = source[i..].find("#}").map_or(source.len(), |e| i + e + 2),
            b'{' => i = scan_tag(source, i, "}}")?,
            b'%' => {
                let body = source[i..].trim_start_matches(['-', '+']).trim_start();
                if body.starts_with("raw") && !body[3..].starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric()) {
                    let end = source[i..].find("endraw").map_or(source.len(), |e| i + e);
                    i = source[end..].find("%}").map_or(source.len(), |e| end + e + 2);
                } else {
                    i = scan_tag(source, i, "%}")?;
                }
            }
            _ => i = open + 1,
        }
    }
    Ok(())
}

/// Scans one tag from `start` to its closing marker; returns the offset after it.
fn scan_tag(source: &str, start: usize, close: &str) -> Result<usize, TemplateError> {
    let bytes = source.as_bytes();
    let mut prev = Prev::Start;
    let mut depth = 0usize;
    let mut j = start;
    while j < bytes.len() {
        if depth == 0 && bytes[j..].starts_with(close.as_bytes()) {
            return Ok(j + close.len());
        }
        let c = bytes[j];
        match c {
            b'"' | b'\'' => {
                j += 1;
                while j < bytes.len() && bytes[j] != c {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                j += 1;
                prev = Prev::Other;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let ident_start = j;
                while j < bytes.len() && (bytes[j] == b'_' || bytes[j].is_ascii_alphanumeric()) {
                    j += 1;
                }
                let ident = &source[ident_start..j];
                prev = match prev {
                    Prev::Pipe | Prev::FilterTag => {
                        check(source, ident_start, ident, "filter", &[BUILTIN_FILTERS, CUSTOM_FILTERS])?;
                        Prev::Other
                    }
                    Prev::Is if ident == "not" => Prev::IsNot,
                    Prev::Is | Prev::IsNot => {
                        check(source, ident_start, ident, "test", &[BUILTIN_TESTS])?;
                        Prev::Other
                    }
                    Prev::Start if close == "%}" && ident == "filter" => Prev::FilterTag,
                    Prev::Start if close == "%}" && UNSUPPORTED_TAGS.contains(&ident) => {
                        let (line, column) = position(source, ident_start);
                        return Err(TemplateError {
                            message: format!("`{ident}` is not supported: a template stands alone"),
                            line,
                            column,
                        });
                    }
                    Prev::Dot => Prev::Other,
                    _ if ident == "is" => Prev::Is,
                    _ => Prev::Other,
                };
            }
            b'|' => {
                prev = Prev::Pipe;
                j += 1;
            }
            b'.' => {
                prev = Prev::Dot;
                j += 1;
            }
            b'{' | b'(' | b'[' => {
                depth += usize::from(c == b'{');
                prev = Prev::Other;
                j += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                prev = Prev::Other;
                j += 1;
            }
            c if c.is_ascii_whitespace() => j += 1,
            b'-' | b'+' if prev == Prev::Start => j += 1,
            _ => {
                prev = Prev::Other;
                j += 1;
            }
        }
    }
    Ok(bytes.len())
}

fn check(source: &str, at: usize, name: &str, what: &str, known: &[&[&str]]) -> Result<(), TemplateError> {
    if known.iter().any(|list| list.contains(&name)) {
        return Ok(());
    }
    let (line, column) = position(source, at);
    Err(TemplateError {
        message: format!("unknown {what} `{name}`"),
        line,
        column,
    })
}
