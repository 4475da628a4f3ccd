//! Metrics in CloudWatch's embedded metric format (EMF): one JSON line on stdout, which
//! CloudWatch Logs turns into metrics, so counting costs no API call and no IAM permission.
//! An alarm on a metric here is how an operator learns of what no tenant can see.
//!
//! One line per invocation (or API request that ingests an event) carries all its figures,
//! summed (`domain::metrics`' tallies): log bytes are billed, so never a line per delivery.
//! Zero sums are left out; an invocation with nothing to say writes nothing.

use serde_json::{Map, Value, json};

use crate::domain::metrics::{Figures, Measure};

pub const NAMESPACE: &str = "Hookline";
/// The dimension every metric is kept by: which function counted it.
const DIMENSION: &str = "Function";
/// EMF takes at most 100 values of one metric in one line.
const MAX_VALUES: usize = 100;

/// The EMF line of `measures` for `function` at `timestamp_ms` (Unix ms); `None` when every
/// measure is empty.
pub fn emf_line(function: &str, measures: &[Measure], timestamp_ms: i128) -> Option<String> {
    let measures: Vec<&Measure> = measures.iter().filter(|m| !m.is_empty()).collect();
    if measures.is_empty() {
        return None;
    }
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION]],
                "Metrics": measures.iter().map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()})).collect::<Vec<_>>(),
            }],
        }),
    );
    line.insert(DIMENSION.into(), Value::from(function));
    for m in measures {
        let value = match &m.figures {
            Figures::Sum(n) => Value::from(*n),
            Figures::Values(v) => Value::from(v.iter().take(MAX_VALUES).copied().collect::<Vec<u64>>()),
        };
        line.insert(m.name.into(), value);
    }
    Some(Value::Object(line).to_string())
}

/// Writes `measures` for `function` now (nothing when all are empty).
pub fn emit(function: &str, measures: &[Measure]) {
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    if let Some(line) = emf_line(function, measures, now_ms) {
        // stdout is the Lambda's log: the line must be written alone, which `println!` does.
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::{AlertTally, DeliveryTally};

    #[test]
    fn an_emf_line_names_each_metric_its_unit_dimension_and_value() {
        // GIVEN a delivery batch: two delivered, one retrying, three requests timed
        let tally = DeliveryTally {
            delivered: 2,
            retrying: 1,
            attempts: 3,
            latencies_ms: vec![12, 40, 7],
            ..DeliveryTally::default()
        };
        // WHEN it is written
        let line = emf_line("delivery", &tally.measures(), 1_700_000_000_000).expect("a line");
        // THEN one line, CloudWatch's EMF structure, zero sums left out
        assert!(!line.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(
            v,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Hookline",
                        "Dimensions": [["Function"]],
                        "Metrics": [
                            {"Name": "deliveries_delivered", "Unit": "Count"},
                            {"Name": "deliveries_retrying", "Unit": "Count"},
                            {"Name": "attempts", "Unit": "Count"},
                            {"Name": "endpoint_latency", "Unit": "Milliseconds"},
                        ],
                    }],
                },
                "Function": "delivery",
                "deliveries_delivered": 2,
                "deliveries_retrying": 1,
                "attempts": 3,
                "endpoint_latency": [12, 40, 7],
            })
        );
    }

    #[test]
    fn nothing_to_count_writes_no_line_and_values_are_capped_at_emfs_limit() {
        assert_eq!(emf_line("alert", &AlertTally::default().measures(), 0), None);
        let tally = DeliveryTally { latencies_ms: vec![1; 150], ..DeliveryTally::default() };
        let line = emf_line("delivery", &tally.measures(), 0).expect("a line");
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["endpoint_latency"].as_array().map(Vec::len), Some(MAX_VALUES));
    }

    #[test]
    fn the_alert_functions_line_counts_unreadable_messages() {
        let tally = AlertTally { unreadable: 2, dead_letters: 1, ..AlertTally::default() };
        let v: Value = serde_json::from_str(&emf_line("alert", &tally.measures(), 5).expect("line")).expect("json");
        assert_eq!(v["unreadable_messages"], 2);
        assert_eq!(v["dead_letters"], 1);
        assert_eq!(v["Function"], "alert");
        assert!(v.get("alerts_sent").is_none());
    }
}
