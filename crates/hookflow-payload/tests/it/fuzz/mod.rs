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

use hookflow_payload::{parse_body, parse_query, ParseError, Parsed, MAX_DEPTH};
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

mod shapes;
