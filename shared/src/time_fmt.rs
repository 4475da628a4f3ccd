//! Timestamps are `OffsetDateTime` in UTC everywhere and RFC 3339 on the wire and in storage
//! (so they sort as strings in DynamoDB sort keys).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn format(t: OffsetDateTime) -> String {
    // Formatting a UTC time as RFC 3339 cannot fail for years 0..=9999.
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// serde adapter storing a time as an RFC 3339 string.
pub mod rfc3339 {
    pub use time::serde::rfc3339::*;
}
