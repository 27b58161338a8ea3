//! Query strings and `application/x-www-form-urlencoded` bodies.

use serde_json::{Map, Value};

/// Decodes a raw query string (without the `?`; a leading `?` is skipped) into the event's
/// `custom_variables`: `+` and `%XX` decoded, a repeated key an array of its values in order.
pub fn parse_query(raw_query: &str) -> Map<String, Value> {
    let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    parse_pairs(raw_query.as_bytes())
}

/// Decodes `a=1&b=2` pairs. Keys are kept literally; invalid UTF-8 becomes U+FFFD.
pub(crate) fn parse_pairs(input: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(input) {
        crate::insert_repeated(&mut map, key.into_owned(), Value::String(value.into_owned()));
    }
    map
}
