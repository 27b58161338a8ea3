//! Arbitrary bodies never panic: every content type either parses or returns an error.

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=b"),
    Some("application/xml"),
    Some("message/rfc822"),
    Some("text/plain"),
    Some("application/octet-stream"),
];

/// Pieces that matter to the parsers, glued together at random.
const PIECES: &[&[u8]] = &[
    b"--b",
    b"--b--",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"Content-Disposition: form-data; name=",
    b"\"x\"",
    b"; filename=\"f\"",
    b"filename*=UTF-8''%C3",
    b"Content-Type: text/html",
    b"<a>",
    b"</a>",
    b"<a x=\"1\"/>",
    b"&amp;",
    b"&",
    b"<![CDATA[",
    b"]]>",
    b"<?xml?>",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"k\":",
    b"1",
    b"=",
    b"%",
    b"%zz",
    b"+",
    b"\xff",
    b"\xef\xbb\xbf",
    b"From: a@b.c",
    b"Subject: =?UTF-8?B?",
    b"MIME-Version: 1.0",
    b"boundary=\"b\"",
    b"\0",
];

#[test]
fn random_bodies_never_panic() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut body = Vec::new();
        for _ in 0..next() % 40 {
            body.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let content_type = CONTENT_TYPES[(next() % CONTENT_TYPES.len() as u64) as usize];
        let query = hookflow_payload::parse_query(&String::from_utf8_lossy(&body));
        if let Ok(parsed) = hookflow_payload::parse_body(content_type, &body, &query) {
            hookflow_payload::attributes("body", &parsed.body, 5);
        }
    }
}
