//! Metrics in CloudWatch's embedded metric format (EMF): one JSON line on stdout, which
//! CloudWatch Logs turns into a metric, so counting costs no API call and no IAM permission.
//! An alarm on a metric here is how an operator learns of what no tenant can see.

use serde_json::json;

pub const NAMESPACE: &str = "Hookline";
/// Queue messages dropped because not even their ids could be read (so no delivery could be
/// marked failed or counted); each is also logged at error level.
pub const UNREADABLE_MESSAGES: &str = "unreadable_messages";

/// The EMF line counting `count` of `metric` for `function` at `timestamp_ms` (Unix ms).
pub fn emf_count(metric: &str, function: &str, count: usize, timestamp_ms: i128) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        "Function": function,
        metric: count,
    })
    .to_string()
}

/// Counts `count` of `metric` for `function` now (nothing when 0).
pub fn count(metric: &str, function: &str, count: usize) {
    if count > 0 {
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        // stdout is the Lambda's log: the line must be written alone, which `println!` does.
        println!("{}", emf_count(metric, function, count, now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_names_the_metric_its_dimension_and_value() {
        let line = emf_count(UNREADABLE_MESSAGES, "alert", 2, 1_700_000_000_000);
        assert!(!line.contains('\n'), "one line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Hookline");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(directive["Metrics"][0], json!({"Name": "unreadable_messages", "Unit": "Count"}));
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(v["Function"], "alert");
        assert_eq!(v["unreadable_messages"], 2);
    }
}
