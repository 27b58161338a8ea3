//! Durations as users write them, and retry-policy math.

use std::time::Duration;

/// The longest duration hookflow accepts anywhere: 36,500 days (about a hundred years). A longer
/// one is a mistake, and the bound keeps every sum of terms, every jitter product and every
/// conversion of a parsed duration to milliseconds far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses `500ms`, `30s`, `15m`, `2h`, `3d`, `1w` (and sums like `1h30m`); a bare number is seconds.
/// Anything longer than [`MAX_DURATION`] is an error, never a panic or a wrapped value.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return term(s, t, 1_000.0);
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{s}` is not a duration: expected a number at `{rest}` (like 30s, 15m, 2h, 3d)"
            ));
        }
        let number = &rest[..digits];
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = unit_millis(s, rest[..unit_len].trim())?;
        rest = &rest[unit_len..];
        total = total
            .checked_add(term(s, number, unit)?)
            .filter(|sum| *sum <= MAX_DURATION)
            .ok_or_else(|| too_long(s))?;
    }
    Ok(total)
}

/// Milliseconds in one `unit`.
fn unit_millis(s: &str, unit: &str) -> Result<f64, String> {
    Ok(match unit {
        "ms" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        "" => {
            return Err(format!(
                "`{s}` is not a duration: a unit is missing (ms, s, m, h, d, w)"
            ))
        }
        other => {
            return Err(format!(
                "`{s}` is not a duration: unknown unit `{other}` (ms, s, m, h, d, w)"
            ))
        }
    })
}

/// One `number` of units of `unit_millis` milliseconds, refused above [`MAX_DURATION`] before it
/// becomes a `Duration` (a float that large would saturate, and a sum of two would overflow).
fn term(s: &str, number: &str, unit_millis: f64) -> Result<Duration, String> {
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: bad number `{number}`"))?;
    let millis = (number * unit_millis).round();
    if !millis.is_finite() || millis > MAX_DURATION.as_millis() as f64 {
        return Err(too_long(s));
    }
    Ok(Duration::from_millis(millis as u64))
}

fn too_long(s: &str) -> String {
    format!("`{s}` is too long: a duration is at most 36500d (about a hundred years)")
}

/// The longest `Retry-After` a peer can ask for and be obeyed.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// How often and how patiently a failing call is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts over about an hour: the ceilings are 30 s, 2 min, 8 min, 32 min
    /// before jitter (SPEC section 6).
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the delay after failed attempt `attempt` (1-based):
    /// `initial * 4^(attempt-1)`, capped at `max_delay`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 4u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay before the next attempt after failed attempt `attempt`, or
    /// `None` when no attempt is left. Full jitter: uniform in `[ceiling/2, ceiling]`
    /// given `unit` uniform in `[0, 1)`, and never shorter than `retry_after`
    /// (the peer's `Retry-After`, honoured up to [`RETRY_AFTER_CAP`]).
    pub fn next_delay(&self, attempt: u32, unit: f64, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        let ceiling = self.ceiling(attempt);
        let jittered = ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
        Some(match retry_after {
            Some(after) => jittered.max(after.min(RETRY_AFTER_CAP)),
            None => jittered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(259_200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit `x`"));
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn durations_too_long_are_errors_not_panics() {
        let huge = "99999999999999999999w";
        for text in [
            huge,
            &huge.repeat(2),
            "99999999999999999999",
            "36501d",
            "36500d1ms",
            "1e400s",
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(
                error.contains("too long") || error.contains("unknown unit"),
                "{text}: {error}"
            );
        }
        assert!(parse_duration(&huge.repeat(2)).unwrap_err().contains("is too long"));
        assert_eq!(parse_duration("36500d"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("36499d24h"), Ok(MAX_DURATION));
    }

    #[test]
    fn default_policy_spans_about_an_hour() {
        let p = RetryPolicy::default();
        let worst: Duration = (1..p.attempts).map(|a| p.next_delay(a, 1.0, None).unwrap()).sum();
        assert_eq!(worst, Duration::from_secs(30 + 120 + 480 + 1920));
        assert_eq!(p.next_delay(5, 0.5, None), None);
        assert_eq!(
            p.next_delay(1, 0.0, Some(Duration::from_secs(90))),
            Some(Duration::from_secs(90))
        );
    }
}

/// Parses a byte size: `10MiB`, `512KiB`, `1GiB`, `10MB`, `2048` (bytes).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size (like 10MiB, 512KiB, 2048)"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "`{s}` is not a size: unknown unit `{other}` (B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    Ok((number * factor) as usize)
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(super::parse_size("2048"), Ok(2048));
        assert_eq!(super::parse_size("1.5KiB"), Ok(1536));
        assert!(super::parse_size("ten").is_err());
        assert!(super::parse_size("5XB").is_err());
    }
}
