//! API keys. A key is shown once, at creation; only its SHA-256 is stored, so a leaked table
//! does not leak working keys. SHA-256 without a salt is right here (unlike for passwords):
//! keys carry 256 bits of randomness, so there is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{ids, secret, timestamp};

/// Prefix of every API key, so a key in a log or a paste is recognisable (and scannable).
pub const API_KEY_PREFIX: &str = "hk_";

/// What is stored for a key: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub key_hash: String,
    pub name: String,
    /// The one tenant a tenant key may act for; an operator key (every tenant) has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The key's last characters, to tell keys apart in a listing (keys made before hints
    /// existed have none).
    #[serde(default)]
    pub hint: String,
    pub created_at: String,
}

pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new key for `tenant_id` (an operator key without one) and the record to store for it.
pub fn new_key(name: &str, tenant_id: Option<&str>) -> (String, ApiKeyRecord) {
    let key = generate();
    let record = record_for(&key, name, tenant_id);
    (key, record)
}

/// The record to store for a given key (the local runner takes one from the environment).
pub fn record_for(key: &str, name: &str, tenant_id: Option<&str>) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: ids::new_id(ids::API_KEY_ID_PREFIX),
        key_hash: hash(key),
        name: name.to_string(),
        tenant_id: tenant_id.map(str::to_string),
        hint: secret::hint(key),
        created_at: timestamp::format(timestamp::now()),
    }
}

/// Extracts the key from an `Authorization` header value (`Bearer <key>`, scheme case-insensitive).
pub fn from_authorization(header: &str) -> Option<&str> {
    let (scheme, key) = header.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex_known_answer() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn new_keys_are_distinct_and_stored_hashed() {
        let (k1, r1) = new_key("ci", None);
        let (k2, r2) = new_key("ci", Some("acme"));
        assert_ne!(k1, k2);
        assert!(k1.starts_with(API_KEY_PREFIX));
        assert_eq!(r1.key_hash, hash(&k1));
        assert!(!r1.key_hash.contains(&k1));
        assert_eq!((r1.tenant_id, r2.tenant_id.as_deref()), (None, Some("acme")));
        assert!(k1.ends_with(r1.hint.trim_start_matches('…')) && r1.hint.chars().count() < 8, "{}", r1.hint);
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(from_authorization("Bearer hk_abc"), Some("hk_abc"));
        assert_eq!(from_authorization("bearer   hk_abc "), Some("hk_abc"));
        assert_eq!(from_authorization("Basic abc"), None);
        assert_eq!(from_authorization("Bearer "), None);
        assert_eq!(from_authorization("hk_abc"), None);
    }
}
