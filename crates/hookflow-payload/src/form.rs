//! Query strings and `application/x-www-form-urlencoded` bodies.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::{ParseError, MAX_FORM_FIELDS};

/// Decodes a raw query string (without the `?`; a leading `?` is skipped) into the event's
/// `custom_variables`: `+` and `%XX` decoded, a repeated key an array of its values in order.
pub fn parse_query(raw_query: &str) -> Map<String, Value> {
    let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    collect(form_urlencoded::parse(raw_query.as_bytes()))
}

/// Decodes a form body like a query string, refusing more than [`MAX_FORM_FIELDS`] pairs: a
/// body of `&a&a&a...` would otherwise become an array many times the body's size in memory.
pub(crate) fn parse_form(body: &[u8]) -> Result<Map<String, Value>, ParseError> {
    let mut pairs = form_urlencoded::parse(body);
    let map = collect(pairs.by_ref().take(MAX_FORM_FIELDS));
    if pairs.next().is_some() {
        let message = format!("the form has more than {MAX_FORM_FIELDS} fields");
        return Err(ParseError::over_limit(message));
    }
    Ok(map)
}

/// Decoded `a=1&b=2` pairs into a map. Keys are kept literally; invalid UTF-8 has become U+FFFD.
fn collect<'a>(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in pairs {
        crate::insert_repeated(&mut map, key.into_owned(), Value::String(value.into_owned()));
    }
    map
}
