//! `SendError`: why a request or an email got no answer to classify.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

/// What went wrong, for the caller to decide on (see [`crate::classify_action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The guard refused every address of the host: nothing was sent.
    Refused,
    /// The request cannot be made as given: a bad URL, method, header,
    /// address or setting. Sending it again will not help.
    InvalidRequest,
    /// The host name could not be resolved.
    Dns,
    /// No connection: refused, reset, unreachable, or closed mid-request.
    Connect,
    /// The TLS handshake failed (certificate, protocol, no STARTTLS).
    Tls,
    /// The request did not finish within its timeout.
    Timeout,
    /// More than [`crate::MAX_REDIRECTS`] redirects.
    TooManyRedirects,
    /// The response body is larger than [`crate::MAX_RESPONSE_BODY`].
    BodyTooLarge,
    /// A mail server refused the message for good (an SMTP 5xx reply).
    Rejected,
    /// Anything else, including an SMTP 4xx (try later) reply.
    Other,
}

/// A request that got no answer to classify. `message` is a short sentence
/// naming the peer ("connection refused by 127.0.0.1:4567", "timed out after
/// 10s"), fit to be stored as the attempt's reason; it is also the Display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub kind: ErrorKind,
    pub message: String,
}

impl SendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub(crate) fn timeout(after: Duration) -> Self {
        Self::new(ErrorKind::Timeout, format!("timed out after {}", human_duration(after)))
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for SendError {}

/// `10s`, `1.5s`, `250ms`, `2m`, `1m30s`.
pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms % 1000 != 0 {
        return format!("{}s", d.as_secs_f64());
    }
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// `err` and every error under it, including the error an `io::Error` wraps
/// (its `source()` skips that one).
pub(crate) fn causes<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        out.push(e);
        next = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// The first error of type `T` under `err`.
pub(crate) fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    causes(err).into_iter().find_map(|e| e.downcast_ref::<T>())
}

/// The message of the deepest error under `err`: the most specific one
/// ("Connection reset by peer (os error 104)").
pub(crate) fn root_message(err: &(dyn StdError + 'static)) -> String {
    causes(err).last().map(|e| e.to_string()).unwrap_or_default()
}
