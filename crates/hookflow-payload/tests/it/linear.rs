//! Parsing time grows linearly with the body: a multipart body 10 times larger with a 1,000 times
//! longer boundary, or one XML element with 1,000 times more attributes, takes at most 20 times
//! longer than the small body's time scaled by the sizes. Ratios within one run, not
//! absolute times, so a slow machine or a debug build does not matter; the quadratic parsers
//! these replaced were hundreds of times over.

use std::time::{Duration, Instant};

use crate::utils::no_query;

/// How much slower than linear the large body may be.
const SLACK: f64 = 20.0;

/// The fastest of `runs` parses; answers whether the last one parsed.
fn fastest(runs: usize, content_type: &str, body: &[u8]) -> (Duration, bool) {
    let mut best = Duration::MAX;
    let mut parsed = false;
    for _ in 0..runs {
        let started = Instant::now();
        parsed = hookflow_payload::parse_body(Some(content_type), body, &no_query()).is_ok();
        best = best.min(started.elapsed());
    }
    (best, parsed)
}

/// Asserts that `large` parses within [`SLACK`] times the time of `small` scaled by their
/// sizes; answers whether `large` parsed.
fn check(small: (&str, &[u8]), large: (&str, &[u8])) -> bool {
    let (small_time, _) = fastest(5, small.0, small.1);
    let (large_time, parsed) = fastest(2, large.0, large.1);
    let scale = large.1.len() as f64 / small.1.len() as f64;
    let bound = small_time.mul_f64(scale * SLACK);
    assert!(
        large_time <= bound,
        "{large_time:?} for {} bytes, over {bound:?} ({small_time:?} for {} bytes, scaled, times {SLACK})",
        large.1.len(),
        small.1.len()
    );
    parsed
}

/// A body of about `size` bytes in one text field, whose boundary is `boundary` dashes. The
/// content is lines of one dash more than the boundary: every position in them starts a long
/// near-match of the delimiter, the worst case of a naive search.
fn multipart(boundary: usize, size: usize) -> (String, Vec<u8>) {
    let delimiter = format!("--{}", "-".repeat(boundary));
    let line = format!("{}\n", "-".repeat(boundary + 1));
    let mut body = format!("{delimiter}\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n").into_bytes();
    while body.len() < size {
        body.extend_from_slice(line.as_bytes());
    }
    body.extend_from_slice(format!("x\r\n{delimiter}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={}", "-".repeat(boundary));
    (content_type, body)
}

#[test]
fn a_long_multipart_boundary_parses_in_linear_time() {
    let small = multipart(100, 500_000);
    let large = multipart(100_000, 5_000_000);
    let parsed = check((&small.0, &small.1), (&large.0, &large.1));
    assert!(parsed, "the large body is a valid multipart body");
}

/// An element with `count` attributes.
fn xml_attributes(count: usize) -> Vec<u8> {
    let attributes: String = (0..count).map(|i| format!(" a{i}=\"{i}\"")).collect();
    format!("<e{attributes}/>").into_bytes()
}

#[test]
fn many_xml_attributes_parse_in_linear_time() {
    let (small, large) = (xml_attributes(100), xml_attributes(100_000));
    let parsed = check(("application/xml", &small), ("application/xml", &large));
    assert!(!parsed, "100,000 attributes are over the limit");
}
