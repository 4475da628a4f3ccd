//! Fault injection for the recording proxy (`make chaos`): a seeded share of the DynamoDB, SQS
//! and SES calls going through it fail the ways AWS calls fail: a throttling error, a 500, the
//! connection cut before an answer, an answer that never comes (stalled, then cut), or (the
//! nastiest) the call reaching the emulator and its answer lost, so a write happened that its
//! caller cannot know of. Each injected fault is counted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The services whose calls may fail; anything else passes untouched.
const FAULTED_SERVICES: [&str; 3] = ["dynamodb", "sqs", "ses"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// 400 with the service's throttling error code.
    Throttled,
    /// 500 InternalServerError / InternalFailure.
    ServerError,
    /// The connection closed before an answer.
    Cut,
    /// No answer for the plan's `stall`, then the connection closed.
    Stalled,
    /// Forwarded to the emulator (it acted), then the connection closed before the answer.
    AnswerLost,
}

impl Fault {
    pub const ALL: [Fault; 5] = [Fault::Throttled, Fault::ServerError, Fault::Cut, Fault::Stalled, Fault::AnswerLost];

    pub fn label(self) -> &'static str {
        match self {
            Fault::Throttled => "throttled",
            Fault::ServerError => "500",
            Fault::Cut => "connection cut",
            Fault::Stalled => "timed out",
            Fault::AnswerLost => "answer lost after the write",
        }
    }
}

/// Which calls fail and how; shared by every proxy of a run (one seeded sequence).
pub struct Faults {
    /// Calls in 1000 that fail, spread evenly over the five kinds.
    per_mille: u32,
    /// How long a stalled call hangs before its connection is cut.
    pub stall: Duration,
    enabled: AtomicBool,
    rng: Mutex<StdRng>,
    counts: Mutex<BTreeMap<Fault, u64>>,
}

impl Faults {
    /// Off until `enable`: set-up runs clean.
    pub fn new(seed: u64, per_mille: u32, stall: Duration) -> Self {
        Self {
            per_mille,
            stall,
            enabled: AtomicBool::new(false),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn enable(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    /// Whether the call `operation` (`service:Operation`) fails, and how; counted if so.
    pub fn pick(&self, operation: &str) -> Option<Fault> {
        let service = operation.split(':').next().unwrap_or_default();
        if !self.enabled.load(Ordering::SeqCst) || !FAULTED_SERVICES.contains(&service) {
            return None;
        }
        let roll = self.rng.lock().unwrap_or_else(|e| e.into_inner()).random_range(0..1000 * Fault::ALL.len() as u32);
        let fault = *Fault::ALL.get((roll / self.per_mille.max(1)) as usize).filter(|_| self.per_mille > 0)?;
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()).entry(fault).or_default() += 1;
        Some(fault)
    }

    pub fn counts(&self) -> BTreeMap<Fault, u64> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn total(&self) -> u64 {
        self.counts().values().sum()
    }
}

/// An answer whose body breaks off: the client sees the connection close mid-answer.
pub fn cut() -> Response {
    let broken =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::ErrorKind::ConnectionReset.into()) });
    (StatusCode::OK, Body::from_stream(broken)).into_response()
}

/// The error answer of `fault` (not `AnswerLost`, which forwards first) for `operation`, in
/// its service's protocol: JSON for DynamoDB and SQS, query-protocol XML for SES.
pub async fn answer(fault: Fault, operation: &str, stall: Duration) -> Response {
    let ses = operation.starts_with("ses:");
    let (status, code) = match fault {
        Fault::Throttled if ses => (StatusCode::BAD_REQUEST, "Throttling"),
        Fault::Throttled if operation.starts_with("dynamodb:") => {
            (StatusCode::BAD_REQUEST, "ProvisionedThroughputExceededException")
        }
        Fault::Throttled => (StatusCode::BAD_REQUEST, "ThrottlingException"),
        Fault::ServerError if ses => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"),
        Fault::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        Fault::Stalled => {
            tokio::time::sleep(stall).await;
            return cut();
        }
        Fault::Cut | Fault::AnswerLost => return cut(),
    };
    let message = "injected by the chaos run";
    if ses {
        let kind = if status.is_server_error() { "Receiver" } else { "Sender" };
        let xml = format!(
            "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error><Type>{kind}</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>chaos</RequestId></ErrorResponse>"
        );
        (status, [(header::CONTENT_TYPE, "text/xml")], xml).into_response()
    } else {
        let json = serde_json::json!({"__type": code, "message": message}).to_string();
        let query_error = format!("{code};Sender");
        let headers =
            [(header::CONTENT_TYPE.as_str(), "application/x-amz-json-1.0"), ("x-amzn-query-error", &query_error)];
        (status, headers, json).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_and_the_kinds_follow_the_plan_and_the_seed() {
        // GIVEN 100 faults per 1000 calls, seeded
        let run = |seed| {
            let faults = Faults::new(seed, 100, Duration::ZERO);
            faults.enable(true);
            let picked: Vec<Option<Fault>> = (0..20_000).map(|_| faults.pick("dynamodb:PutItem")).collect();
            (picked, faults.counts())
        };
        // WHEN 20 000 calls go through it twice with one seed
        let (first, counts) = run(7);
        let (again, _) = run(7);
        // THEN about 10 % fail, every kind is among them, and the same seed picks the same calls
        let total: u64 = counts.values().sum();
        assert!((1_700..2_300).contains(&total), "{total}");
        assert!(Fault::ALL.iter().all(|f| counts.get(f).is_some_and(|n| *n > 200)), "{counts:?}");
        assert_eq!(first, again);
        assert_ne!(first, run(8).0);
    }

    #[test]
    fn calls_pass_untouched_until_enabled_and_for_other_services() {
        // GIVEN every call to fail
        let faults = Faults::new(1, 1000, Duration::ZERO);
        // THEN none does before `enable`, nor ever a call to another service
        assert_eq!(faults.pick("sqs:SendMessage"), None);
        faults.enable(true);
        assert!(faults.pick("sqs:SendMessage").is_some());
        assert_eq!(faults.pick("kms:Decrypt"), None);
        assert_eq!(faults.total(), 1);
    }
}
