//! A webhook's rate limit (`max_per_second`): at most `limit` requests in ANY one-second
//! window, however many delivery invocations run at once.
//!
//! A counter per fixed second (the tenant quotas' way) would let `limit` through at the end of
//! one second and `limit` more at the start of the next: twice the limit within a second, as
//! the endpoint counts it. So a webhook's admissions are kept as a short log, one entry per
//! admission (a time and how many it let through), pruned to the last second: the store keeps
//! it in one item per webhook, rewritten with a version condition so concurrent invocations
//! never both spend the same room. It holds an entry per admitting invocation in the last
//! second, not per request, so it stays small at high limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The window a limit counts over.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);
/// An admission leaves the window this long after the window: the endpoint sees each request
/// after a latency that varies a little (the store's write, the request's own way), and this
/// margin keeps what it counts in any second within the limit too.
pub const RATE_GUARD: Duration = Duration::from_millis(100);

/// The admissions of the last window: `(unix milliseconds, requests let through)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RateLog(pub Vec<(i64, u32)>);

/// What one admission decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// How many of those asked for may be sent now.
    pub admitted: u32,
    /// The log to store (unchanged when none was admitted).
    pub log: RateLog,
    /// When the others may ask again: when the window has room for one more.
    pub wait: Duration,
}

fn window_ms() -> i64 {
    i64::try_from((RATE_WINDOW + RATE_GUARD).as_millis()).unwrap_or(1000)
}

/// The delay of a held-back delivery that waits `wait` for room: SQS delays a message by
/// whole seconds, so the nearest one, at least one. Back a little early, it is held again;
/// back late, the room goes unused: the nearest second keeps the webhook close to its rate.
pub fn ask_again_in(wait: Duration) -> Duration {
    Duration::from_secs(((wait.as_millis() + 500) / 1000).max(1) as u64)
}

impl RateLog {
    /// Lets through as many of `wanted` requests at `now_ms` as the window has room for under
    /// `limit`. An entry leaves the window one window and the guard after it was admitted, so
    /// two admissions a window apart never share one.
    pub fn admit(&self, now_ms: i64, wanted: u32, limit: u32) -> Admission {
        // Entries from "the future" (another instance's clock a little ahead) stay counted.
        let mut kept: Vec<(i64, u32)> = self.0.iter().copied().filter(|(at, _)| now_ms - at < window_ms()).collect();
        kept.sort_unstable();
        let used: u32 = kept.iter().map(|(_, n)| n).sum();
        let admitted = wanted.min(limit.saturating_sub(used));
        // Room for one more opens when enough of the oldest entries have left the window.
        let mut in_window = used + admitted;
        let mut opens_at = now_ms;
        for &(at, n) in &kept {
            if in_window < limit {
                break;
            }
            in_window -= n;
            opens_at = at + window_ms();
        }
        if in_window >= limit {
            // Only this admission fills the window: room opens when it leaves.
            opens_at = now_ms + window_ms();
        }
        if admitted > 0 {
            kept.push((now_ms, admitted));
        }
        let wait = Duration::from_millis(u64::try_from(opens_at - now_ms).unwrap_or(0));
        Admission { admitted, log: RateLog(kept), wait }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every one-second window over these send times holds at most `limit`.
    fn most_in_any_window(sends: &[i64]) -> usize {
        sends.iter().map(|&start| sends.iter().filter(|&&t| t >= start && t < start + 1000).count()).max().unwrap_or(0)
    }

    #[test]
    fn an_empty_window_admits_up_to_the_limit_and_says_when_room_opens() {
        // GIVEN no admission yet WHEN 8 are asked for under a limit of 5
        let a = RateLog::default().admit(10_000, 8, 5);
        // THEN 5 go, logged, and the rest may ask again one window later
        assert_eq!(a.admitted, 5);
        assert_eq!(a.log, RateLog(vec![(10_000, 5)]));
        assert_eq!(a.wait, RATE_WINDOW + RATE_GUARD);
        assert_eq!(ask_again_in(a.wait), Duration::from_secs(1), "SQS delays by whole seconds");
        assert_eq!(ask_again_in(Duration::from_millis(30)), Duration::from_secs(1), "at least one");
        assert_eq!(ask_again_in(Duration::from_millis(1600)), Duration::from_secs(2));
    }

    #[test]
    fn room_opens_when_the_oldest_entries_leave_the_window() {
        // GIVEN 3 admitted at 0 ms and 2 at 400 ms under a limit of 5
        let log = RateLog(vec![(0, 3), (400, 2)]);
        // WHEN asked at 600 ms: none, until the first entry leaves at 1100 ms (window and guard)
        let a = log.admit(600, 1, 5);
        assert_eq!((a.admitted, a.wait), (0, Duration::from_millis(500)));
        assert_eq!(a.log, log, "nothing admitted, nothing logged");
        assert_eq!(log.admit(1099, 1, 5).admitted, 0, "still in the window");
        // WHEN asked at exactly 1100 ms: the first entry is out, 3 fit
        let a = log.admit(1100, 4, 5);
        assert_eq!(a.admitted, 3);
        assert_eq!(a.log, RateLog(vec![(400, 2), (1100, 3)]));
        assert_eq!(a.wait, Duration::from_millis(400), "the 400 ms entry leaves at 1500 ms");
    }

    #[test]
    fn a_burst_admitted_whenever_asked_never_passes_the_limit_in_any_window() {
        // GIVEN 100 requests asking every 37 ms (a deferred request asks again at once)
        let (mut log, mut sends, mut waiting, mut now) = (RateLog::default(), Vec::new(), 100u32, 0i64);
        while waiting > 0 {
            let a = log.admit(now, waiting.min(10), 5);
            sends.extend(std::iter::repeat_n(now, a.admitted as usize));
            waiting -= a.admitted;
            log = a.log;
            now += 37;
        }
        // THEN all went, never more than 5 in one second, and the log stayed short
        assert_eq!(sends.len(), 100);
        assert!(most_in_any_window(&sends) <= 5, "{}", most_in_any_window(&sends));
        assert!(log.0.len() <= 5);
    }
}
