//! Topic (event type) names, e.g. `coupon_create` or `email.opened`.

use crate::domain::error::DomainError;
use crate::domain::ids;
use crate::domain::limits::MAX_TOPIC_LEN;

/// `validate_topic`'s rule as the OpenAPI document states it (with `maxLength` `MAX_TOPIC_LEN`).
pub const TOPIC_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$";

pub fn validate_topic(topic: &str) -> Result<(), DomainError> {
    let ok = !topic.is_empty()
        && topic.len() <= MAX_TOPIC_LEN
        && topic.starts_with(|c: char| c.is_ascii_alphanumeric())
        && topic.chars().all(ids::is_id_char);
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "invalid_topic",
            format!(
                "topic {topic:?} must be 1 to {MAX_TOPIC_LEN} characters of letters, digits, '_', '-', '.', ':' and start with a letter or digit"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        for ok in ["coupon_create", "wallettrasaction_update", "email.opened", "v2:order-paid"] {
            assert!(validate_topic(ok).is_ok(), "{ok}");
        }
        for bad in ["", " coupon", "coupon create", "_x", "a/b", &"t".repeat(101)] {
            assert!(validate_topic(bad).is_err(), "{bad:?}");
        }
    }
}
