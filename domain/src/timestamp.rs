//! Timestamps are `OffsetDateTime` in UTC in the domain, unix milliseconds in the store (one
//! integer type sorts and compares the same on SQLite and PostgreSQL) and RFC 3339 on the wire.

use time::OffsetDateTime;

/// The current time, truncated to milliseconds so a value survives a store round trip unchanged.
pub fn now() -> OffsetDateTime {
    from_millis(to_millis(OffsetDateTime::now_utc()))
}

/// Unix milliseconds of `t`.
pub fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The instant `ms` unix milliseconds after the epoch (clamped to the representable range).
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 text, as every API response shows times.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// A duration in its largest whole unit, for messages: `90d`, `160h`, `2m`, `90s`.
pub fn short_duration(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip() {
        let t = now();
        assert_eq!(from_millis(to_millis(t)), t);
        assert!(rfc3339(t).ends_with('Z'));
    }
}
