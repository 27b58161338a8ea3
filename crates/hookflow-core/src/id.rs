//! Opaque, prefixed ids that sort by creation time (SPEC section 12).
//!
//! An id is `<prefix>_<26 Crockford base32 characters>`: 48 bits of Unix
//! milliseconds followed by 80 random bits, so lexical order is creation order
//! to the millisecond. Within one process ids are monotonic: one made in the
//! same millisecond as the last is the last plus one, so ids made one after
//! another sort in that order (ordering by key relies on it).

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_LEN: usize = 26;

/// A millisecond timestamp and 80 random bits as one 128-bit value.
fn ulid_value(ms: u64, random: [u8; 10]) -> u128 {
    let mut value: u128 = u128::from(ms & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (72 - 8 * i);
    }
    value
}

/// Encodes a millisecond timestamp and 80 random bits as 26 base32 characters.
#[cfg(test)]
fn ulid_body(ms: u64, random: [u8; 10]) -> String {
    encode(ulid_value(ms, random))
}

fn encode(value: u128) -> String {
    let mut out = [0u8; BODY_LEN];
    for (i, slot) in out.iter_mut().enumerate().rev() {
        let shift = 5 * (BODY_LEN - 1 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1F) as usize];
    }
    // Every byte comes from the ASCII alphabet above.
    String::from_utf8(out.to_vec()).expect("base32 alphabet is ASCII")
}

/// A fresh id body for the current time.
pub fn new_id_body() -> String {
    static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let fresh = ulid_value(crate::time::Timestamp::now().as_millis() as u64, random);
    let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Later than the last id, even within its millisecond or if the clock stepped back.
    *last = if fresh > *last { fresh } else { *last + 1 };
    encode(*last)
}

/// The error of parsing an id whose prefix or body is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by 26 characters)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

fn valid_body(body: &str) -> bool {
    body.len() == BODY_LEN && body.bytes().all(|b| CROCKFORD.contains(&b.to_ascii_uppercase()))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id, sortable after every id made before it in an earlier millisecond.
            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, new_id_body()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            /// Wraps a value read back from storage, where it was validated on the way in.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                match s.strip_prefix(concat!($prefix, "_")) {
                    Some(body) if valid_body(body) => Ok(Self(s.to_owned())),
                    _ => Err(InvalidId { kind: $kind, prefix: $prefix, value: s.to_owned() }),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(/// A tenant.
    WorkspaceId, "ws", "workspace");
id_type!(/// A management API token (its id, not its secret).
    TokenId, "tok", "token");
id_type!(/// A connector.
    ConnectorId, "con", "connector");
id_type!(/// One received request (or email, tick, internal event).
    EventId, "evt", "event");
id_type!(/// One run of a connector's steps for one event.
    ExecutionId, "exe", "execution");
id_type!(/// One row of the durable job queue.
    JobId, "job", "job");
id_type!(/// An outbound webhook subscription.
    SubscriptionId, "sub", "subscription");
id_type!(/// One event sent to one subscription.
    DeliveryId, "del", "delivery");
id_type!(/// A person in the contact book.
    ContactId, "ctc", "contact");
id_type!(/// A configured way to send messages.
    ChannelId, "ch", "channel");
id_type!(/// A workspace member who can own contacts.
    MemberId, "mem", "member");
id_type!(
    /// One emitted event (a message to the subscriptions that want it).
    MessageId,
    "msg",
    "message"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_round_trip() {
        let a = ulid_body(1, [0xFF; 10]);
        let b = ulid_body(2, [0; 10]);
        assert!(a < b, "{a} < {b}");
        assert_eq!(ulid_body(0, [0; 10]), "00000000000000000000000000");
        let id = EventId::new();
        assert_eq!(id.as_str().parse::<EventId>().unwrap(), id);
        assert!("con_x".parse::<ConnectorId>().is_err());
        assert!(id.as_str().parse::<ConnectorId>().is_err());
    }

    #[test]
    fn ids_made_one_after_another_sort_in_that_order() {
        let ids: Vec<String> = (0..10_000).map(|_| new_id_body()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids out of order");
    }
}
