//! Who is asking, and what they may reach. An operator key acts for every tenant; a tenant
//! key, and a console session opened for a tenant, act for that tenant only. Another tenant's
//! resources are answered as if they did not exist; the key routes are the operator's alone.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::domain::api_key::{self, ApiKeyRecord};

/// The caller of a request, once authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    Operator {
        key_id: String,
        key_hash: String,
    },
    Tenant {
        key_id: String,
        key_hash: String,
        tenant_id: String,
    },
    /// A browser in the console; changes need its `csrf_token` in a header.
    Session {
        tenant_id: String,
        csrf_token: String,
    },
}

impl Principal {
    /// The tenant the caller is bound to; `None` for an operator.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Self::Operator { .. } => None,
            Self::Tenant { tenant_id, .. } | Self::Session { tenant_id, .. } => Some(tenant_id),
        }
    }

    /// Whether the caller may act for `tenant_id`.
    pub fn reaches(&self, tenant_id: &str) -> bool {
        self.tenant().is_none_or(|own| own == tenant_id)
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Self::Operator { .. })
    }

    /// The caller's key (not a session's): its id for the log, its hash to tie what it opens
    /// to it.
    pub fn key(&self) -> Option<(&str, &str)> {
        match self {
            Self::Operator { key_id, key_hash } | Self::Tenant { key_id, key_hash, .. } => Some((key_id, key_hash)),
            Self::Session { .. } => None,
        }
    }

    /// The caller a stored key makes.
    pub fn of_key(record: &ApiKeyRecord) -> Self {
        let (key_id, key_hash) = (record.key_id.clone(), record.key_hash.clone());
        match &record.tenant_id {
            None => Self::Operator { key_id, key_hash },
            Some(tenant_id) => Self::Tenant { key_id, key_hash, tenant_id: tenant_id.clone() },
        }
    }
}

/// A random token with a recognisable prefix (console links `hcl_`, sessions `hcs_`).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub const LINK_TOKEN_PREFIX: &str = "hcl_";
pub const SESSION_TOKEN_PREFIX: &str = "hcs_";

/// A console link not yet opened, stored by its token's hash (the token is only in the link).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLink {
    pub token_hash: String,
    pub tenant_id: String,
    /// The hash of the key that asked for the link: revoking the key ends what it opened.
    pub key_hash: String,
    /// Unix seconds; also the record's TTL.
    pub expires_at: i64,
}

/// An open console session, stored by its cookie's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleSession {
    pub token_hash: String,
    pub tenant_id: String,
    pub key_hash: String,
    /// Sent by the console with every change; the cookie alone changes nothing.
    pub csrf_token: String,
    pub expires_at: i64,
}

/// A token's stored form: its SHA-256, as for API keys (256 random bits need no salt).
pub fn token_hash(token: &str) -> String {
    api_key::hash(token)
}

/// Equal strings, compared in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_bound_callers_reach_their_tenant_only() {
        let operator = Principal::Operator { key_id: "key_1".into(), key_hash: "h1".into() };
        let tenant = Principal::Tenant { key_id: "key_2".into(), key_hash: "h2".into(), tenant_id: "acme".into() };
        let session = Principal::Session { tenant_id: "acme".into(), csrf_token: "x".into() };
        assert!(operator.reaches("acme") && operator.reaches("other") && operator.is_operator());
        for p in [&tenant, &session] {
            assert!(p.reaches("acme"));
            assert!(!p.reaches("other"));
            assert!(!p.reaches("acm"));
            assert!(!p.is_operator());
        }
    }

    #[test]
    fn tokens_are_random_and_compared_in_constant_time() {
        let (a, b) = (new_token(LINK_TOKEN_PREFIX), new_token(LINK_TOKEN_PREFIX));
        assert_ne!(a, b);
        assert!(a.starts_with("hcl_") && a.len() > 40);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &b));
        assert!(!constant_time_eq("abc", "abcd"));
        assert_ne!(token_hash(&a), a);
    }
}
