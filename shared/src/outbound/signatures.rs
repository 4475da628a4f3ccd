//! The headers of a delivery request, as data, and the two signatures it carries.
//!
//! - `{prefix}-webhook-hmac`: hex HMAC-SHA256 of the exact body, keyed with the webhook secret
//!   as stored (its UTF-8 bytes): the seed pages' scheme, with `{prefix}-webhook-secret`
//!   (hex SHA-256 of the secret) so a receiver can tell which secret was used.
//! - `webhook-signature`: Standard Webhooks, `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
//!   The key is the base64-decoded part of a `whsec_` secret, or, for a secret a customer
//!   chose in another form ("any value"), its UTF-8 bytes. During a secret rotation the
//!   header lists one signature per valid secret, separated by spaces.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::domain::secret::SECRET_PREFIX;

type HmacSha256 = hmac::Hmac<Sha256>;

pub const ALGORITHM: &str = "sha256";
pub const ACCEPT: &str = "application/json";

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("header prefix {0:?} must be 1 to 40 lowercase letters, digits and '-', not starting or ending with '-'")]
pub struct InvalidPrefix(pub String);

/// Every header name a delivery carries; Hookline's own ones share a deployment's prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderNames {
    pub hmac_algo: String,
    pub hmac: String,
    pub secret_algo: String,
    pub secret: String,
    pub timestamp: String,
    pub delivery_id: String,
    pub topic: String,
}

pub const HEADER_ACCEPT: &str = "accept";
pub const HEADER_CONTENT_TYPE: &str = "content-type";
pub const HEADER_SOURCE: &str = "x-source";
pub const HEADER_WEBHOOK_ID: &str = "webhook-id";
pub const HEADER_WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_WEBHOOK_SIGNATURE: &str = "webhook-signature";

impl HeaderNames {
    pub fn with_prefix(prefix: &str) -> Result<Self, InvalidPrefix> {
        let ok = (1..=40).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !prefix.starts_with('-')
            && !prefix.ends_with('-');
        if !ok {
            return Err(InvalidPrefix(prefix.to_string()));
        }
        Ok(Self {
            hmac_algo: format!("{prefix}-webhook-hmac-algo"),
            hmac: format!("{prefix}-webhook-hmac"),
            secret_algo: format!("{prefix}-webhook-secret-algo"),
            secret: format!("{prefix}-webhook-secret"),
            timestamp: format!("{prefix}-timestamp"),
            delivery_id: format!("{prefix}-delivery-id"),
            topic: format!("{prefix}-topic"),
        })
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Hex HMAC-SHA256 of `body` keyed with the secret's bytes.
pub fn body_hmac_hex(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// Hex SHA-256 of the secret.
pub fn secret_sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The Standard Webhooks key of a secret: see the module docs.
fn standard_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|b64| STANDARD.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// `v1,<base64 signature>` of one secret.
pub fn standard_signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let sig = hmac_sha256(&standard_key(secret), &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(sig))
}

/// One request's headers. `secrets[0]` is the current secret (used for the prefix HMAC
/// headers); every secret in `secrets` signs the Standard Webhooks header.
#[allow(clippy::too_many_arguments)]
pub fn request_headers(
    names: &HeaderNames,
    source: &str,
    content_type: &str,
    secrets: &[&str],
    delivery_id: &str,
    topic: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let current = secrets.first().copied().unwrap_or_default();
    let ts = timestamp.to_string();
    let signatures: Vec<String> = secrets.iter().map(|s| standard_signature(s, delivery_id, timestamp, body)).collect();
    vec![
        (HEADER_ACCEPT.into(), ACCEPT.into()),
        (HEADER_CONTENT_TYPE.into(), content_type.into()),
        (HEADER_SOURCE.into(), source.into()),
        (names.hmac_algo.clone(), ALGORITHM.into()),
        (names.hmac.clone(), body_hmac_hex(current, body)),
        (names.secret_algo.clone(), ALGORITHM.into()),
        (names.secret.clone(), secret_sha256_hex(current)),
        (names.timestamp.clone(), ts.clone()),
        (names.delivery_id.clone(), delivery_id.into()),
        (names.topic.clone(), topic.into()),
        (HEADER_WEBHOOK_ID.into(), delivery_id.into()),
        (HEADER_WEBHOOK_TIMESTAMP.into(), ts),
        (HEADER_WEBHOOK_SIGNATURE.into(), signatures.join(" ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers computed independently (Python's hmac/hashlib), and the Standard Webhooks
    // specification's own test vector.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn standard_webhooks_spec_vector() {
        assert_eq!(
            standard_signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn raw_secrets_sign_with_their_bytes() {
        assert_eq!(
            standard_signature("nector-style-secret-42", "dlv_1", 1_700_000_000, br#"{"a":1}"#),
            "v1,pZXctVtv7jyOL+nxqKQAWZmmhJa74bpIn+LaZAULBHY="
        );
    }

    #[test]
    fn prefix_hmac_and_secret_digest_known_answers() {
        assert_eq!(
            body_hmac_hex(SPEC_SECRET, SPEC_BODY),
            "80ec8a89ce3cd22133a1066caecb4d04fea7467657c8514d717ec42c38a5c94c"
        );
        assert_eq!(secret_sha256_hex(SPEC_SECRET), "96ad2ccd81462a766178ae09a71df55f548a3f66da11606f9cdf40b391e22dd0");
    }

    fn header_map(headers: &[(String, String)]) -> http::HeaderMap {
        headers
            .iter()
            .map(|(k, v)| (http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("value")))
            .collect()
    }

    #[test]
    fn the_reference_library_verifies_and_rejects_tampering() {
        let names = HeaderNames::with_prefix("x-hookline").expect("prefix");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = br#"{"coupon":"TWOOFF"}"#;
        let headers = request_headers(&names, "hookline", "application/json", &[SPEC_SECRET], "dlv_x", "t", now, body);
        let map = header_map(&headers);
        let verifier = standardwebhooks::Webhook::new(SPEC_SECRET).expect("secret");
        verifier.verify(body, &map).expect("verifies");
        assert!(verifier.verify(br#"{"coupon":"TWOOFX"}"#, &map).is_err());
        assert_eq!(map["x-hookline-webhook-hmac"], body_hmac_hex(SPEC_SECRET, body).as_str());
        assert_eq!(map["x-hookline-delivery-id"], "dlv_x");
        assert_eq!(map["webhook-id"], "dlv_x");
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let names = HeaderNames::with_prefix("x-hookline").expect("prefix");
        let old = "whsec_dGhlLW9sZC1zZWNyZXQtMTIzNDU2Nzg=";
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let headers =
            request_headers(&names, "hookline", "application/json", &[SPEC_SECRET, old], "dlv_y", "t", now, b"{}");
        let map = header_map(&headers);
        assert_eq!(map["webhook-signature"].to_str().expect("ascii").split(' ').count(), 2);
        for secret in [SPEC_SECRET, old] {
            standardwebhooks::Webhook::new(secret).expect("secret").verify(b"{}", &map).expect("each secret verifies");
        }
    }

    #[test]
    fn prefixes_are_validated() {
        assert!(HeaderNames::with_prefix("x-hookline").is_ok());
        assert_eq!(HeaderNames::with_prefix("x-nector").expect("ok").hmac, "x-nector-webhook-hmac");
        for bad in ["X-Bad", "", "-x", "x-", "x_y", &"x".repeat(41)] {
            assert!(HeaderNames::with_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
