//! Timestamps are `OffsetDateTime` in UTC everywhere and RFC 3339 on the wire and in storage
//! (so they sort as strings in DynamoDB sort keys).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Unix milliseconds: the clock of the rate logs and circuits.
pub fn unix_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn format(t: OffsetDateTime) -> String {
    // Formatting a UTC time as RFC 3339 cannot fail for years 0..=9999.
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// An RFC 3339 time, in UTC; `None` unless it is one, and in UTC falls in the years
/// 1..=9999 (an offset can push `9999-12-31T23:59:59-23:59` past them, and such a time could
/// not be written back as RFC 3339).
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    let utc = OffsetDateTime::parse(s, &Rfc3339).ok()?.checked_to_offset(time::UtcOffset::UTC)?;
    (1..=9999).contains(&utc.year()).then_some(utc)
}

/// A duration in whole milliseconds, as logged and stored (saturating: no overflow panics).
pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_utc_and_written_back_the_same() {
        let t = parse("2026-11-23T10:00:00+01:00").expect("valid");
        assert_eq!(format(t), "2026-11-23T09:00:00Z");
    }

    #[test]
    fn times_outside_the_years_rfc_3339_can_write_are_refused_not_a_panic() {
        assert_eq!(parse("9999-12-31T23:59:59-23:59"), None);
        assert_eq!(parse("0000-01-01T00:00:00+23:59"), None);
        assert_eq!(parse("2026-11-23"), None);
        assert!(parse("9999-12-31T23:59:59Z").is_some());
    }
}
