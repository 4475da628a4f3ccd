//! Identifiers. Hookline's own ids are a type prefix plus a UUIDv7 in hex: time-ordered (so a
//! delivery id sorts by creation), unguessable enough for an id, and safe in URLs and keys.
//! Ids chosen by callers (tenant ids, event ids) are validated to a conservative alphabet
//! because they become parts of DynamoDB keys and URL paths.

use crate::domain::error::DomainError;
use crate::domain::limits::{MAX_EVENT_ID_LEN, MAX_TENANT_ID_LEN};

pub const WEBHOOK_PREFIX: &str = "wh_";
pub const EVENT_PREFIX: &str = "evt_";
/// An ingest call (one event or a batch): its marker says its deliveries are on the queue.
pub const INGEST_PREFIX: &str = "ing_";
pub const DELIVERY_PREFIX: &str = "dlv_";
pub const API_KEY_ID_PREFIX: &str = "key_";

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

/// Hex digits of a call's delivery ids that number its deliveries (the rest are the call's).
const CALL_DELIVERY_DIGITS: usize = 4;
const ID_HEX: usize = 32;

/// A new ingest call's id: a UUIDv7 whose last 16 bits are zero, free to number the call's
/// deliveries (`call_delivery_id`), so a delivery id leads back to its call (decision 44).
pub fn new_ingest_id() -> String {
    let id = new_id(INGEST_PREFIX);
    format!("{}{}", &id[..id.len() - CALL_DELIVERY_DIGITS], "0".repeat(CALL_DELIVERY_DIGITS))
}

/// The id of the `delivery`-th delivery of the `event`-th event of ingest call `ingest_id`:
/// the call's id with those two numbers (each below 256) in its last 16 bits. Unique per call,
/// time-ordered like any UUIDv7, and `ingest_of_delivery` reads the call back from it.
pub fn call_delivery_id(ingest_id: &str, event: usize, delivery: usize) -> String {
    let hex = ingest_id.strip_prefix(INGEST_PREFIX).unwrap_or(ingest_id);
    let call = &hex[..hex.len().saturating_sub(CALL_DELIVERY_DIGITS)];
    format!("{DELIVERY_PREFIX}{call}{:02x}{:02x}", event % 256, delivery % 256)
}

/// The ingest call a delivery id names, and its event's place in that call (for ids made by
/// `call_delivery_id`; any other id names a call that does not exist).
pub fn ingest_of_delivery(delivery_id: &str) -> Option<(String, usize)> {
    if !is_generated_id(delivery_id, DELIVERY_PREFIX) {
        return None;
    }
    let hex = &delivery_id[DELIVERY_PREFIX.len()..];
    let (call, numbers) = hex.split_at(ID_HEX - CALL_DELIVERY_DIGITS);
    let event = usize::from_str_radix(&numbers[..2], 16).ok()?;
    Some((format!("{INGEST_PREFIX}{call}{}", "0".repeat(CALL_DELIVERY_DIGITS)), event))
}

/// The alphabet of caller-chosen names (ids, topics, prefixes): safe in keys, URLs and headers.
pub fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

fn check_caller_id(value: &str, max: usize, code: &'static str, what: &str) -> Result<(), DomainError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.chars().all(is_id_char)
        && value.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            code,
            format!(
                "{what} must be 1 to {max} characters of letters, digits, '_', '-', '.', ':' and start with a letter or digit"
            ),
        ))
    }
}

pub fn validate_tenant_id(tenant_id: &str) -> Result<(), DomainError> {
    check_caller_id(tenant_id, MAX_TENANT_ID_LEN, "invalid_tenant_id", "tenant_id")
}

pub fn validate_event_id(event_id: &str) -> Result<(), DomainError> {
    check_caller_id(event_id, MAX_EVENT_ID_LEN, "invalid_event_id", "event id")
}

/// True when `id` has the shape of an id Hookline generated with `prefix`. Used to answer a
/// clean 404 for ids that cannot exist without a storage round-trip.
pub fn is_generated_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_and_sort_by_time() {
        let a = new_id(DELIVERY_PREFIX);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(DELIVERY_PREFIX);
        assert!(is_generated_id(&a, DELIVERY_PREFIX));
        assert!(a < b, "{a} should sort before {b}");
        assert!(!is_generated_id(&a, WEBHOOK_PREFIX));
    }

    #[test]
    fn a_calls_delivery_ids_lead_back_to_it_and_to_their_event() {
        let call = new_ingest_id();
        assert!(is_generated_id(&call, INGEST_PREFIX) && call.ends_with("0000"), "{call}");
        let ids: Vec<String> =
            [(0, 0), (0, 1), (1, 0), (99, 99)].iter().map(|&(e, d)| call_delivery_id(&call, e, d)).collect();
        assert!(ids.iter().all(|id| is_generated_id(id, DELIVERY_PREFIX)), "{ids:?}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in the call's order: {ids:?}");
        assert_eq!(ingest_of_delivery(&ids[2]), Some((call.clone(), 1)));
        assert_eq!(ingest_of_delivery(&ids[3]), Some((call.clone(), 99)));
        assert_ne!(call_delivery_id(&new_ingest_id(), 0, 0), ids[0], "another call, other ids");
        assert_eq!(ingest_of_delivery("dlv_nothex"), None);
    }

    #[test]
    fn caller_ids_are_checked() {
        assert!(validate_tenant_id("acme-store_1.eu").is_ok());
        for bad in ["", "-lead", "has space", "sl/ash", "emoji😀", &"x".repeat(65)] {
            assert!(validate_tenant_id(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(validate_event_id("order:1234").is_ok());
        assert!(validate_event_id(&"e".repeat(129)).is_err());
    }
}
