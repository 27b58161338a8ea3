//! The limits every body is held to: nesting depth, multipart parts and their headers, XML
//! attributes, form fields. Bodies here are long, so `check` shows only the kind or the error.

use expect_test::{expect, Expect};
use hookflow_payload::{MAX_DEPTH, MAX_FORM_FIELDS, MAX_MULTIPART_PARTS, MAX_PART_HEADER_BYTES, MAX_XML_ATTRIBUTES};

use crate::utils::no_query;

fn check(content_type: Option<&str>, body: impl AsRef<[u8]>, expect: Expect) {
    let shown = match hookflow_payload::parse_body(content_type, body.as_ref(), &no_query()) {
        Ok(parsed) => format!("{}\n", parsed.kind),
        Err(error) => format!("error ({}): {error}\n", error.code()),
    };
    expect.assert_eq(&shown);
}

/// `levels` arrays inside each other around a number.
fn json_nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// `elements` elements inside each other around a text.
fn xml_nested(elements: usize) -> String {
    format!("{}x{}", "<a>".repeat(elements), "</a>".repeat(elements))
}

/// Elements nested `pairs` times as `<p><c>...</c><c/></p>`: each pair is three levels of
/// JSON (the `p` object, the array of both `c`, the inner `c` object), two of them elements.
fn xml_nested_arrays(pairs: usize) -> String {
    format!("{}x{}", "<p><c>".repeat(pairs), "</c><c/></p>".repeat(pairs))
}

#[test]
fn json_is_nested_at_most_max_depth_levels() {
    assert_eq!(MAX_DEPTH, 64);
    check(Some("application/json"), json_nested(64), expect!["json\n"]);
    check(
        Some("application/json"),
        json_nested(65),
        expect![[r#"
        error (over_limit): the body is nested deeper than 64 levels
    "#]],
    );
    // The probe's body: within serde_json's own limit, one level short of being unreadable once
    // stored inside the event.
    check(
        Some("application/json"),
        json_nested(127),
        expect![[r#"
        error (over_limit): the body is nested deeper than 64 levels
    "#]],
    );
    check(
        Some("application/vnd.api+json"),
        format!(r#"{{"data": {}}}"#, json_nested(64)),
        expect![[r#"
        error (over_limit): the body is nested deeper than 64 levels
    "#]],
    );
}

#[test]
fn xml_counts_the_levels_of_its_json_shape() {
    // The root's key is the first level; 64 elements with text inside are 64 levels.
    check(Some("application/xml"), xml_nested(64), expect!["xml\n"]);
    check(
        Some("application/xml"),
        xml_nested(65),
        expect![[r#"
        error (over_limit): the body is nested deeper than 64 levels
    "#]],
    );
    check(
        Some("application/xml"),
        xml_nested(128),
        expect![[r#"
        error (over_limit): the body is nested deeper than 64 levels
    "#]],
    );
    // An attribute makes the innermost element an object: one more level.
    check(
        Some("application/xml"),
        format!("{}<a k=\"v\"/>{}", "<a>".repeat(63), "</a>".repeat(63)),
        expect![[r#"
        error (over_limit): the body is nested deeper than 64 levels
    "#]],
    );
    // Repeated children are arrays, levels of their own: 44 elements deep, 66 levels.
    check(Some("text/xml"), xml_nested_arrays(21), expect!["xml\n"]);
    check(
        Some("text/xml"),
        xml_nested_arrays(22),
        expect![[r#"
        error (over_limit): the body is nested deeper than 64 levels
    "#]],
    );
}

#[test]
fn json_too_deep_in_text_stays_text() {
    check(Some("text/plain"), json_nested(64), expect!["json\n"]);
    check(Some("text/plain"), json_nested(65), expect!["text\n"]);
    check(None, json_nested(100), expect!["text\n"]);
}

/// A multipart body of `parts` text fields, each with `header_pad` bytes of extra header.
fn multipart(parts: usize, header_pad: usize) -> String {
    let mut body = String::new();
    for i in 0..parts {
        body.push_str(&format!(
            "--b\r\nContent-Disposition: form-data; name=\"f{i}\"\r\nX-Pad: {}\r\n\r\nv\r\n",
            "p".repeat(header_pad)
        ));
    }
    body + "--b--\r\n"
}

#[test]
fn multipart_parts_and_their_headers_are_limited() {
    let content_type = Some("multipart/form-data; boundary=b");
    check(content_type, multipart(MAX_MULTIPART_PARTS, 0), expect!["multipart\n"]);
    check(
        content_type,
        multipart(MAX_MULTIPART_PARTS + 1, 0),
        expect![[r#"
        error (over_limit): the body has more than 1000 parts
    "#]],
    );
    // The headers of a part are its header lines with their line breaks.
    let fixed = "Content-Disposition: form-data; name=\"f0\"\r\nX-Pad: \r\n".len();
    check(
        content_type,
        multipart(2, MAX_PART_HEADER_BYTES - fixed),
        expect!["multipart\n"],
    );
    check(
        content_type,
        multipart(2, MAX_PART_HEADER_BYTES - fixed + 1),
        expect![[r#"
        error (over_limit): the headers of part 1 are longer than 16384 bytes
    "#]],
    );
}

/// An element with `count` attributes.
fn xml_attributes(count: usize) -> String {
    let attributes: String = (0..count).map(|i| format!(" a{i}=\"{i}\"")).collect();
    format!("<e{attributes}/>")
}

#[test]
fn xml_attributes_are_limited_per_element() {
    check(
        Some("application/xml"),
        xml_attributes(MAX_XML_ATTRIBUTES),
        expect!["xml\n"],
    );
    check(
        Some("application/xml"),
        xml_attributes(MAX_XML_ATTRIBUTES + 1),
        expect![[r#"
        error (over_limit): the element `<e>` has more than 1000 attributes
    "#]],
    );
    // Found without quick-xml's check, still where the repeat is.
    check(
        Some("application/xml"),
        r#"<e a="1" b="2" a="3"/>"#,
        expect![[r#"
        error (invalid_xml): invalid XML at byte 15: attribute given twice
    "#]],
    );
}

#[test]
fn form_fields_are_limited() {
    let content_type = Some("application/x-www-form-urlencoded");
    let form = |fields: usize| vec!["a=1"; fields].join("&");
    check(content_type, form(MAX_FORM_FIELDS), expect!["form\n"]);
    check(
        content_type,
        form(MAX_FORM_FIELDS + 1),
        expect![[r#"
        error (over_limit): the form has more than 10000 fields
    "#]],
    );
}
