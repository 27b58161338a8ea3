//! What to do after an attempt: succeed, retry later, or give up, always with
//! a reason to store on the attempt.

use std::time::Duration;

use crate::client::Response;
use crate::error::{ErrorKind, SendError};

/// The result of one attempt, as the retry machinery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T = Response> {
    /// Done: the response (or, for an email, the Message-ID).
    Success(T),
    /// Try again later. `retry_after` is the peer's `Retry-After`, when it
    /// sent one (uncapped: the caller bounds it by its own schedule).
    Retry {
        reason: String,
        retry_after: Option<Duration>,
        response: Option<Response>,
    },
    /// Trying again will not help.
    GiveUp { reason: String, response: Option<Response> },
}

impl<T> Outcome<T> {
    /// The reason of a `Retry` or `GiveUp`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Success(_) => None,
            Self::Retry { reason, .. } | Self::GiveUp { reason, .. } => Some(reason),
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success(_))
    }
}

/// For actions (SPEC section 6): `2xx` and `3xx` succeed; `408`, `429` and
/// `5xx`, connection, TLS and DNS failures and timeouts are retried; other
/// `4xx`, refusals, invalid requests, redirect loops and oversized bodies give
/// up at once.
pub fn classify_action(result: Result<Response, SendError>) -> Outcome {
    match result {
        Ok(response) => match response.status {
            200..=399 => Outcome::Success(response),
            408 | 429 | 500..=599 => retry(response),
            _ => give_up(response),
        },
        Err(err) => from_error(err),
    }
}

/// For subscription deliveries (Standard Webhooks): only `2xx` succeeds;
/// `410 Gone` gives up (the caller disables the subscription); any other
/// status, timeouts, connection, TLS and DNS failures retry; refusals,
/// invalid URLs, redirect loops and oversized bodies give up.
pub fn classify_delivery(result: Result<Response, SendError>) -> Outcome {
    match result {
        Ok(response) => match response.status {
            200..=299 => Outcome::Success(response),
            410 => give_up(response),
            _ => retry(response),
        },
        Err(err) => from_error(err),
    }
}

/// For emails ([`crate::Client::send_email`]): sent succeeds with the
/// Message-ID; a mail server's temporary refusal (SMTP `4xx`), timeouts,
/// connection, TLS and DNS failures retry; a permanent refusal (SMTP `5xx`,
/// [`ErrorKind::Rejected`]), guard refusals and invalid addresses give up.
pub fn classify_email(result: Result<String, SendError>) -> Outcome<String> {
    match result {
        Ok(message_id) => Outcome::Success(message_id),
        Err(err) => from_error(err),
    }
}

fn retry<T>(response: Response) -> Outcome<T> {
    Outcome::Retry {
        reason: format!("{} from the peer", response.status_line()),
        retry_after: retry_after(&response.headers, jiff::Timestamp::now()),
        response: Some(response),
    }
}

fn give_up<T>(response: Response) -> Outcome<T> {
    Outcome::GiveUp {
        reason: format!("{} from the peer", response.status_line()),
        response: Some(response),
    }
}

fn from_error<T>(err: SendError) -> Outcome<T> {
    match err.kind {
        ErrorKind::Dns | ErrorKind::Connect | ErrorKind::Tls | ErrorKind::Timeout | ErrorKind::Other => {
            Outcome::Retry {
                reason: err.message,
                retry_after: None,
                response: None,
            }
        }
        ErrorKind::Refused
        | ErrorKind::InvalidRequest
        | ErrorKind::TooManyRedirects
        | ErrorKind::BodyTooLarge
        | ErrorKind::Rejected => Outcome::GiveUp {
            reason: err.message,
            response: None,
        },
    }
}

/// The wait a `Retry-After` header asks for: delta-seconds (`120`) or an
/// HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`, also the obsolete RFC 850 and
/// asctime forms), counted from `now`. A date in the past is zero; a missing
/// or unreadable header is `None`.
pub fn retry_after(headers: &[(String, String)], now: jiff::Timestamp) -> Option<Duration> {
    let value = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))?
        .1
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = http_date(value)?;
    Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
}

fn http_date(value: &str) -> Option<jiff::Timestamp> {
    if let Ok(zoned) = jiff::fmt::rfc2822::parse(value) {
        return Some(zoned.timestamp());
    }
    // RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"]
        .iter()
        .find_map(|format| jiff::civil::DateTime::strptime(format, &collapsed).ok())
        .and_then(|civil| civil.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
}
