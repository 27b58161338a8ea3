//! XML to JSON, with the convention described in the crate documentation.

use quick_xml::encoding::EncodingError;
use quick_xml::escape::EscapeError;
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

use crate::{ParseError, MAX_DEPTH, MAX_XML_ATTRIBUTES};

/// An element being read.
struct Element {
    name: String,
    /// `@attribute` keys, then child elements, in document order.
    fields: Map<String, Value>,
    has_children: bool,
    text: String,
}

impl Element {
    /// Reads the start tag that begins at byte `at` (its `<`); `invalid` makes the error of a
    /// position and message.
    fn new(
        start: &BytesStart<'_>,
        at: u64,
        invalid: impl Fn((u64, String)) -> ParseError,
    ) -> Result<Element, ParseError> {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let mut fields = Map::new();
        // quick-xml's own duplicate check compares each attribute with every one before it,
        // which is quadratic in their number; the map finds a repeat at once.
        let mut attributes = start.attributes();
        attributes.with_checks(false);
        for attribute in attributes {
            let attribute = attribute.map_err(|error| invalid(attribute_error(&error, at)))?;
            if fields.len() == MAX_XML_ATTRIBUTES {
                let message = format!("the element `<{name}>` has more than {MAX_XML_ATTRIBUTES} attributes");
                return Err(ParseError::over_limit(message));
            }
            let key = attribute.key.as_ref();
            let value = attribute
                .unescape_value()
                .map_err(|error| invalid(text_error(error, at)))?;
            let field = format!("@{}", String::from_utf8_lossy(key));
            if fields.insert(field, Value::String(value.into_owned())).is_some() {
                // Positions in a tag are relative to the byte after `<`, as quick-xml's are.
                let position = at + 1 + offset_in(start, key) as u64;
                return Err(invalid((position, "attribute given twice".to_owned())));
            }
        }
        Ok(Element {
            name,
            fields,
            has_children: false,
            text: String::new(),
        })
    }

    fn into_value(self) -> Value {
        let blank = self.text.trim().is_empty();
        if self.fields.is_empty() {
            return Value::String(if blank { String::new() } else { self.text });
        }
        let mut fields = self.fields;
        if !blank {
            let text = match self.has_children {
                true => self.text.trim().to_owned(),
                false => self.text,
            };
            fields.insert("#text".to_owned(), Value::String(text));
        }
        Value::Object(fields)
    }
}

/// Converts a document; the result is an object with the root element's name as its only key.
pub(crate) fn parse(body: &[u8]) -> Result<Value, ParseError> {
    let (offset, body) = match body.strip_prefix(crate::BOM) {
        Some(rest) => (crate::BOM.len() as u64, rest),
        None => (0, body),
    };
    let mut reader = Reader::from_reader(body);
    let error = |(position, message): (u64, String)| ParseError::InvalidXml {
        position: position + offset,
        message,
    };
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        // Where the event starts: each markup and each text run is its own event.
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| error((reader.error_position(), e.to_string())))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.is_empty() && root.is_some() {
                    return Err(error((at, "a second root element".to_owned())));
                }
                // Each element below the root is at least one more level of the JSON, so a
                // document this deep is over the limit whatever else it holds; stopping here
                // keeps the stack of open elements short.
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::too_deep());
                }
                stack.push(Element::new(start, at, error)?);
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root);
                }
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| error(text_error(e, at)))?;
                match stack.last_mut() {
                    Some(element) => element.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(error((at, "text outside the root element".into()))),
                }
            }
            Event::CData(data) => {
                let data = data.decode().map_err(|e| error(text_error(e.into(), at)))?;
                match stack.last_mut() {
                    Some(element) => element.text.push_str(&data),
                    None => return Err(error((at, "CDATA outside the root element".into()))),
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    let end = reader.buffer_position();
    if let Some(open) = stack.last() {
        let message = format!("unexpected end of document: `<{}>` is not closed", open.name);
        return Err(error((end, message)));
    }
    root.ok_or_else(|| error((end, "no root element".to_owned())))
}

/// Where `part`, a slice of `whole`, starts in it.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Position and message of an error in the attributes of the tag starting at `tag` (its `<`).
fn attribute_error(error: &AttrError, tag: u64) -> (u64, String) {
    // Positions are relative to the byte after `<`.
    let (relative, message) = match error {
        AttrError::ExpectedEq(at) => (at, "attribute name not followed by `=`"),
        AttrError::ExpectedValue(at) => (at, "`=` not followed by an attribute value"),
        AttrError::UnquotedValue(at) => (at, "attribute value not enclosed in quotes"),
        AttrError::ExpectedQuote(at, _) => (at, "attribute value without its closing quote"),
        AttrError::Duplicated(at, _) => (at, "attribute given twice"),
    };
    (tag + 1 + *relative as u64, message.to_owned())
}

/// Position and message of an error decoding the text (or attribute value) starting at `start`.
fn text_error(error: quick_xml::Error, start: u64) -> (u64, String) {
    match error {
        quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(range, name)) => {
            // The range is the entity name, after its `&`.
            let at = start + range.start.saturating_sub(1) as u64;
            (at, format!("unknown entity `&{name};`"))
        }
        quick_xml::Error::Escape(EscapeError::UnterminatedEntity(range)) => {
            let message = "`&` that does not start an entity (write `&amp;`)".to_owned();
            (start + range.start as u64, message)
        }
        quick_xml::Error::Encoding(EncodingError::Utf8(utf8)) => {
            (start + utf8.valid_up_to() as u64, "invalid UTF-8".to_owned())
        }
        other => (start, other.to_string()),
    }
}

/// Ends the innermost open element and puts it into its parent, or makes it the root.
fn close(stack: &mut Vec<Element>, root: &mut Option<Value>) {
    let Some(element) = stack.pop() else {
        // quick-xml reports unmatched end tags as errors before we get here.
        return;
    };
    let name = element.name.clone();
    let value = element.into_value();
    match stack.last_mut() {
        Some(parent) => {
            parent.has_children = true;
            crate::insert_repeated(&mut parent.fields, name, value);
        }
        None => {
            let mut map = Map::new();
            map.insert(name, value);
            *root = Some(Value::Object(map));
        }
    }
}
