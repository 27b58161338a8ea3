//! Fuzzing that keeps body parsing safe. proptest rather than cargo fuzz: it runs on stable Rust
//! (CI has no nightly) inside the ordinary test binary, and shrinks what it finds.
//!
//! Inputs come two ways: the real provider payloads of `shared/corpus`, mutated (bytes flipped,
//! cut, inserted, duplicated, wrapped in many levels, sent under another content type), and
//! hostile shapes built for each format with random sizes around its limits (nesting, multipart
//! parts, boundaries and part headers, XML attributes, entities and CDATA, form fields and
//! bracket keys, MIME nesting), with invalid UTF-8 sprinkled in.
//!
//! Every input is parsed on a thread with a tokio worker's 2 MiB stack and must come back as a
//! body or an error: never a panic or a stack overflow. A body must nest at most [`MAX_DEPTH`]
//! levels and come back unchanged through serde_json's writer and default reader, as the store
//! reads it. And it must take at most [`SLACK`] times as long as a plain text body of its size:
//! a ratio within one run, so a slow machine or a debug build does not matter (`linear.rs` holds
//! the known worst cases to a much tighter one). `PROPTEST_CASES` sets how many inputs each
//! property tries (256 by default; CI runs 3,000).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use hookflow_payload::{parse_body, parse_query, MAX_DEPTH, MAX_FORM_FIELDS, MAX_MULTIPART_PARTS};
use hookflow_payload::{ParseError, Parsed, MAX_PART_HEADER_BYTES, MAX_XML_ATTRIBUTES};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

/// A tokio worker's stack: what the server parses bodies on.
const WORKER_STACK: usize = 2 << 20;

/// Parses `body` with the query string `query` on a worker-sized stack and checks what comes
/// back; every property goes through it.
fn check(content_type: Option<&str>, body: &[u8], query: &str) -> Result<(), TestCaseError> {
    let (owned_type, owned_body, owned_query) = (content_type.map(str::to_owned), body.to_vec(), query.to_owned());
    let outcome = std::thread::Builder::new()
        .name(format!("parse {} bytes", body.len()))
        .stack_size(WORKER_STACK)
        .spawn(move || verify(owned_type.as_deref(), &owned_body, &owned_query))
        .expect("spawn a parsing thread")
        .join();
    let shown_type = content_type.map(|t| t.chars().take(80).collect::<String>());
    let problem = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(problem)) => problem,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            format!("panicked: {message}")
        }
    };
    Err(TestCaseError::fail(format!(
        "{problem}\ncontent type {shown_type:?}, {} bytes: {:?}",
        body.len(),
        String::from_utf8_lossy(&body[..body.len().min(400)])
    )))
}

/// How many times longer than a plain text body of the same size an input may take to parse.
/// Generous: in a debug build most inputs here take under 100 times as long and the slowest
/// (large emails and forms) a few thousand times, while work quadratic in the size would be
/// far over it for the inputs of tens or hundreds of KB.
const SLACK: f64 = 20_000.0;

/// What [`check`] runs on the parsing thread: the answer is a body or an error, in time; and a
/// body is within the depth limit, survives the store's round trip, and lists its attributes.
fn verify(content_type: Option<&str>, body: &[u8], query: &str) -> Result<(), String> {
    let query = parse_query(query);
    let parse = || {
        let started = Instant::now();
        let result = parse_body(content_type, body, &query);
        (started.elapsed(), result)
    };
    let (took, result) = parse();
    // The content type is input too (a boundary can be 100 KB), so it counts in the size.
    let text = vec![b'x'; body.len() + content_type.map_or(0, str::len)];
    let plain = |runs: usize| {
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                let _ = parse_body(Some("text/plain"), &text, &query);
                started.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let bound = plain(3).mul_f64(SLACK);
    if took > bound {
        // Measure again before blaming the parser: the thread may have waited for a core (tests
        // run in parallel on a shared machine), so each run starts on a fresh time slice.
        let fastest = (0..3)
            .map(|_| {
                std::thread::yield_now();
                parse().0
            })
            .min()
            .unwrap_or(took);
        let bound = plain(5).mul_f64(SLACK);
        if fastest > bound {
            return Err(format!(
                "parsing took {fastest:?}, over {bound:?} ({SLACK} times a plain text body)"
            ));
        }
    }
    same_after_storing(result)
}

/// Checks a parsed body: nested at most [`MAX_DEPTH`] levels, read back the same once stored,
/// and its attributes listed.
fn same_after_storing(result: Result<Parsed, ParseError>) -> Result<(), String> {
    let parsed = match result {
        Ok(parsed) => parsed,
        Err(error) => {
            let (code, message) = (error.code(), error.to_string());
            return match message.is_empty() {
                true => Err(format!("an error ({code}) without a message")),
                false => Ok(()),
            };
        }
    };
    let levels = depth(&parsed.body);
    if levels > MAX_DEPTH {
        return Err(format!("a {} body nested {levels} levels deep", parsed.kind));
    }
    let stored = serde_json::to_string(&parsed.body).map_err(|e| format!("the body does not serialize: {e}"))?;
    let read: Value = serde_json::from_str(&stored).map_err(|e| format!("the stored body cannot be read: {e}"))?;
    if read != parsed.body {
        let shown: String = stored.chars().take(400).collect();
        return Err(format!("the body changes when stored and read: {shown}"));
    }
    let event = serde_json::json!({"event": {"body": parsed.body}}).to_string();
    serde_json::from_str::<Value>(&event).map_err(|e| format!("the event cannot be read: {e}"))?;
    hookflow_payload::attributes("body", &parsed.body, 5);
    Ok(())
}

/// Levels of arrays and objects in `value` (`{"a": [1]}` is 2, a scalar 0), measured with an
/// explicit stack so that any depth can be.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, above)) = stack.pop() {
        let children: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => continue,
        };
        deepest = deepest.max(above + 1);
        stack.extend(children.into_iter().map(|child| (child, above + 1)));
    }
    deepest
}

#[test]
fn depth_counts_levels_of_arrays_and_objects() {
    let depths: Vec<usize> = [
        r#"1"#,
        r#"[]"#,
        r#"{"a": [1]}"#,
        r#"[[], [[{}]], 2]"#,
        r#"{"a": {"b": "c"}, "d": [[[]]]}"#,
    ]
    .iter()
    .map(|json| depth(&serde_json::from_str(json).unwrap()))
    .collect();
    assert_eq!(depths, [0, 1, 2, 4, 4]);
}

// ---------------------------------------------------------------------------------------------
// Content types and invalid UTF-8, shared by every property.

/// Every kind of content type the parser tells apart, spelled a few ways.
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(""),
    Some("application/json"),
    Some("Application/JSON; charset=utf-8"),
    Some("application/vnd.api+json"),
    Some("text/json"),
    Some("application/xml"),
    Some("text/xml"),
    Some("application/atom+xml"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=xYzZY"),
    Some("multipart/form-data; boundary=\"b\""),
    Some("multipart/form-data"),
    Some("text/plain"),
    Some("text/plain; charset=iso-8859-1"),
    Some("text/html"),
    Some("message/rfc822"),
    Some("application/octet-stream"),
    Some("image/png"),
    Some("nonsense"),
];

/// The content type a hostile body is sent with: mostly its own, sometimes any other.
fn content_type(own: String) -> impl Strategy<Value = Option<String>> {
    let other = prop::sample::select(CONTENT_TYPES).prop_map(|t| t.map(str::to_owned));
    prop_oneof![3 => Just(Some(own)), 1 => other]
}

/// Byte sequences that are not UTF-8 (and a NUL, which is but troubles C-minded parsers).
const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xc0\xaf",
    b"\xf0\x9f\x98",
    b"\xfe\xff",
    b"\0",
];

/// Where to put invalid UTF-8 into a body: usually nowhere, so valid bodies are tried too.
fn sprinkles() -> impl Strategy<Value = Vec<(Index, &'static [u8])>> {
    let one = (any::<Index>(), prop::sample::select(INVALID_UTF8));
    prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(one, 1..4)]
}

fn sprinkle(mut body: Vec<u8>, sprinkles: &[(Index, &[u8])]) -> Vec<u8> {
    for (at, bytes) in sprinkles {
        let at = at.index(body.len() + 1);
        body.splice(at..at, bytes.iter().copied());
    }
    body
}

/// A count just under, at or just over `limit`.
fn around(limit: usize) -> impl Strategy<Value = usize> {
    (limit - 3)..=(limit + 3)
}

/// Levels of nesting: a few, around [`MAX_DEPTH`] (most often), around serde_json's 128, or
/// thousands.
fn levels() -> impl Strategy<Value = usize> {
    prop_oneof![1 => 0usize..8, 4 => around(MAX_DEPTH), 1 => 124usize..=132, 1 => 1000usize..20_000]
}

// ---------------------------------------------------------------------------------------------
// 1. Real payloads, mutated.

/// A body of the corpus and the content type it is sent with.
struct Seed {
    content_type: String,
    bytes: Vec<u8>,
}

/// The corpus payloads, and the raw emails inside SendGrid's multipart ones as
/// `message/rfc822` bodies; empty (with a note) when `shared/corpus` is not beside the clone.
fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
        let Ok(index) = std::fs::read_to_string(dir.join("index.json")) else {
            println!("corpus not found at {}: mutated payloads skipped", dir.display());
            return Vec::new();
        };
        let index: Value = serde_json::from_str(&index).unwrap();
        let mut seeds = Vec::new();
        for entry in index["entries"].as_array().unwrap() {
            let content_type = entry["content_type"].as_str().unwrap().to_owned();
            let bytes = std::fs::read(dir.join(entry["path"].as_str().unwrap())).unwrap();
            let parsed = parse_body(Some(&content_type), &bytes, &Default::default());
            if let Some(Value::String(email)) = parsed.ok().and_then(|parsed| parsed.body.get("email").cloned()) {
                seeds.push(Seed {
                    content_type: "message/rfc822".to_owned(),
                    bytes: email.as_bytes().to_vec(),
                });
            }
            seeds.push(Seed { content_type, bytes });
        }
        seeds
    })
}

/// One change to a body.
#[derive(Debug, Clone)]
enum Mutation {
    /// XORs the byte at a place with a non-zero mask.
    Flip(Index, u8),
    /// Cuts the body at a place.
    Truncate(Index),
    /// Inserts bytes at a place.
    Insert(Index, Vec<u8>),
    /// Copies up to `len` bytes from one place to another.
    Duplicate { from: Index, len: usize, to: Index },
    /// Puts the body inside `levels` levels of a wrapper.
    Wrap(Wrapper, usize),
    /// Sends the body with another content type.
    ContentType(Option<&'static str>),
}

#[derive(Debug, Clone, Copy)]
enum Wrapper {
    Array,
    Object,
    Element,
}

/// Pieces that mean something to one of the parsers.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&#",
    b"&amp;",
    b"&#x0;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"--xYzZY",
    b"--xYzZY--",
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"%",
    b"%C3",
    b"%zz",
    b"+",
    b"=",
    b"&a[b][",
    b"\xef\xbb\xbf",
    b"\"\\ud800\"",
    b"\\u",
    b"1e999",
    b"-0",
    b"123456789012345678901234567890",
    b"0.30000000000000004",
    b"Content-Disposition: form-data; name=\"x\"; filename=\"",
    b"Content-Type: multipart/mixed; boundary=\"",
    b"=?UTF-8?B?",
    b"?=",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..16),
        prop::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
    ];
    let wrapper = prop::sample::select(&[Wrapper::Array, Wrapper::Object, Wrapper::Element][..]);
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<Index>(), bytes).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        1 => (any::<Index>(), 1usize..4096, any::<Index>())
            .prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        1 => (wrapper, levels()).prop_map(|(wrapper, levels)| Mutation::Wrap(wrapper, levels)),
        1 => prop::sample::select(CONTENT_TYPES).prop_map(Mutation::ContentType),
    ]
}

fn mutate(mut body: Vec<u8>, content_type: &mut Option<String>, mutation: &Mutation) -> Vec<u8> {
    let len = body.len();
    match mutation {
        Mutation::Flip(at, mask) if len > 0 => body[at.index(len)] ^= mask,
        Mutation::Flip(..) => {}
        Mutation::Truncate(at) => body.truncate(at.index(len + 1)),
        Mutation::Insert(at, bytes) => {
            let at = at.index(len + 1);
            body.splice(at..at, bytes.iter().copied());
        }
        Mutation::Duplicate { from, len: most, to } if len > 0 => {
            let from = from.index(len);
            let slice = body[from..len.min(from + most)].to_vec();
            let to = to.index(len + 1);
            body.splice(to..to, slice);
        }
        Mutation::Duplicate { .. } => {}
        Mutation::Wrap(wrapper, levels) => {
            let (open, close): (&[u8], &[u8]) = match wrapper {
                Wrapper::Array => (b"[", b"]"),
                Wrapper::Object => (b"{\"a\":", b"}"),
                Wrapper::Element => (b"<a>", b"</a>"),
            };
            let mut wrapped = open.repeat(*levels);
            wrapped.append(&mut body);
            wrapped.extend(close.repeat(*levels));
            body = wrapped;
        }
        Mutation::ContentType(other) => *content_type = other.map(str::to_owned),
    }
    body
}

proptest! {
    #[test]
    fn mutated_corpus_payloads_parse_or_fail_cleanly(
        seed in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        if seeds.is_empty() {
            return Ok(());
        }
        let seed = seed.get(seeds);
        let mut content_type = Some(seed.content_type.clone());
        let body = mutations
            .iter()
            .fold(seed.bytes.clone(), |body, mutation| mutate(body, &mut content_type, mutation));
        check(content_type.as_deref(), &body, "")?;
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Hostile shapes, one format at a time.

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
