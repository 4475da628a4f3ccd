//! From invocations to dollars: each Lambda invocation (or API request) with the AWS calls it
//! made is priced, its cost split over the paths of the deliveries it served, and the totals
//! printed as dollars per million deliveries, per component and per path.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::bill;
use super::dynamo::TableModel;
use super::meter::{self, Component, Usage};
use super::prices::PriceTable;
use crate::aws_proxy::AwsCall;

/// What a share of the cost is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CostPath {
    /// The API request that accepts an event and queues its deliveries.
    Ingest,
    /// A delivery's first attempt.
    Delivery,
    /// Every later attempt.
    Retry,
    /// The dead-letter queue and the alert function (counts, e-mails).
    DeadAlert,
}

impl CostPath {
    pub const ALL: [CostPath; 4] = [CostPath::Ingest, CostPath::Delivery, CostPath::Retry, CostPath::DeadAlert];

    pub fn label(self) -> &'static str {
        match self {
            CostPath::Ingest => "ingest",
            CostPath::Delivery => "delivery",
            CostPath::Retry => "retry",
            CostPath::DeadAlert => "dead + alert",
        }
    }
}

/// One function invocation as measured: how long it ran, what it logged, the AWS calls it
/// made (and those its event source mapping made for it), and which paths it served.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub memory_mb: u32,
    pub duration_ns: u128,
    pub logged_bytes: u64,
    pub calls: Vec<AwsCall>,
    /// An API Gateway request of this many bytes invoked it (the api function).
    pub api_request_bytes: Option<u64>,
    /// How its cost divides over paths (fractions summing to 1), e.g. by the records of a batch.
    pub shares: Vec<(CostPath, f64)>,
}

/// An invocation's duration without what recording its calls added (`AwsCall::overhead`).
pub fn net_duration(measured: std::time::Duration, calls: &[AwsCall]) -> std::time::Duration {
    measured.saturating_sub(calls.iter().map(|c| c.overhead).sum())
}

/// The units of one invocation: Lambda's own, the API request's and every call's.
pub fn invocation_usage(inv: &Invocation, table: &TableModel, platform_log_bytes: f64) -> Result<Usage, String> {
    let mut usage = meter::lambda_invocation(inv.duration_ns, inv.memory_mb, inv.logged_bytes, platform_log_bytes);
    if let Some(bytes) = inv.api_request_bytes {
        usage += meter::api_request(bytes);
    }
    for call in &inv.calls {
        usage += bill::price_call(call, table)?;
    }
    Ok(usage)
}

/// Units per path over a run, and the deliveries they bought.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub by_path: BTreeMap<CostPath, Usage>,
    pub deliveries: u64,
}

impl Ledger {
    /// Adds `usage`, split over `shares`.
    pub fn add(&mut self, usage: Usage, shares: &[(CostPath, f64)]) {
        for (path, share) in shares {
            *self.by_path.entry(*path).or_default() += usage * *share;
        }
    }

    pub fn total(&self) -> Usage {
        self.by_path.values().fold(Usage::default(), |a, b| a + *b)
    }

    /// Dollars per million deliveries of `usage`.
    pub fn per_million(&self, usage: &Usage, prices: &PriceTable) -> f64 {
        if self.deliveries == 0 {
            return 0.0;
        }
        let dollars: f64 = Component::ALL.iter().map(|c| usage.dollars(*c, |c| prices.unit_price(c))).sum();
        dollars / self.deliveries as f64 * 1e6
    }

    fn component_per_million(&self, usage: &Usage, component: Component, prices: &PriceTable) -> f64 {
        if self.deliveries == 0 {
            return 0.0;
        }
        usage.dollars(component, |c| prices.unit_price(c)) / self.deliveries as f64 * 1e6
    }

    /// The table: $ per million deliveries, a row per component, a column per path.
    pub fn render(&self, prices: &PriceTable) -> String {
        let mut out = String::new();
        let _ = write!(out, "{:<22}", "$ per million");
        for path in CostPath::ALL {
            let _ = write!(out, "{:>14}", path.label());
        }
        let _ = writeln!(out, "{:>14}", "total");
        let zero = Usage::default();
        for component in Component::ALL {
            let _ = write!(out, "{:<22}", component.label());
            for path in CostPath::ALL {
                let usage = self.by_path.get(&path).unwrap_or(&zero);
                let _ = write!(out, "{:>14.4}", self.component_per_million(usage, component, prices));
            }
            let _ = writeln!(out, "{:>14.4}", self.component_per_million(&self.total(), component, prices));
        }
        let _ = write!(out, "{:<22}", "total");
        for path in CostPath::ALL {
            let _ = write!(out, "{:>14.4}", self.per_million(self.by_path.get(&path).unwrap_or(&zero), prices));
        }
        let _ = writeln!(out, "{:>14.4}", self.per_million(&self.total(), prices));
        out
    }
}

/// The two closing lines `make cost` ends with.
pub fn closing_lines(common_case: f64, mix: f64) -> String {
    format!("common case: ${common_case:.2} per million deliveries\nmix: ${mix:.2} per million deliveries\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::prices;

    #[test]
    fn a_shared_cost_is_split_over_paths_and_priced_per_million_deliveries() {
        // GIVEN 10 write units shared 70/30 by delivery and retry, over 2 deliveries
        let prices = PriceTable::load(&prices::default_path()).expect("prices");
        let mut ledger = Ledger { deliveries: 2, ..Ledger::default() };
        ledger.add(Usage::of(Component::DynamoWrites, 10.0), &[(CostPath::Delivery, 0.7), (CostPath::Retry, 0.3)]);
        // THEN 7 and 3 units land on the paths, and 10 units at $0.625/M over 2 deliveries is $3.125/M
        assert!((ledger.by_path[&CostPath::Delivery].get(Component::DynamoWrites) - 7.0).abs() < 1e-9);
        assert!((ledger.per_million(&ledger.total(), &prices) - 3.125).abs() < 1e-9);
        // AND the table has a row per component and a total row
        let table = ledger.render(&prices);
        assert_eq!(table.lines().count(), 1 + Component::ALL.len() + 1);
        assert!(table.lines().last().expect("total").starts_with("total"));
    }

    #[test]
    fn an_invocation_is_its_lambda_request_compute_logs_and_calls() {
        // GIVEN an api invocation of 3 ms at 128 MB that logged 610 bytes and made no call
        let inv = Invocation {
            memory_mb: 128,
            duration_ns: 2_500_000,
            logged_bytes: 610,
            calls: Vec::new(),
            api_request_bytes: Some(1200),
            shares: vec![(CostPath::Ingest, 1.0)],
        };
        let table = TableModel { keys: vec!["pk".into()], indexes: Vec::new() };
        let usage = invocation_usage(&inv, &table, 390.0).expect("priced");
        // THEN one request, 3 ms of 0.125 GB, 1000 bytes of logs, one API request
        assert_eq!(usage.get(Component::LambdaRequests), 1.0);
        assert!((usage.get(Component::LambdaCompute) - 0.003 * 0.125).abs() < 1e-12);
        assert!((usage.get(Component::Logs) * meter::BYTES_PER_GB - 1000.0).abs() < 1e-6);
        assert_eq!(usage.get(Component::ApiGateway), 1.0);
    }

    #[test]
    fn the_recording_overhead_is_taken_off_the_duration() {
        use std::time::Duration;
        let call = |ms| AwsCall {
            operation: "dynamodb:PutItem".into(),
            body: Default::default(),
            status: 200,
            response: Default::default(),
            before: vec![None],
            after: vec![None],
            overhead: Duration::from_millis(ms),
        };
        assert_eq!(net_duration(Duration::from_millis(10), &[call(3), call(4)]), Duration::from_millis(3));
        assert_eq!(net_duration(Duration::from_millis(5), &[call(9)]), Duration::ZERO);
    }

    #[test]
    fn the_closing_lines_are_exactly_two_with_cents() {
        assert_eq!(
            closing_lines(1.234, 7.0),
            "common case: $1.23 per million deliveries\nmix: $7.00 per million deliveries\n"
        );
    }
}
