//! Timestamps: Unix milliseconds in storage, RFC 3339 on the wire.

use std::fmt;

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(jiff::Timestamp::now().as_millisecond())
    }

    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// `d` later, saturating: a `Duration` holds more milliseconds than an `i64`, and a cast
    /// would wrap a long one into the past.
    pub fn plus(self, d: std::time::Duration) -> Self {
        self.plus_millis(millis(d))
    }

    /// `d` earlier, saturating.
    pub fn minus(self, d: std::time::Duration) -> Self {
        Self(self.0.saturating_sub(millis(d)))
    }

    pub fn to_jiff(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T03:04:05.678Z`.
    pub fn to_rfc3339(self) -> String {
        format!("{:.3}", self.to_jiff())
    }

    /// Parses RFC 3339 (any offset).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        s.parse::<jiff::Timestamp>().ok().map(|t| Self(t.as_millisecond()))
    }
}

/// The milliseconds of `d` as an `i64`, saturating instead of wrapping.
pub fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 date-time")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_millis(1_763_780_645_678);
        assert_eq!(t.to_rfc3339(), "2025-11-22T03:04:05.678Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("2025-11-22T08:34:05.678+05:30"), Some(t));
    }

    #[test]
    fn adding_a_huge_duration_saturates() {
        let t = Timestamp::from_millis(1_000);
        assert_eq!(t.plus(std::time::Duration::MAX), Timestamp::from_millis(i64::MAX));
        assert_eq!(
            t.minus(std::time::Duration::MAX),
            Timestamp::from_millis(1_000 - i64::MAX)
        );
        assert_eq!(
            t.plus(std::time::Duration::from_millis(5)),
            Timestamp::from_millis(1_005)
        );
    }
}
