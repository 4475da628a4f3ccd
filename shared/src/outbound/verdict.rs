//! What an attempt's result means for the delivery (the outcome rules, as one function).
//!
//! - 2xx: delivered.
//! - 410 Gone: the receiver says the endpoint is gone for good: stop, disable the webhook.
//! - everything else retries: timeouts, connection errors, 3xx (redirects are not followed:
//!   a moved endpoint must be updated by its owner), 408, 429, 5xx, and the other 4xx too,
//!   because a receiver answering 400/401/404 is most often mid-deploy or misconfigured and
//!   fixes itself within the retry window; a permanent 4xx ends in the DLQ and an alert.
//! - 429 and 503 with `Retry-After`: the next attempt waits at least that long.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptVerdict {
    Delivered,
    Gone,
    Retry { at_least: Option<Duration> },
}

/// Whether the receiver took the request: it answered 2xx.
pub fn is_success(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..=299).contains(&s))
}

pub fn classify(status: Option<u16>, retry_after: Option<Duration>) -> AttemptVerdict {
    match status {
        _ if is_success(status) => AttemptVerdict::Delivered,
        Some(410) => AttemptVerdict::Gone,
        Some(429 | 503) => AttemptVerdict::Retry { at_least: retry_after },
        _ => AttemptVerdict::Retry { at_least: None },
    }
}

/// An attempt's answer in a few words, for the delivery log and error messages.
pub fn describe_answer(status: Option<u16>, error: Option<&str>) -> String {
    match (status, error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(failure)) => failure.to_string(),
        (None, None) => "no answer".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_rules() {
        let ra = Some(Duration::from_secs(7));
        for s in [200, 201, 204, 299] {
            assert_eq!(classify(Some(s), None), AttemptVerdict::Delivered, "{s}");
        }
        assert_eq!(classify(Some(410), ra), AttemptVerdict::Gone);
        assert_eq!(classify(Some(429), ra), AttemptVerdict::Retry { at_least: ra });
        assert_eq!(classify(Some(503), ra), AttemptVerdict::Retry { at_least: ra });
        for s in [301, 302, 400, 401, 404, 408, 500, 502, 504] {
            assert_eq!(classify(Some(s), ra), AttemptVerdict::Retry { at_least: None }, "{s}");
        }
        assert_eq!(classify(None, None), AttemptVerdict::Retry { at_least: None });
    }
}
