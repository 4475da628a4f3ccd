//! Per-tenant quotas: the rates a deployment may set (events per second, test sends per
//! minute) and the daily caps on e-mail (confirmations, alerts). Each is a fixed window: a counter per tenant per window, taken atomically in the store, so
//! it holds across concurrent requests and Lambda instances. The rates are off unless set:
//! each take costs a DynamoDB write.

use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::error::DomainError;

/// The window of the daily caps: a day, as unix time counts them (UTC days).
pub const DAY: Duration = Duration::from_secs(86_400);

/// At most `limit` a `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuota {
    pub limit: u32,
    pub window: Duration,
}

/// The quotas of a deployment; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    /// Events a tenant may send a second (the window is a second, shorter only in tests).
    pub events: Option<RateQuota>,
    /// Test sends a tenant may make a minute (`.../test` and `?require_ok=true`).
    pub test_sends: Option<RateQuota>,
}

/// What a quota counts: part of its counter's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    Events,
    TestSends,
    /// Opt-in confirmation e-mails a tenant causes a day.
    Confirmations,
    /// Failure-alert e-mails (one per recipient) a tenant causes a day.
    AlertEmails,
}

impl QuotaKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::TestSends => "test_sends",
            Self::Confirmations => "confirmations",
            Self::AlertEmails => "alert_emails",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::TestSends => "test sends",
            Self::Confirmations => "confirmation e-mails",
            Self::AlertEmails => "alert e-mails",
        }
    }
}

/// The window a moment falls in: its number (the counter's key) and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWindow {
    pub index: u64,
    /// Unix seconds at which the window ends (rounded up): its counter may expire then.
    pub ends_at: i64,
    /// Whole seconds from the moment to the window's end, at least 1: the `Retry-After`.
    pub retry_after: u64,
}

impl RateQuota {
    /// At most `limit` a UTC day.
    pub fn per_day(limit: u32) -> Self {
        Self { limit, window: DAY }
    }

    pub fn window_at(&self, now: OffsetDateTime) -> QuotaWindow {
        let window_ms = self.window.as_millis().max(1);
        let now_ms = u128::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let index = now_ms / window_ms;
        let end_ms = (index + 1) * window_ms;
        QuotaWindow {
            index: u64::try_from(index).unwrap_or(u64::MAX),
            ends_at: i64::try_from(end_ms.div_ceil(1000)).unwrap_or(i64::MAX),
            retry_after: u64::try_from((end_ms - now_ms).div_ceil(1000)).unwrap_or(u64::MAX).max(1),
        }
    }

    /// The 429 for a tenant over this quota.
    pub fn exceeded(&self, kind: QuotaKind, window: &QuotaWindow) -> DomainError {
        DomainError::RateLimited {
            code: "rate_limited",
            message: format!(
                "at most {} {} per {} s for this tenant; retry after {} s",
                self.limit,
                kind.what(),
                self.window.as_secs_f64(),
                window.retry_after
            ),
            retry_after: window.retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix_ms: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000).expect("time")
    }

    #[test]
    fn a_window_is_numbered_and_says_when_it_ends() {
        // GIVEN a quota a second WHEN asked 1700000000.250 s THEN it is that second's window
        let second = RateQuota { limit: 5, window: Duration::from_secs(1) };
        let w = second.window_at(at(1_700_000_000_250));
        assert_eq!(w, QuotaWindow { index: 1_700_000_000, ends_at: 1_700_000_001, retry_after: 1 });
        // AND the next millisecond of the window is the same window, the next second another
        assert_eq!(second.window_at(at(1_700_000_000_999)).index, w.index);
        assert_eq!(second.window_at(at(1_700_000_001_000)).index, w.index + 1);
        // GIVEN a quota a minute THEN Retry-After counts the seconds left, rounded up
        let minute = RateQuota { limit: 5, window: Duration::from_secs(60) };
        let w = minute.window_at(at(1_700_000_010_500));
        assert_eq!((w.index, w.ends_at, w.retry_after), (28_333_333, 1_700_000_040, 30));
        // GIVEN a daily cap THEN its windows are UTC days: 2026-12-03T23:59:59Z and the next
        // second are different days, the first ending at midnight
        let day = RateQuota::per_day(5);
        let last = day.window_at(at(1_796_342_399_000));
        assert_eq!((last.ends_at, last.retry_after), (1_796_342_400, 1));
        assert_eq!(day.window_at(at(1_796_342_400_000)).index, last.index + 1);
    }

    #[test]
    fn the_error_is_a_429_code_with_its_retry_after() {
        let quota = RateQuota { limit: 3, window: Duration::from_secs(60) };
        let e = quota.exceeded(QuotaKind::TestSends, &quota.window_at(at(1_700_000_010_500)));
        assert_eq!(e.code(), "rate_limited");
        assert!(matches!(e, DomainError::RateLimited { retry_after: 30, .. }), "{e:?}");
        assert!(e.to_string().contains("3 test sends per 60 s"), "{e}");
    }
}
