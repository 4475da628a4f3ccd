//! What the functions count, as data: the metric names (one place) and the tallies a batch or a
//! request adds up. `adapters::metrics` writes them as one CloudWatch EMF log line per
//! invocation, so the figures cost a few hundred log bytes an invocation, not a line a delivery.

/// Delivered (a 2xx).
pub const DELIVERIES_DELIVERED: &str = "deliveries_delivered";
/// An attempt failed and the delivery waits for its next one.
pub const DELIVERIES_RETRYING: &str = "deliveries_retrying";
/// The last attempt failed: on to the dead-letter queue.
pub const DELIVERIES_FAILED: &str = "deliveries_failed";
/// Ended without a delivery by the webhook's state: deleted, disabled, or a 410 Gone.
pub const DELIVERIES_STOPPED: &str = "deliveries_stopped";
/// Held back without a request (the webhook's rate limit, or its endpoint's open circuit):
/// carried on by a new, delayed message; not an attempt.
pub const DELIVERIES_DEFERRED: &str = "deliveries_deferred";
/// Queue messages that are no delivery task this code reads (on to the dead-letter queue).
pub const DELIVERIES_MALFORMED: &str = "deliveries_malformed";
/// Delivery attempts made (a `form` webhook's batched request counts each delivery in it).
pub const ATTEMPTS: &str = "attempts";
/// The endpoint's answer time, one value per request made.
pub const ENDPOINT_LATENCY: &str = "endpoint_latency";
/// Dead letters counted as failed deliveries (a redelivered one is not counted twice).
pub const DEAD_LETTERS: &str = "dead_letters";
/// Alert e-mails sent (one per recipient told).
pub const ALERTS_SENT: &str = "alerts_sent";
/// Queue messages dropped because not even their ids could be read (so no delivery could be
/// marked failed or counted); each is also logged at error level.
pub const UNREADABLE_MESSAGES: &str = "unreadable_messages";
/// Events accepted (202) by the ingest route.
pub const EVENTS_ACCEPTED: &str = "events_accepted";
/// Events refused (any error answer) by the ingest route.
pub const EVENTS_REFUSED: &str = "events_refused";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    /// CloudWatch's name for the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric's figures for an invocation: a sum, or the single values (CloudWatch keeps
/// their distribution, so percentiles of latency stay right).
#[derive(Debug, Clone, PartialEq)]
pub enum Figures {
    Sum(u64),
    Values(Vec<u64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub name: &'static str,
    pub unit: Unit,
    pub figures: Figures,
}

impl Measure {
    pub fn count(name: &'static str, n: usize) -> Self {
        Measure { name, unit: Unit::Count, figures: Figures::Sum(n as u64) }
    }

    /// Nothing to say: a zero sum or no values (left out of the line).
    pub fn is_empty(&self) -> bool {
        match &self.figures {
            Figures::Sum(n) => *n == 0,
            Figures::Values(v) => v.is_empty(),
        }
    }
}

/// What one delivery batch came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryTally {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
    pub stopped: usize,
    pub malformed: usize,
    pub deferred: usize,
    pub attempts: usize,
    /// Milliseconds, one a request.
    pub latencies_ms: Vec<u64>,
}

impl DeliveryTally {
    pub fn measures(&self) -> Vec<Measure> {
        vec![
            Measure::count(DELIVERIES_DELIVERED, self.delivered),
            Measure::count(DELIVERIES_RETRYING, self.retrying),
            Measure::count(DELIVERIES_FAILED, self.failed),
            Measure::count(DELIVERIES_STOPPED, self.stopped),
            Measure::count(DELIVERIES_MALFORMED, self.malformed),
            Measure::count(DELIVERIES_DEFERRED, self.deferred),
            Measure::count(ATTEMPTS, self.attempts),
            Measure {
                name: ENDPOINT_LATENCY,
                unit: Unit::Milliseconds,
                figures: Figures::Values(self.latencies_ms.clone()),
            },
        ]
    }
}

/// What one dead-letter batch came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertTally {
    pub dead_letters: usize,
    pub alerts_sent: usize,
    pub unreadable: usize,
}

impl AlertTally {
    pub fn measures(&self) -> Vec<Measure> {
        vec![
            Measure::count(DEAD_LETTERS, self.dead_letters),
            Measure::count(ALERTS_SENT, self.alerts_sent),
            Measure::count(UNREADABLE_MESSAGES, self.unreadable),
        ]
    }
}
