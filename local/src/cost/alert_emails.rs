//! Alert e-mails per delivery at a stated traffic rate (decision 48).
//!
//! The alert rules send at most one e-mail per confirmed recipient per failing webhook per
//! alert interval, however many of its deliveries die in it. So e-mails are a cost per failing
//! webhook per hour, not per delivery: how many a million deliveries bring depends on how fast
//! they come. A cost run has to shorten the interval to see its held dead letters come back
//! within minutes, and so stands for a trickle (a webhook getting a delivery every few minutes),
//! where every dead delivery is mailed. The bill takes the run's e-mails as they are, but never
//! more than the rules allow at the stated rate (`webhook_deliveries_per_second` in
//! local/prices.json): one e-mail per recipient per webhook for each interval's worth of its
//! deliveries.

use super::ledger::Ledger;
use super::meter::{Component, Usage};

/// The traffic the e-mail count is billed at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertTraffic {
    /// Deliveries per second to each webhook of the mix.
    pub deliveries_per_second: f64,
    /// The alert interval of the mix's webhooks (their default).
    pub interval_minutes: u32,
    /// Confirmed alert recipients of each webhook.
    pub recipients: u32,
}

impl AlertTraffic {
    /// The most e-mails the rules send for `deliveries` at this rate: one per recipient per
    /// interval's worth of deliveries (each webhook failing in every interval, the worst case).
    pub fn most_emails(&self, deliveries: u64) -> f64 {
        let per_interval = self.deliveries_per_second * f64::from(self.interval_minutes) * 60.0;
        if per_interval <= 0.0 {
            return f64::INFINITY;
        }
        deliveries as f64 / per_interval * f64::from(self.recipients)
    }
}

/// The run's e-mails, capped by what the rules allow at `traffic`: the e-mail count a ledger of
/// `ledger.deliveries` is billed for.
pub fn billed_emails(measured: f64, deliveries: u64, traffic: &AlertTraffic) -> f64 {
    measured.min(traffic.most_emails(deliveries))
}

/// `ledger` with its e-mails billed at `traffic` (each path's share scaled alike); returns the
/// e-mails the run sent.
pub fn bill_at(ledger: &mut Ledger, traffic: &AlertTraffic) -> f64 {
    let measured = ledger.total().get(Component::Ses);
    if measured <= 0.0 {
        return 0.0;
    }
    let scale = billed_emails(measured, ledger.deliveries, traffic) / measured;
    for usage in ledger.by_path.values_mut() {
        let emails = usage.get(Component::Ses);
        *usage += Usage::of(Component::Ses, emails * (scale - 1.0));
    }
    measured
}

/// Deliveries per second to each of `webhooks` that a run stood for, when it made `deliveries`
/// in `elapsed_s` seconds with one alert minute lasting `minute_ms`.
pub fn run_rate(deliveries: u64, webhooks: u32, elapsed_s: f64, minute_ms: u64) -> f64 {
    let simulated_s = elapsed_s * 60_000.0 / minute_ms.max(1) as f64;
    deliveries as f64 / f64::from(webhooks.max(1)) / simulated_s.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::ledger::CostPath;

    const ONE_PER_SECOND: AlertTraffic =
        AlertTraffic { deliveries_per_second: 1.0, interval_minutes: 60, recipients: 1 };

    #[test]
    fn at_volume_a_webhook_is_mailed_once_per_interval_not_per_dead_delivery() {
        // GIVEN a run of 480 deliveries that sent 4 e-mails (every dead one mailed)
        // THEN at one delivery a second an hour holds 3600 deliveries: 480 deliveries are 2/15 of an e-mail
        assert!((billed_emails(4.0, 480, &ONE_PER_SECOND) - 480.0 / 3600.0).abs() < 1e-12);
        // AND a million deliveries at that rate are 278 e-mails, $0.028 at SES's $0.10 per thousand
        assert!((ONE_PER_SECOND.most_emails(1_000_000) - 277.78).abs() < 0.01);
        // AND two recipients get one each
        let two = AlertTraffic { recipients: 2, ..ONE_PER_SECOND };
        assert!((two.most_emails(3600) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn at_a_trickle_every_mailed_dead_delivery_is_billed() {
        // GIVEN a webhook getting a delivery every 10 minutes: 6 an hour
        let trickle = AlertTraffic { deliveries_per_second: 1.0 / 600.0, ..ONE_PER_SECOND };
        // THEN the run's 4 e-mails for 480 deliveries stand (the rules allow 80)
        assert_eq!(billed_emails(4.0, 480, &trickle), 4.0);
        // AND no traffic caps nothing
        assert_eq!(billed_emails(4.0, 480, &AlertTraffic { deliveries_per_second: 0.0, ..ONE_PER_SECOND }), 4.0);
    }

    #[test]
    fn billing_at_a_rate_scales_only_the_emails_of_every_path() {
        // GIVEN a ledger of 3600 deliveries with 10 e-mails and 5 write units on the dead path
        let mut ledger = Ledger { deliveries: 3600, ..Ledger::default() };
        ledger.add(
            Usage::of(Component::Ses, 10.0) + Usage::of(Component::DynamoWrites, 5.0),
            &[(CostPath::DeadAlert, 1.0)],
        );
        // WHEN its e-mails are billed at one delivery a second
        let measured = bill_at(&mut ledger, &ONE_PER_SECOND);
        // THEN it sent 10, is billed for 1, and its writes are untouched
        assert_eq!(measured, 10.0);
        assert!((ledger.total().get(Component::Ses) - 1.0).abs() < 1e-12);
        assert_eq!(ledger.total().get(Component::DynamoWrites), 5.0);
    }

    #[test]
    fn a_run_with_a_shortened_minute_stands_for_a_trickle() {
        // GIVEN 480 deliveries to 4 webhooks in 60 s with a minute of 100 ms (600× faster)
        let rate = run_rate(480, 4, 60.0, 100);
        // THEN each webhook got 120 deliveries in 10 simulated hours: one every 5 minutes
        assert!((rate - 120.0 / 36_000.0).abs() < 1e-12);
    }
}
