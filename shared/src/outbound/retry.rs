//! The retry schedule, as data: the delay before each retry, with jitter, never shorter than
//! a receiver's `Retry-After`, never longer than SQS allows a message to stay invisible.
//!
//! Retries are made by SQS: a failed message's visibility timeout is set to this delay, so the
//! schedule decides *when*, and the queue's `maxReceiveCount` (= `max_attempts`) decides *how
//! often* before the message moves to the dead-letter queue.

use std::time::Duration;

/// SQS caps a message's visibility timeout at 12 hours; a little is kept in hand because the
/// cap counts from when the message was received.
pub const MAX_DELAY: Duration = Duration::from_secs(12 * 3600 - 60);

/// Default: 1 try + 5 retries, each wait about five times the last (30 s, 2.5 min, 12.5 min,
/// ~1 h, ~5 h), spanning ~6.5 h: long enough to ride out an evening's outage.
pub const DEFAULT_SCHEDULE: &str = "30s,150s,750s,3750s,18750s";
pub const DEFAULT_JITTER: f64 = 0.2;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// `delays[i]` is the wait before attempt `i + 2`.
    delays: Vec<Duration>,
    /// Attempts in all (the queue's maxReceiveCount).
    max_attempts: u32,
    /// Each delay is spread by ±`jitter` (0.0..=1.0) so a receiver's recovery is not met by a
    /// thundering herd of retries.
    jitter: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RetrySpecError {
    #[error("retry schedule {0:?}: expected comma-separated durations like 30s,2m,1h")]
    Malformed(String),
    #[error("max attempts must be 1..=100, got {0}")]
    Attempts(u32),
    #[error("jitter must be between 0 and 1, got {0}")]
    Jitter(f64),
    #[error("retry delay {0:?} is longer than 12 h, the longest SQS can hold a message invisible")]
    TooLong(String),
    #[error(
        "the retries can take up to {span_secs} s, longer than the queue keeps a message ({retention_secs} s): a retrying delivery would expire unalerted"
    )]
    OutlastsRetention { span_secs: u64, retention_secs: u64 },
}

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

impl RetryPolicy {
    /// `schedule`: comma-separated delays (`30s,2m,1h`; a bare number is seconds). When the
    /// queue allows more attempts than the schedule lists, the last delay repeats.
    pub fn new(schedule: &str, max_attempts: u32, jitter: f64) -> Result<Self, RetrySpecError> {
        let delays = schedule
            .split(',')
            .map(parse_duration)
            .collect::<Option<Vec<_>>>()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| RetrySpecError::Malformed(schedule.to_string()))?;
        // Longer than SQS can honour is a configuration error, not a silent cap (and keeps
        // the jitter arithmetic far from `Duration`'s limits).
        if let Some(too_long) = delays.iter().position(|d| *d > MAX_DELAY + Duration::from_secs(60)) {
            let text = schedule.split(',').nth(too_long).unwrap_or_default().trim().to_string();
            return Err(RetrySpecError::TooLong(text));
        }
        if !(1..=100).contains(&max_attempts) {
            return Err(RetrySpecError::Attempts(max_attempts));
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(RetrySpecError::Jitter(jitter));
        }
        Ok(Self { delays, max_attempts, jitter })
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// True when `attempt` (1-based) was the last one allowed.
    pub fn is_last(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }

    /// The longest all the retries can wait in sum (every delay at its highest jitter): the
    /// time a message may stay on the queue, which must keep it that long.
    pub fn longest_span(&self) -> Duration {
        (1..self.max_attempts).map(|attempt| self.delay_after(attempt, None, 1.0)).sum()
    }

    /// Refuses a schedule that would outlast the queue's retention: SQS drops an expired
    /// message without a dead letter, so such a delivery would be lost without an alert.
    pub fn check_retention(&self, retention: Duration) -> Result<(), RetrySpecError> {
        let span = self.longest_span();
        if span > retention {
            return Err(RetrySpecError::OutlastsRetention {
                span_secs: span.as_secs(),
                retention_secs: retention.as_secs(),
            });
        }
        Ok(())
    }

    /// The wait after failed attempt `attempt` (1-based) before the next one. `unit` in 0..1
    /// picks the jitter (random in production, fixed in tests); `retry_after` is the
    /// receiver's own request, honoured as a minimum.
    pub fn delay_after(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX).min(self.delays.len() - 1);
        let base = self.delays[index].as_secs_f64();
        let spread = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let jittered = Duration::from_secs_f64((base * spread).max(0.0));
        jittered.max(retry_after.unwrap_or_default()).min(MAX_DELAY)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // The default spec is a constant that parses.
        Self::new(DEFAULT_SCHEDULE, 6, DEFAULT_JITTER).unwrap_or(Self {
            delays: vec![Duration::from_secs(30)],
            max_attempts: 6,
            jitter: DEFAULT_JITTER,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_grows_and_allows_six_attempts() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts(), 6);
        let delays: Vec<u64> = (1..6).map(|a| p.delay_after(a, None, 0.5).as_secs()).collect();
        assert_eq!(delays, [30, 150, 750, 3750, 18750]);
        assert!(!p.is_last(5));
        assert!(p.is_last(6));
    }

    #[test]
    fn jitter_spreads_within_bounds() {
        let p = RetryPolicy::new("100s", 3, 0.2).expect("valid");
        assert_eq!(p.delay_after(1, None, 0.0), Duration::from_secs(80));
        assert_eq!(p.delay_after(1, None, 1.0), Duration::from_secs(120));
        // The last delay repeats when attempts outnumber the schedule.
        assert_eq!(p.delay_after(2, None, 0.5), Duration::from_secs(100));
    }

    #[test]
    fn retry_after_is_a_minimum_and_sqs_caps_everything() {
        let p = RetryPolicy::new("1s,2s", 3, 0.0).expect("valid");
        assert_eq!(p.delay_after(1, Some(Duration::from_secs(90)), 0.5), Duration::from_secs(90));
        assert_eq!(p.delay_after(1, Some(Duration::from_millis(10)), 0.5), Duration::from_secs(1));
        assert_eq!(p.delay_after(1, Some(Duration::from_secs(48 * 3600)), 0.5), MAX_DELAY);
        assert_eq!(p.delay_after(1, Some(Duration::MAX), 0.5), MAX_DELAY);
        let twelve = RetryPolicy::new("12h", 2, 1.0).expect("valid");
        assert_eq!(twelve.delay_after(1, None, 1.0), MAX_DELAY);
    }

    #[test]
    fn delays_over_twelve_hours_and_huge_values_are_configuration_errors() {
        // GIVEN delays SQS cannot hold, up to the largest number that parses
        for huge in ["13h", "24h", "30s,721m", "18446744073709551615s", "5124095576030431h"] {
            // THEN the schedule is refused (never a panic later in the jitter arithmetic)
            assert!(matches!(RetryPolicy::new(huge, 6, 1.0), Err(RetrySpecError::TooLong(_))), "{huge}");
        }
        // A number too large to multiply into seconds does not parse at all.
        assert!(matches!(RetryPolicy::new("99999999999999999h", 6, 0.0), Err(RetrySpecError::Malformed(_))));
    }

    #[test]
    fn the_schedule_must_end_inside_the_queue_retention() {
        // GIVEN the default schedule: 5 retries, at most (30+150+750+3750+18750) s × 1.2
        let p = RetryPolicy::default();
        assert_eq!(p.longest_span(), Duration::from_secs(28_116));
        // THEN it fits 14 days, and not 7 hours
        assert_eq!(p.check_retention(Duration::from_secs(14 * 86_400)), Ok(()));
        assert_eq!(
            p.check_retention(Duration::from_secs(7 * 3600)),
            Err(RetrySpecError::OutlastsRetention { span_secs: 28_116, retention_secs: 25_200 })
        );
        // AND the last delay repeating for 100 attempts of 12 h outlasts even 14 days
        let long = RetryPolicy::new("12h", 100, 0.0).expect("valid");
        assert!(long.check_retention(Duration::from_secs(14 * 86_400)).is_err());
    }

    #[test]
    fn specs_are_validated() {
        assert_eq!(RetryPolicy::new("2m,1h", 3, 0.0).expect("ok").delay_after(1, None, 0.0), Duration::from_secs(120));
        for bad in ["", "soon", "1x", "1s,,2s", "-1s"] {
            assert!(RetryPolicy::new(bad, 6, 0.0).is_err(), "{bad:?}");
        }
        assert_eq!(RetryPolicy::new("1s", 0, 0.0), Err(RetrySpecError::Attempts(0)));
        assert_eq!(RetryPolicy::new("1s", 6, 1.5), Err(RetrySpecError::Jitter(1.5)));
    }
}
