//! An endpoint's circuit: after `failures_to_open` timeouts or connection failures in a row,
//! the endpoint gets no request for a cooldown (its deliveries wait, not counted as attempts),
//! so a dead endpoint stops taking the delivery function's time and concurrency from everyone
//! else. After the cooldown one request goes as a probe: an answer closes the circuit, another
//! failure opens it for one more cooldown.
//!
//! The state is one small item per tenant and endpoint (its origin); this module decides, the
//! store changes it with conditional writes (see `ports::gate`).

use std::time::Duration;

/// A deployment's circuit settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitSettings {
    /// Timeouts or connection failures in a row that open the circuit; 0 = never.
    pub failures_to_open: u32,
    /// How long an open circuit holds deliveries back before a probe.
    pub cooldown: Duration,
}

pub const DEFAULT_FAILURES_TO_OPEN: u32 = 5;
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(60);

impl Default for CircuitSettings {
    fn default() -> Self {
        Self { failures_to_open: DEFAULT_FAILURES_TO_OPEN, cooldown: DEFAULT_COOLDOWN }
    }
}

/// An endpoint's circuit as stored: failures in a row, and while open (or after, until a probe
/// answers) when it opens again for a probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Circuit {
    pub failures: u32,
    /// Unix milliseconds; `None` while closed.
    pub open_until_ms: Option<i64>,
}

/// What the circuit lets a batch do with an endpoint's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Send,
    /// The cooldown is over: one request may go, once the store agrees this invocation
    /// claimed the probe (the circuit's `open_until_ms` was still `seen`).
    Probe {
        seen: i64,
    },
    /// Hold the deliveries back this long.
    Wait(Duration),
}

/// What a request told about its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// It answered (any status): it is alive, whatever it said.
    Answered,
    /// A timeout or a failed connection: the failures the circuit counts.
    Unreachable,
}

impl Circuit {
    pub fn gate(&self, now_ms: i64) -> Gate {
        match self.open_until_ms {
            None => Gate::Send,
            Some(until) if until > now_ms => {
                Gate::Wait(Duration::from_millis(u64::try_from(until - now_ms).unwrap_or(0)))
            }
            Some(until) => Gate::Probe { seen: until },
        }
    }

    /// Whether this run of failures (as counted after the latest) opens a closed circuit.
    pub fn opens(failures: u32, settings: &CircuitSettings) -> bool {
        settings.failures_to_open > 0 && failures >= settings.failures_to_open
    }

    /// Whether an answer must write anything (a closed circuit with no failures is left alone:
    /// a healthy endpoint costs no write).
    pub fn needs_reset(&self) -> bool {
        self.failures > 0 || self.open_until_ms.is_some()
    }
}

/// When a circuit opened (or a probe claimed) at `now_ms` opens again.
pub fn reopens_at(now_ms: i64, settings: &CircuitSettings) -> i64 {
    now_ms + i64::try_from(settings.cooldown.as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: CircuitSettings = CircuitSettings { failures_to_open: 3, cooldown: Duration::from_secs(2) };

    #[test]
    fn the_circuit_opens_after_the_set_failures_in_a_row_then_lets_one_probe_through() {
        // GIVEN a closed circuit: requests go, and failures below the threshold keep it closed
        let closed = Circuit::default();
        assert_eq!(closed.gate(0), Gate::Send);
        assert!(!closed.needs_reset(), "a healthy endpoint costs no write");
        assert!(!Circuit::opens(2, &SETTINGS));
        // WHEN the third failure in a row is counted at 1000 ms THEN it opens for the cooldown
        assert!(Circuit::opens(3, &SETTINGS));
        let open = Circuit { failures: 3, open_until_ms: Some(reopens_at(1000, &SETTINGS)) };
        assert_eq!(open.gate(1500), Gate::Wait(Duration::from_millis(1500)));
        // AND at its end one probe may go, claimed against the time seen
        assert_eq!(open.gate(3000), Gate::Probe { seen: 3000 });
        assert!(open.needs_reset(), "an answer closes it");
    }

    #[test]
    fn a_threshold_of_zero_never_opens() {
        let never = CircuitSettings { failures_to_open: 0, ..SETTINGS };
        assert!(!Circuit::opens(1000, &never));
    }
}
