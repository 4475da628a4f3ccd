//! Webhook filters (page 000's "restrictions"): conditions on the event's fields, all of which
//! must hold for the event to be delivered. Evaluated at ingest, on the flat payload (`context`
//! merged with `data`), so an event that does not match creates no delivery at all.
//!
//! ```json
//! [{"field": "fiat_value", "op": "gte", "value": 50},
//!  {"field": "type", "op": "in", "value": ["manual_redeem", "referral"]},
//!  {"field": "meta.lead_name", "op": "exists"}]
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::error::DomainError;
use crate::domain::field_path;
use crate::domain::limits::{MAX_FILTERS, MAX_LIST_VALUES};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    Exists,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// A field of the flat payload; dots go into objects (`meta.lead_name`).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub field: String,
    pub op: FilterOp,
    /// What to compare with: a number for gt/gte/lt/lte, a list for in/not_in, any JSON value
    /// for eq/ne; for `exists`, `true` (default) or `false` (the field must be absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

fn invalid(message: String) -> DomainError {
    DomainError::invalid("invalid_filter", message)
}

/// Checks a webhook's filters: known shape, and a value that fits each operator.
pub fn validate_filters(filters: &[Filter]) -> Result<(), DomainError> {
    if filters.len() > MAX_FILTERS {
        return Err(invalid(format!("at most {MAX_FILTERS} filters")));
    }
    for f in filters {
        let path_ok = field_path::is_field_path(&f.field);
        if !path_ok {
            return Err(invalid(format!("filter field {:?} must be a dotted path of non-empty names", f.field)));
        }
        let ok = match (f.op, &f.value) {
            (FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte, Some(Value::Number(_))) => true,
            (FilterOp::In | FilterOp::NotIn, Some(Value::Array(list))) => {
                !list.is_empty() && list.len() <= MAX_LIST_VALUES
            }
            (FilterOp::Eq | FilterOp::Ne, Some(_)) => true,
            (FilterOp::Exists, None | Some(Value::Bool(_))) => true,
            _ => false,
        };
        if !ok {
            let needs = match f.op {
                FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte => "a number".to_string(),
                FilterOp::In | FilterOp::NotIn => format!("a list of 1 to {MAX_LIST_VALUES} values"),
                FilterOp::Eq | FilterOp::Ne => "a value".to_string(),
                FilterOp::Exists => "true, false or nothing".to_string(),
            };
            return Err(invalid(format!("filter on {:?}: {:?} takes {needs}", f.field, f.op)));
        }
    }
    Ok(())
}

fn lookup<'a>(payload: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = payload.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// A number, or a string holding one (payloads often carry amounts as text).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// JSON equality, with numbers compared by value (50 equals 50.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn holds(filter: &Filter, payload: &Map<String, Value>) -> bool {
    let found = lookup(payload, &filter.field);
    let value = filter.value.as_ref();
    match filter.op {
        FilterOp::Exists => found.is_some_and(|v| !v.is_null()) == value.and_then(Value::as_bool).unwrap_or(true),
        FilterOp::Eq => matches!((found, value), (Some(f), Some(v)) if same(f, v)),
        FilterOp::Ne => !matches!((found, value), (Some(f), Some(v)) if same(f, v)),
        FilterOp::In | FilterOp::NotIn => {
            let listed = match (found, value.and_then(Value::as_array)) {
                (Some(f), Some(list)) => list.iter().any(|v| same(f, v)),
                _ => false,
            };
            listed == (filter.op == FilterOp::In)
        }
        FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte => {
            let (Some(f), Some(v)) = (found.and_then(number), value.and_then(number)) else {
                return false;
            };
            match filter.op {
                FilterOp::Gt => f > v,
                FilterOp::Gte => f >= v,
                FilterOp::Lt => f < v,
                _ => f <= v,
            }
        }
    }
}

/// True when every filter holds for the payload (no filters: always).
pub fn matches(filters: &[Filter], payload: &Map<String, Value>) -> bool {
    filters.iter().all(|f| holds(f, payload))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filters(v: Value) -> Vec<Filter> {
        let f: Vec<Filter> = serde_json::from_value(v).expect("filters");
        validate_filters(&f).expect("valid");
        f
    }

    fn coupon(fiat_value: Value, kind: &str, class: &str, target: &str) -> Map<String, Value> {
        json!({"business_name": "Acme", "fiat_value": fiat_value, "type": kind, "fiat_class": class,
               "fiat_target": target, "meta": {"lead_name": "Ayush"}})
        .as_object()
        .cloned()
        .expect("object")
    }

    #[test]
    fn page_000_coupon_restrictions() {
        // "Coupon Discount Is Greater Than" 50 (the page: greater than or equal).
        let min = filters(json!([{"field": "fiat_value", "op": "gte", "value": 50}]));
        assert!(matches(&min, &coupon(json!(50), "manual_redeem", "fixed", "cart")));
        assert!(matches(&min, &coupon(json!("75.5"), "manual_redeem", "fixed", "cart")), "numeric text");
        assert!(!matches(&min, &coupon(json!(49.99), "manual_redeem", "fixed", "cart")));
        // "Coupon Discount Is Less Than" 500.
        let max = filters(json!([{"field": "fiat_value", "op": "lte", "value": 500}]));
        assert!(matches(&max, &coupon(json!(500), "x", "fixed", "cart")));
        assert!(!matches(&max, &coupon(json!(501), "x", "fixed", "cart")));
        // "Coupon Types": from a list.
        let types = filters(json!([{"field": "type", "op": "in", "value": ["manual_redeem", "referral"]}]));
        assert!(matches(&types, &coupon(json!(1), "referral", "fixed", "cart")));
        assert!(!matches(&types, &coupon(json!(1), "birthday", "fixed", "cart")));
        // "Coupon Discount Type": fixed or percentage.
        let class = filters(json!([{"field": "fiat_class", "op": "eq", "value": "percent"}]));
        assert!(matches(&class, &coupon(json!(2), "x", "percent", "cart")));
        assert!(!matches(&class, &coupon(json!(2), "x", "fixed", "cart")));
        // "Coupon Discount Applicable On": cart or free shipping.
        let target = filters(json!([{"field": "fiat_target", "op": "eq", "value": "shipping"}]));
        assert!(matches(&target, &coupon(json!(2), "x", "percent", "shipping")));
        assert!(!matches(&target, &coupon(json!(2), "x", "percent", "cart")));
        // All must hold.
        let all = filters(
            json!([{"field": "fiat_value", "op": "gte", "value": 50}, {"field": "fiat_class", "op": "eq", "value": "fixed"}]),
        );
        assert!(matches(&all, &coupon(json!(60), "x", "fixed", "cart")));
        assert!(!matches(&all, &coupon(json!(60), "x", "percent", "cart")));
    }

    #[test]
    fn other_operators() {
        let c = coupon(json!(10), "manual_redeem", "fixed", "cart");
        assert!(matches(&filters(json!([{"field": "type", "op": "ne", "value": "referral"}])), &c));
        assert!(matches(&filters(json!([{"field": "type", "op": "not_in", "value": ["a", "b"]}])), &c));
        assert!(!matches(&filters(json!([{"field": "type", "op": "not_in", "value": ["manual_redeem"]}])), &c));
        assert!(matches(&filters(json!([{"field": "fiat_value", "op": "gt", "value": 9}])), &c));
        assert!(!matches(&filters(json!([{"field": "fiat_value", "op": "lt", "value": 10}])), &c));
        assert!(matches(&filters(json!([{"field": "meta.lead_name", "op": "exists"}])), &c));
        assert!(matches(&filters(json!([{"field": "meta.missing", "op": "exists", "value": false}])), &c));
        assert!(!matches(&filters(json!([{"field": "nope", "op": "exists"}])), &c));
        assert!(
            !matches(&filters(json!([{"field": "business_name", "op": "gt", "value": 1}])), &c),
            "text is not a number"
        );
        assert!(matches(&filters(json!([{"field": "fiat_value", "op": "eq", "value": 10.0}])), &c), "10 equals 10.0");
        assert!(matches(&[], &c));
    }

    #[test]
    fn invalid_filters_are_refused() {
        for bad in [
            json!([{"field": "", "op": "eq", "value": 1}]),
            json!([{"field": "a..b", "op": "eq", "value": 1}]),
            json!([{"field": "a", "op": "gt", "value": "fifty"}]),
            json!([{"field": "a", "op": "in", "value": []}]),
            json!([{"field": "a", "op": "in", "value": "x"}]),
            json!([{"field": "a", "op": "eq"}]),
            json!([{"field": "a", "op": "exists", "value": 3}]),
        ] {
            let f: Vec<Filter> = serde_json::from_value(bad.clone()).expect("shape");
            assert_eq!(validate_filters(&f).expect_err("invalid").code(), "invalid_filter", "{bad}");
        }
        assert!(serde_json::from_value::<Vec<Filter>>(json!([{"field": "a", "op": "like", "value": 1}])).is_err());
        let many: Vec<Filter> =
            (0..21).map(|i| Filter { field: format!("f{i}"), op: FilterOp::Exists, value: None }).collect();
        assert!(validate_filters(&many).is_err());
    }
}
