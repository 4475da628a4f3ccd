//! Webhook signing secrets. Generated secrets use the Standard Webhooks form
//! (`whsec_` + base64 of 24 random bytes), so receivers can use any Standard Webhooks library.
//! A secret is returned whole only when it is created; afterwards only a hint.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use crate::domain::error::DomainError;
use crate::domain::limits::{MAX_SECRET_LEN, MIN_SECRET_LEN};

pub const SECRET_PREFIX: &str = "whsec_";

/// A secret value whose `Debug` never shows it, so logging a struct cannot leak it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

pub fn generate() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// A caller-chosen secret (pages 000/001: "can be any value") must still be long enough to
/// resist guessing and be printable ASCII, because it travels in headers and configs.
/// `validate`'s characters (printable ASCII without spaces), as the OpenAPI document states them.
pub const SECRET_PATTERN: &str = "^[!-~]+$";

pub fn validate(secret: &str) -> Result<(), DomainError> {
    let len_ok = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len());
    let chars_ok = secret.bytes().all(|b| b.is_ascii_graphic());
    if len_ok && chars_ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "invalid_secret",
            format!("secret must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} printable ASCII characters without spaces"),
        ))
    }
}

/// Values shorter than this get a hint without any of their characters: four characters of
/// a short password (`pw1`) are most or all of it.
pub const MIN_HINTED_LEN: usize = 12;

/// The characters a hint shows of a long enough value.
const HINT_CHARS: usize = 4;

/// What the API shows of a stored secret (signing secret, API key, auth or header value): its
/// last four characters, or none of them when it is shorter than `MIN_HINTED_LEN`.
pub fn hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < MIN_HINTED_LEN {
        return "…".to_string();
    }
    let tail: String = chars[chars.len() - HINT_CHARS..].iter().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_standard_webhooks_shaped() {
        let s = generate();
        let b64 = s.strip_prefix(SECRET_PREFIX).expect("prefix");
        assert_eq!(STANDARD.decode(b64).expect("base64").len(), 24);
        assert!(validate(&s).is_ok());
        assert_ne!(s, generate());
    }

    #[test]
    fn caller_secrets_are_checked_and_hinted() {
        assert!(validate("short").is_err());
        assert!(validate("has a space in it, 1234").is_err());
        assert!(validate("a-perfectly-fine-secret").is_ok());
        assert_eq!(hint("a-perfectly-fine-secret"), "…cret");
    }

    #[test]
    fn short_values_get_a_hint_with_none_of_their_characters() {
        // GIVEN values around the length from which a hint shows characters
        for (value, expected) in [
            ("", "…"),
            ("pw1", "…"),
            ("é", "…"),
            ("elevenchars", "…"),
            ("twelve-chars", "…hars"),
            ("ünïcödé-välüé", "…älüé"),
        ] {
            // THEN a short one shows nothing of itself, a long one its last four characters
            assert_eq!(hint(value), expected, "{value:?}");
        }
    }
}
