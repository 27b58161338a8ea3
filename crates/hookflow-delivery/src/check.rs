//! What an outbound request may be told to carry: the URL and headers an operator saves on a
//! subscription, a channel or an action, checked when they are saved and again when they are sent.

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Url;

/// Headers no configuration may set: the connection's own (`Host` comes from the URL,
/// `Content-Length` and `Transfer-Encoding` from the body) and the hop-by-hop ones, which
/// describe one connection and must not be forwarded (RFC 9110 section 7.6.1). A configured
/// `Host` would otherwise really be sent, and a second length would smuggle a request.
const FORBIDDEN: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// Checks a URL to send to: absolute `http` or `https`, with a host, and no control characters
/// (a URL parser drops tabs and line breaks silently, which would hide them).
pub fn check_url(url: &str) -> Result<(), String> {
    if url.chars().any(char::is_control) {
        return Err("must not contain line breaks or other control characters".into());
    }
    let parsed = Url::parse(url.trim()).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    Ok(())
}

/// Checks a header name: a non-empty token that is none of the [`FORBIDDEN`] ones nor `Proxy-*`.
pub fn check_header_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a header needs a name".into());
    }
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!(
            "`{}` is not a header name: use letters, digits and !#$%&'*+-.^_`|~ only",
            name.escape_debug()
        ));
    }
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN.contains(&lower.as_str()) || lower.starts_with("proxy-") {
        return Err(format!(
            "`{name}` cannot be set: Host, Content-Length and Transfer-Encoding come from the URL and \
             the body, and hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade) \
             belong to one connection"
        ));
    }
    Ok(())
}

/// Checks a header value: no control characters but tabs; above all no line break, which would
/// start a header of the value's choosing.
pub fn check_header_value(value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n', '\0']) {
        return Err("a header value must not contain line breaks".into());
    }
    HeaderValue::from_str(value)
        .map(|_| ())
        .map_err(|_| "a header value must not contain control characters".into())
}

/// Checks a header as [`check_header_name`] and [`check_header_value`] do.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    check_header_name(name)?;
    check_header_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("https://crm.example/hooks?x=1").is_ok());
        assert!(check_url("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "crm.example/x",
            "ftp://crm.example/",
            "https://",
            "https://:443/path",
            "https://a.example/\r\nX: y",
            "mailto:a@b.example",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers() {
        assert!(check_header("X-Api-Key", "abc 123").is_ok());
        let refused = [
            ("", "x"),
            (" ", "x"),
            ("X Key", "x"),
            ("X:Key", "x"),
            ("Host", "evil.example"),
            ("content-length", "0"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "close"),
            ("Keep-Alive", "1"),
            ("Proxy-Authorization", "x"),
            ("TE", "trailers"),
            ("Trailer", "x"),
            ("Upgrade", "h2c"),
            ("X-Ok", "a\r\nInjected: 1"),
            ("X-Ok", "a\nb"),
            ("X-Ok", "a\u{7}b"),
        ];
        for (name, value) in refused {
            assert!(check_header(name, value).is_err(), "{name:?}: {value:?}");
        }
    }
}
