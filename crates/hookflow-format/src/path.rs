//! Paths that pick a value out of parsed data: `items[0].sku`, `["smtp-id"]`, `rows[-1]`.

use serde_json::Value;

use crate::fields::show_text;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(i64),
}

/// Parses a path: names joined by dots, `[n]` indexes (negative from the end)
/// and `["key"]` or `['key']` for keys with other characters. A name of
/// digits also indexes an array (`items.0.sku`). The message of an error
/// reads after the field name.
pub(crate) fn parse(path: &str) -> Result<Vec<Seg>, String> {
    let bad = |why: &str| format!("{} is not a valid path: {why}", show_text(path));
    let chars: Vec<char> = path.trim().chars().collect();
    let mut segs = Vec::new();
    let mut i = 0;
    let mut expect_name = true;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                if expect_name && !segs.is_empty() {
                    return Err(bad("two dots in a row"));
                }
                i += 1;
                expect_name = true;
                if i == chars.len() {
                    return Err(bad("it ends with a dot"));
                }
            }
            '[' => {
                let (seg, next) = bracket(&chars, i + 1)
                    .ok_or_else(|| bad("brackets hold an index like [0] or a quoted key like [\"a-b\"]"))?;
                segs.push(seg);
                i = next;
                expect_name = false;
            }
            _ => {
                if !expect_name {
                    return Err(bad("a name must follow a dot"));
                }
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                segs.push(Seg::Key(name.trim().to_string()));
                expect_name = false;
            }
        }
    }
    Ok(segs)
}

/// The segment in brackets starting at `at` (after the `[`) and the position after the `]`.
fn bracket(chars: &[char], at: usize) -> Option<(Seg, usize)> {
    let skip_spaces = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        i
    };
    let mut i = skip_spaces(at);
    let seg = match *chars.get(i)? {
        quote @ ('"' | '\'') => {
            let start = i;
            i += 1;
            while *chars.get(i)? != quote {
                i += if chars[i] == '\\' && quote == '"' { 2 } else { 1 };
            }
            let body: String = chars[start + 1..i].iter().collect();
            i += 1;
            if quote == '"' {
                Seg::Key(serde_json::from_str(&format!("\"{body}\"")).ok()?)
            } else {
                Seg::Key(body)
            }
        }
        _ => {
            let start = i;
            while chars.get(i).is_some_and(|c| *c != ']') {
                i += 1;
            }
            let inner: String = chars[start..i].iter().collect();
            Seg::Index(inner.trim().parse().ok()?)
        }
    };
    i = skip_spaces(i);
    (*chars.get(i)? == ']').then_some((seg, i + 1))
}

/// The value at `path`, if there is one.
pub(crate) fn pick<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut at = value;
    for seg in path {
        at = match (seg, at) {
            (Seg::Key(key), Value::Object(map)) => map.get(key)?,
            (Seg::Key(key), Value::Array(items)) => items.get(key.parse::<usize>().ok()?)?,
            (Seg::Index(i), Value::Array(items)) => crate::text::pick(items, *i)?,
            (Seg::Index(i), Value::Object(map)) => map.get(&i.to_string())?,
            _ => return None,
        };
    }
    Some(at)
}
