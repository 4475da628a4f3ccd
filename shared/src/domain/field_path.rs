//! A field path: where a value sits in an event's fields, names joined by dots
//! (`meta.lead_name`). Filters, field selection and integration settings name fields so.

use crate::domain::limits::MAX_PATH_LEN;

/// `is_field_path`'s rule as the OpenAPI document states it (with `maxLength` `MAX_PATH_LEN`).
pub const FIELD_PATH_PATTERN: &str = "^[^.]+(\\.[^.]+)*$";

/// 1 to `MAX_PATH_LEN` characters, each dot-separated name at least one character long.
pub fn is_field_path(path: &str) -> bool {
    !path.is_empty() && path.chars().count() <= MAX_PATH_LEN && path.split('.').all(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_dotted_non_empty_names_counted_in_characters() {
        for ok in ["a", "meta.lead_name", "ü.ß", &"é".repeat(MAX_PATH_LEN), "a b.c"] {
            assert!(is_field_path(ok), "{ok:?}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", &"e".repeat(MAX_PATH_LEN + 1)] {
            assert!(!is_field_path(bad), "{bad:?}");
        }
    }
}
