//! Standard Webhooks signatures (SPEC section 7): `whsec_` secrets and the
//! `webhook-signature` header.
//!
//! The signed content is `{msg_id}.{timestamp}.{payload}`; the signature is
//! `v1,` and the standard base64 of its HMAC-SHA256, keyed with the secret's
//! bytes (the base64 after `whsec_`). A header carries several signatures,
//! separated by spaces, while a secret is rotated; a receiver accepts any.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The header names of a signed delivery.
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The prefix of a secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The tolerance the specification recommends between a delivery's timestamp and a receiver's clock.
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

/// Why signing or verifying failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The secret is not `whsec_` and base64 (the message says what is wrong, never the secret).
    #[error("the secret is not `whsec_` followed by base64: {0}")]
    InvalidSecret(String),
    /// `signature_header` was given no secret.
    #[error("there is no secret to sign with")]
    NoSecret,
    /// The timestamp is older than the tolerance allows.
    #[error("the timestamp {timestamp} is {age}s old, more than the {tolerance}s allowed")]
    TooOld { timestamp: i64, age: i64, tolerance: i64 },
    /// The timestamp is further in the future than the tolerance allows.
    #[error("the timestamp {timestamp} is {ahead}s in the future, more than the {tolerance}s allowed")]
    TooNew { timestamp: i64, ahead: i64, tolerance: i64 },
    /// No `v1` signature in the header matches.
    #[error("no v1 signature in the header matches")]
    NoMatch,
}

/// A new secret: `whsec_` and the standard base64 of 32 random bytes from the
/// operating system's generator.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of a secret. The `whsec_` prefix is expected; a bare base64
/// secret is accepted too, as the reference libraries do.
fn key(secret: &str) -> Result<Vec<u8>, SigningError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| SigningError::InvalidSecret(e.to_string()))?;
    if key.is_empty() {
        return Err(SigningError::InvalidSecret("it is empty".to_owned()));
    }
    Ok(key)
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("invariant: HMAC takes keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The signature of one message with one secret: `v1,<base64>`.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, payload: &[u8]) -> Result<String, SigningError> {
    let tag = mac(&key(secret)?, msg_id, timestamp, payload).finalize().into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// The `webhook-signature` value: one signature per secret, separated by
/// spaces, so a receiver holding the old or the new secret of a rotation
/// accepts it.
pub fn signature_header(
    secrets: &[&str],
    msg_id: &str,
    timestamp: i64,
    payload: &[u8],
) -> Result<String, SigningError> {
    if secrets.is_empty() {
        return Err(SigningError::NoSecret);
    }
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp, payload))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

/// Checks a received `webhook-signature` `header`: the `timestamp` must be
/// within `tolerance_secs` of `now` (Unix seconds), and one of its `v1`
/// signatures must be the one `secret` makes (compared in constant time;
/// other versions and malformed entries are skipped).
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    payload: &[u8],
    header: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SigningError> {
    let key = key(secret)?;
    if now.saturating_sub(timestamp) > tolerance_secs {
        return Err(SigningError::TooOld {
            timestamp,
            age: now.saturating_sub(timestamp),
            tolerance: tolerance_secs,
        });
    }
    if timestamp.saturating_sub(now) > tolerance_secs {
        return Err(SigningError::TooNew {
            timestamp,
            ahead: timestamp.saturating_sub(now),
            tolerance: tolerance_secs,
        });
    }
    let expected = mac(&key, msg_id, timestamp, payload);
    let matches = header
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, signature)| STANDARD.decode(signature).ok())
        .any(|signature| expected.clone().verify_slice(&signature).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SigningError::NoMatch)
    }
}
