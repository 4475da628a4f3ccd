//! Paging through listings: a page size from the request, and opaque cursors (the last id of
//! a page, encoded) that are checked to be ones this API handed out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ids;
use crate::domain::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Page request of a listing: `limit` and an opaque `cursor` from the previous page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

pub fn encode_cursor(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_id)
}

pub fn decode_cursor(cursor: &str, prefix: &str) -> DomainResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|id| ids::is_generated_id(id, prefix))
        .ok_or_else(|| DomainError::invalid("invalid_cursor", "cursor is not one this API returned"))
}

pub fn parse_limit(limit: Option<&str>) -> DomainResult<usize> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
            DomainError::invalid("invalid_limit", format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::WEBHOOK_PREFIX;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let id = ids::new_id(WEBHOOK_PREFIX);
        assert_eq!(decode_cursor(&encode_cursor(&id), WEBHOOK_PREFIX).expect("valid"), id);
        assert_eq!(decode_cursor("!!", WEBHOOK_PREFIX).expect_err("bad").code(), "invalid_cursor");
        assert_eq!(decode_cursor(&encode_cursor("wh_x"), WEBHOOK_PREFIX).expect_err("bad").code(), "invalid_cursor");
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit(None).expect("default"), DEFAULT_PAGE_SIZE);
        assert_eq!(parse_limit(Some("5")).expect("5"), 5);
        for bad in ["0", "101", "-1", "ten"] {
            assert_eq!(parse_limit(Some(bad)).expect_err(bad).code(), "invalid_limit");
        }
    }
}
