//! Text helpers that templates and the `formatter` steps share, so that a slug or a regex means
//! the same in both.

use regex::{Regex, RegexBuilder};

/// The largest compiled regex: patterns come from documents anyone in the workspace can write.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Lowercase letters and digits, every other run of characters one dash, no dash at either end:
/// `"Hello, World!"` is `hello-world`.
pub fn slugify(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Builds a regex of at most 1 MiB compiled; the error is the last line of the regex crate's
/// report ("unclosed group"), which otherwise repeats the pattern with a caret.
pub fn build_regex(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let report = e.to_string();
            let last = report.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&report);
            let last = last.trim();
            last.strip_prefix("error:").unwrap_or(last).trim().to_string()
        })
}
