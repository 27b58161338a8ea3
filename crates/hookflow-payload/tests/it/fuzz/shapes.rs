//! Hostile shapes, one format at a time, with random sizes around each limit (see `mod.rs`).

use hookflow_payload::{MAX_FORM_FIELDS, MAX_MULTIPART_PARTS};
use hookflow_payload::{MAX_PART_HEADER_BYTES, MAX_XML_ATTRIBUTES};
use proptest::prelude::*;

use super::{around, check, content_type, levels, sprinkle, sprinkles, CONTENT_TYPES};

/// Openers of JSON nesting, each with its closer.
const JSON_OPENERS: &[(&str, &str)] = &[
    ("[", "]"),
    ("{\"k\":", "}"),
    ("[1,", "]"),
    ("{\"a\":1,\"b\":", "}"),
    (" [ ", " ] "),
    ("{\"\\u0000\\ud83d\\ude00\":", "}"),
    ("{\"k\":0,\"k\":", "}"),
];

/// Innermost values, numbers that test the store's round trip among them.
fn json_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "1",
                "\"x\"",
                "null",
                "true",
                "[]",
                "{}",
                "-0",
                "-0.0",
                "1e400",
                "-1e-400",
                "18446744073709551615",
                "18446744073709551616",
                "-9223372036854775808",
                "-9223372036854775809",
                "0.1",
                "\"\\ud83d\\ude00\"",
                "\"\\ud800\"",
                "\"\\u0000\"",
                "\"\\uDFFF\\uD800\"",
                "",
                "\"",
                "[",
                "{",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<f64>().prop_map(|f| format!("{f}")),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        "-?[0-9]{1,30}(\\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?",
        prop::collection::vec("-?[0-9]{1,20}(\\.[0-9]{1,20})?(e-?[0-9]{1,3})?", 1..20)
            .prop_map(|n| format!("[{}]", n.join(","))),
    ]
}

fn hostile_json() -> impl Strategy<Value = (String, Vec<u8>)> {
    let openers = prop::collection::vec(prop::sample::select(JSON_OPENERS), 1..6);
    // How the closers end: exactly, one short, one too many, or the outermost of the wrong kind.
    let ending = 0u8..4;
    let types = prop::sample::select(&["application/json", "application/cloudevents+json", "text/plain", ""][..]);
    (levels(), openers, json_leaf(), ending, types).prop_map(|(levels, openers, leaf, ending, types)| {
        let mut body = String::new();
        let mut closers = Vec::with_capacity(levels);
        for (open, close) in openers.iter().cycle().take(levels) {
            body.push_str(open);
            closers.push(*close);
        }
        body.push_str(&leaf);
        match ending {
            1 => {
                closers.pop();
            }
            2 => closers.push("]"),
            3 if !closers.is_empty() => closers[0] = if closers[0].contains(']') { "}" } else { "]" },
            _ => {}
        }
        body.extend(closers.iter().rev().copied());
        (types.to_owned(), body.into_bytes())
    })
}

proptest! {
    #[test]
    fn hostile_json_parses_or_fails_cleanly(
        (own, body) in hostile_json(),
        sprinkles in sprinkles(),
        other in prop::sample::select(CONTENT_TYPES),
        swap in prop::bool::weighted(0.2),
    ) {
        let body = sprinkle(body, &sprinkles);
        let own = Some(own.as_str()).filter(|own| !own.is_empty());
        check(if swap { other } else { own }, &body, "")?;
    }
}

/// Text inside elements: entities good, bad and declared only in a DOCTYPE, CDATA, comments.
const XML_TEXT: &[&str] = &[
    "x",
    " ",
    "\n  ",
    "&amp;",
    "&lt;&gt;&quot;&apos;",
    "&#65;",
    "&#x1F600;",
    "&#0;",
    "&#xD800;",
    "&#99999999999;",
    "&#x;",
    "&nope;",
    "&lol2;",
    "&x;",
    "&",
    "&amp",
    "<![CDATA[a<b>&c]]>",
    "<![CDATA[]]>",
    "<![CDATA[",
    "]]>",
    "<!-- c -->",
    "<!--",
    "<?pi x?>",
    "<",
    ">",
];

/// What may come before the root: declarations, DOCTYPEs that declare entities, a BOM.
const XML_PROLOGS: &[&str] = &[
    "",
    "<?xml version=\"1.0\"?>\n",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
    "\u{feff}",
    "<!DOCTYPE a SYSTEM \"file:///etc/passwd\">",
    "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>",
    "<!DOCTYPE a [<!ENTITY x SYSTEM \"http://127.0.0.1/\">]>",
    "<!DOCTYPE",
    "<!-- before -->",
];

/// One level of XML nesting.
#[derive(Debug, Clone)]
struct XmlLevel {
    name: &'static str,
    attributes: usize,
    text: &'static str,
    /// An empty sibling of the same name after the element, so the parent holds an array.
    repeated: bool,
}

fn xml_level() -> impl Strategy<Value = XmlLevel> {
    let names = prop::sample::select(&["a", "soap:Envelope", "x-y.z", "_", "é", "a:b:c", "1", ""][..]);
    (
        names,
        0usize..3,
        prop::sample::select(XML_TEXT),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(name, attributes, text, repeated)| XmlLevel {
            name,
            attributes,
            text,
            repeated,
        })
}

/// Elements nested `levels` deep, the levels' shapes cycled from a few random ones.
fn xml_nesting() -> impl Strategy<Value = String> {
    let shapes = prop::collection::vec(xml_level(), 1..5);
    (
        levels(),
        shapes,
        prop::collection::vec(prop::sample::select(XML_TEXT), 0..4),
    )
        .prop_map(|(levels, shapes, inner)| {
            let mut body = String::new();
            let chosen: Vec<&XmlLevel> = shapes.iter().cycle().take(levels.max(1)).collect();
            for level in &chosen {
                body.push('<');
                body.push_str(level.name);
                for i in 0..level.attributes {
                    body.push_str(&format!(" at{i}=\"{}\"", level.text.replace('"', "&quot;")));
                }
                body.push('>');
                body.push_str(level.text);
            }
            body.push_str(&inner.concat());
            for level in chosen.iter().rev() {
                body.push_str(&format!("</{}>", level.name));
                if level.repeated {
                    body.push_str(&format!("<{}/>", level.name));
                }
            }
            body
        })
}

/// One element with about [`MAX_XML_ATTRIBUTES`] attributes (or a few), named from a pool
/// that may be small enough to repeat names.
fn xml_attributes() -> impl Strategy<Value = String> {
    let count = prop_oneof![
        0usize..8,
        around(MAX_XML_ATTRIBUTES),
        2 * MAX_XML_ATTRIBUTES..=2 * MAX_XML_ATTRIBUTES + 3
    ];
    let pool = prop_oneof![1usize..4, Just(usize::MAX)];
    let values = prop::collection::vec(prop::sample::select(XML_TEXT), 1..4);
    // How values are written: double quotes, single quotes, unquoted, or no `=` at all.
    let quoting = prop::collection::vec(0u8..4, 1..4);
    let children = prop::collection::vec(prop::sample::select(XML_TEXT), 0..3);
    (count, pool, values, quoting, children).prop_map(|(count, pool, values, quoting, children)| {
        let mut body = String::from("<e");
        for i in 0..count {
            let name = format!("a{}", i % pool);
            let value = values[i % values.len()].replace(['"', '\''], "");
            body.push_str(&match quoting[i % quoting.len()] {
                0 | 1 if i % 7 != 3 => format!(" {name}=\"{value}\""),
                0 | 1 => format!(" {name}='{value}'"),
                2 => format!(" {name}={value}"),
                _ => format!(" {name}"),
            });
        }
        body.push('>');
        body.push_str(&children.concat());
        body.push_str("<f x=\"1\" x=\"2\"/></e>");
        body
    })
}

proptest! {
    #[test]
    fn hostile_xml_parses_or_fails_cleanly(
        prolog in prop::sample::select(XML_PROLOGS),
        document in prop_oneof![xml_nesting(), xml_attributes()],
        epilog in prop::sample::select(&["", "\n", "<b/>", "x", "<!-- after -->", "</a>"][..]),
        sprinkles in sprinkles(),
        content_type in content_type("application/xml".to_owned()),
        xml_type in prop::sample::select(&["application/xml", "text/xml", "image/svg+xml"][..]),
    ) {
        let body = sprinkle(format!("{prolog}{document}{epilog}").into_bytes(), &sprinkles);
        let content_type = content_type.map(|t| if t == "application/xml" { xml_type.to_owned() } else { t });
        check(content_type.as_deref(), &body, "")?;
    }
}

/// A boundary: RFC 2046's characters (1 to 70), any printable ASCII, or thousands of characters.
fn boundary() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9A-Za-z'()+_,./:=?-]{1,70}",
        1 => "[ -~]{1,70}",
        1 => (1000usize..100_000, prop::sample::select(&["-", "a", "=_", "- "][..]))
            .prop_map(|(n, s)| s.repeat(n / s.len())),
    ]
}

/// One kind of part; a body cycles through a few of them.
#[derive(Debug, Clone)]
struct PartShape {
    /// The `Content-Disposition` line (with `{i}` for the part's index), or none.
    disposition: Option<&'static str>,
    content_type: Option<&'static str>,
    /// For the first part of this shape only: pad the headers to the limit plus this (may be
    /// negative), so that only a few parts are that large.
    header_limit_delta: Option<i64>,
    crlf: bool,
    content: Vec<u8>,
    /// A line inside the content that looks like a delimiter but is not, or is.
    decoy: &'static str,
}

fn part_shape() -> impl Strategy<Value = PartShape> {
    let disposition = prop::option::weighted(
        0.95,
        prop::sample::select(
            &[
                "form-data; name=\"f{i}\"",
                "form-data; name=\"same\"",
                "form-data; name=f{i}; filename=\"a{i}.png\"",
                "form-data; name=\"a[b][c][]\"; filename=\"\"",
                "form-data; name=\"x\"; filename*=UTF-8''na%C3%AFve%FF.txt",
                "form-data; name=\"x\"; filename*=x'y'%ZZ",
                "form-data; name=\"x\"; filename=\"C:\\dir\\a.txt\"",
                "form-data; filename=\"nameless\"",
                "form-data; name=\"\\\"; name=\"",
                "form-data; name",
                "",
            ][..],
        ),
    );
    let part_type = prop::option::of(prop::sample::select(
        &["image/png", "TEXT/Plain; charset=x", ";", ""][..],
    ));
    let delta = prop::option::weighted(0.3, -3i64..=3);
    let decoy = prop::sample::select(&["", "--{b}x", "--{b} ", "--{b}--x", "\r\n--{b}", "--{b}\t\t"][..]);
    (
        disposition,
        part_type,
        delta,
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..48),
        decoy,
    )
        .prop_map(
            |(disposition, content_type, header_limit_delta, crlf, content, decoy)| PartShape {
                disposition,
                content_type,
                header_limit_delta,
                crlf,
                content,
                decoy,
            },
        )
}

/// A multipart body of `parts` parts of the given shapes and its content type.
fn multipart_body(
    boundary: &str,
    quoted: bool,
    parts: usize,
    shapes: &[PartShape],
    closing: &str,
) -> (String, Vec<u8>) {
    let content_type = match quoted {
        true => format!(
            "multipart/form-data; boundary=\"{}\"",
            boundary.replace('\\', "\\\\").replace('"', "\\\"")
        ),
        false => format!("Multipart/Form-Data; charset=utf-8; boundary={boundary}"),
    };
    let mut body = b"preamble\r\n".to_vec();
    for i in 0..parts {
        let shape = &shapes[i % shapes.len()];
        let eol = if shape.crlf { "\r\n" } else { "\n" };
        body.extend_from_slice(format!("--{boundary}{eol}").as_bytes());
        let mut head = String::new();
        if let Some(disposition) = shape.disposition {
            head.push_str(&format!(
                "Content-Disposition: {}{eol}",
                disposition.replace("{i}", &i.to_string())
            ));
        }
        if let Some(part_type) = shape.content_type {
            head.push_str(&format!("Content-Type: {part_type}{eol}"));
        }
        if let Some(delta) = shape.header_limit_delta.filter(|_| i < shapes.len()) {
            let fixed = head.len() + "X-Pad: ".len() + eol.len();
            let pad = (MAX_PART_HEADER_BYTES as i64 + delta - fixed as i64).max(0) as usize;
            head.push_str(&format!("X-Pad: {}{eol}", "p".repeat(pad)));
        }
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(eol.as_bytes());
        body.extend_from_slice(&shape.content);
        if !shape.decoy.is_empty() {
            body.extend_from_slice(format!("{eol}{}", shape.decoy.replace("{b}", boundary)).as_bytes());
        }
        body.extend_from_slice(eol.as_bytes());
    }
    body.extend_from_slice(closing.replace("{b}", boundary).as_bytes());
    (content_type, body)
}

fn hostile_multipart() -> impl Strategy<Value = (String, Vec<u8>)> {
    let closing = prop::sample::select(
        &[
            "--{b}--\r\nepilogue",
            "--{b}--",
            "--{b}-",
            "--{b}",
            "",
            "--{b}--\n--{b}\n",
        ][..],
    );
    let shapes = prop::collection::vec(part_shape(), 1..4);
    (
        boundary(),
        any::<bool>(),
        shapes,
        closing,
        prop_oneof![0usize..6, around(MAX_MULTIPART_PARTS)],
    )
        .prop_map(|(boundary, quoted, shapes, closing, parts)| {
            // A long boundary is repeated in every part: keep such bodies to a few parts.
            let parts = if boundary.len() > 100 { parts % 6 } else { parts };
            multipart_body(&boundary, quoted, parts, &shapes, closing)
        })
}

proptest! {
    #[test]
    fn hostile_multipart_parses_or_fails_cleanly(
        (own, body) in hostile_multipart(),
        sprinkles in sprinkles(),
        other in prop::sample::select(CONTENT_TYPES),
        swap in prop::bool::weighted(0.1),
    ) {
        let body = sprinkle(body, &sprinkles);
        check(if swap { other } else { Some(own.as_str()) }, &body, "")?;
    }
}

/// Pieces of form keys and values: bracket keys, percent-encoding garbage, separators.
const FORM_PIECES: &[&str] = &[
    "a",
    "[b]",
    "[]",
    "[",
    "]",
    "[%5B]",
    "%5B%5D",
    "%",
    "%Z",
    "%zz",
    "%C3",
    "%C3%A9",
    "%FF",
    "%00",
    "%ED%A0%80",
    "+",
    "=",
    "==",
    "&",
    ";",
    "é",
    "\\u0000",
    "[0]",
    "[-1]",
    "[99999999999999999999]",
];

fn hostile_form() -> impl Strategy<Value = Vec<u8>> {
    let count = prop_oneof![0usize..20, around(MAX_FORM_FIELDS)];
    let brackets = prop_oneof![0usize..4, 60usize..70, 1000usize..5000];
    let piece = prop::sample::select(FORM_PIECES);
    let fields = prop::collection::vec(
        (
            prop::collection::vec(piece.clone(), 0..4),
            brackets,
            prop::collection::vec(piece, 0..4),
        ),
        1..4,
    );
    let separator = prop::sample::select(&["&", "&&", ";", "&amp;"][..]);
    (count, fields, separator).prop_map(|(count, fields, separator)| {
        let mut body = String::new();
        for i in 0..count {
            let (key, brackets, value) = &fields[i % fields.len()];
            if i > 0 {
                body.push_str(separator);
            }
            body.push_str(&key.concat());
            // Only the first field of a shape is deep, so many fields stay short.
            if i < fields.len() {
                body.push_str(&"[b]".repeat(*brackets));
            }
            body.push('=');
            body.push_str(&value.concat());
        }
        body.into_bytes()
    })
}

proptest! {
    #[test]
    fn hostile_forms_parse_or_fail_cleanly(
        body in hostile_form(),
        sprinkles in sprinkles(),
        content_type in content_type("application/x-www-form-urlencoded".to_owned()),
        as_query in prop::bool::weighted(0.2),
    ) {
        let body = sprinkle(body, &sprinkles);
        // The same decoding serves the query string, which becomes the body of an empty request.
        match as_query {
            true => check(content_type.as_deref(), b"", &String::from_utf8_lossy(&body))?,
            false => check(content_type.as_deref(), &body, "")?,
        }
    }
}

/// Header lines of an email, good and bad.
const EMAIL_HEADERS: &[&str] = &[
    "From: \"Ann\" <ann@example.com>",
    "From: <>",
    "From: a@b, , <@>, \"unterminated",
    "To: undisclosed-recipients:;",
    "To: Team: a@b.c, (comment (nested)) d@e.f;",
    "Cc: =?UTF-8?B?garbage?= <x@y>",
    "Subject: =?UTF-8?B?Q2Fmw6k=?= =?UTF-8?Q?=ZZ=?=",
    "Subject: =?x?Q?=?=?=?=",
    "Subject: folded",
    " continued",
    "\tcontinued again",
    "Date: Thu, 32 Foo 99999 99:99:99 +9999",
    "Date: Wed, 1 May 2024 10:00:00 +0200",
    "Message-ID: <<<>>>",
    "Message-ID: <a@b>",
    "MIME-Version: 1.0",
    "Content-Transfer-Encoding: base64",
    "Content-Transfer-Encoding: quoted-printable",
    "Content-Type: text/plain; charset=\"unknown-8bit\"",
    "Content-Type: text/html; charset=iso-2022-jp",
    "Content-Disposition: attachment; filename*=UTF-8''%FF%FE.bin",
    "X-Long: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "no colon here",
    ": empty name",
];

/// How a level of MIME nesting is opened, and closed (`{i}` is the level).
const MIME_LEVELS: &[(&str, &str)] = &[
    (
        "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n",
        "--b{i}--\r\n",
    ),
    (
        "Content-Type: multipart/alternative; boundary=b{i}\n\n--b{i}\n",
        "--b{i}--\n",
    ),
    (
        "Content-Type: multipart/mixed; boundary=\"same\"\r\n\r\n--same\r\n",
        "--same--\r\n",
    ),
    (
        "Content-Type: message/rfc822\r\n\r\nFrom: nested@example.com\r\nSubject: level {i}\r\n",
        "",
    ),
    (
        "Content-Type: multipart/digest; boundary=\"d{i}\"\r\n\r\npreamble\r\n--d{i}\r\n",
        "--d{i}--\r\nepilogue\r\n",
    ),
    ("Content-Type: multipart/mixed\r\n\r\n--\r\n", "----\r\n"),
];

/// Leaf contents of an email.
const EMAIL_LEAVES: &[&str] = &[
    "Content-Type: text/plain\r\n\r\nHello\r\n",
    "Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>=E2=82=AC=ZZ=\r\n",
    "Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=*&^%$#@!==\r\n",
    "Content-Type: image/png\r\nContent-Disposition: attachment\r\n\r\n\u{89}PNG\r\n",
    "",
];

fn hostile_email() -> impl Strategy<Value = Vec<u8>> {
    let headers = prop::collection::vec(prop::sample::select(EMAIL_HEADERS), 0..12);
    let depth = prop_oneof![0usize..4, 60usize..70, 500usize..3000];
    let openers = prop::collection::vec(prop::sample::select(MIME_LEVELS), 1..4);
    let leaf = prop::sample::select(EMAIL_LEAVES);
    // How the levels end: every closing delimiter, none, or every other one.
    let closing = 0u8..3;
    (headers, depth, openers, leaf, closing, any::<bool>()).prop_map(|(headers, depth, openers, leaf, closing, lf)| {
        let mut body = String::new();
        for header in headers {
            body.push_str(header);
            body.push_str("\r\n");
        }
        let levels: Vec<(&str, &str)> = openers.iter().cycle().take(depth).copied().collect();
        for (i, (open, _)) in levels.iter().enumerate() {
            body.push_str(&open.replace("{i}", &i.to_string()));
        }
        body.push_str(leaf);
        for (i, (_, close)) in levels.iter().enumerate().rev() {
            if closing == 0 || (closing == 2 && i % 2 == 0) {
                body.push_str(&close.replace("{i}", &i.to_string()));
            }
        }
        if lf {
            body = body.replace("\r\n", "\n");
        }
        body.into_bytes()
    })
}

proptest! {
    #[test]
    fn hostile_email_parses_or_fails_cleanly(
        body in hostile_email(),
        sprinkles in sprinkles(),
        content_type in content_type("message/rfc822".to_owned()),
    ) {
        let body = sprinkle(body, &sprinkles);
        check(content_type.as_deref(), &body, "")?;
    }
}
