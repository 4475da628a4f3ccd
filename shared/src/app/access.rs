//! API keys (operator and tenant keys) and console sessions: who may call, for which tenant.
//!
//! A console link is a one-time token for one tenant, asked for by a key; opening it trades it
//! for a session token (the console's cookie) and a CSRF token. A session lasts while it has
//! not expired and the key that opened its link still exists: revoking a key ends its sessions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::domain::access::{
    self, ConsoleLink, ConsoleSession, LINK_TOKEN_PREFIX, Principal, SESSION_TOKEN_PREFIX, constant_time_eq,
};
use crate::domain::api_key::{self, ApiKeyRecord};
use crate::domain::console::ConsoleSettings;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::limits::{UNKNOWN_KEY_CACHE_ENTRIES, UNKNOWN_KEY_CACHE_SECONDS};
use crate::domain::{ids, name, timestamp};
use crate::ports::store::{ApiKeyStore, ConsoleStore, WebhookStore};

/// `POST /v1/api-keys`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// The tenant a tenant key is bound to; none for an operator key.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    )]
    pub tenant_id: Option<String>,
}

/// A key as listed: never the key, a hint of it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub tenant_id: Option<String>,
    pub hint: String,
    pub created_at: String,
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(r: &ApiKeyRecord) -> Self {
        Self {
            id: r.key_id.clone(),
            name: r.name.clone(),
            tenant_id: r.tenant_id.clone(),
            hint: r.hint.clone(),
            created_at: r.created_at.clone(),
        }
    }
}

/// The create answer: the key itself, this once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    pub key: String,
}

pub async fn create_api_key(store: &impl ApiKeyStore, request: CreateApiKey) -> DomainResult<CreatedApiKey> {
    let name = name::validate(&request.name)?;
    if let Some(tenant_id) = &request.tenant_id {
        ids::validate_tenant_id(tenant_id)?;
    }
    let (key, record) = api_key::new_key(&name, request.tenant_id.as_deref());
    store.put_api_key(&record).await?;
    Ok(CreatedApiKey { view: ApiKeyView::from(&record), key })
}

pub async fn list_api_keys(store: &impl ApiKeyStore) -> DomainResult<Vec<ApiKeyView>> {
    Ok(store.list_api_keys().await?.iter().map(ApiKeyView::from).collect())
}

pub async fn revoke_api_key(store: &impl ApiKeyStore, key_id: &str) -> DomainResult<()> {
    let not_found = || DomainError::not_found("api_key_not_found", format!("no API key {key_id:?}"));
    if !ids::is_generated_id(key_id, ids::API_KEY_ID_PREFIX) {
        return Err(not_found());
    }
    if store.delete_api_key(key_id).await? { Ok(()) } else { Err(not_found()) }
}

/// Key hashes this instance found unknown lately (a negative cache): a wrong key sent again
/// and again costs one store read per `ttl`, not one per request. Bounded: when `capacity`
/// hashes are held, the expired ones go, and if none has expired all go (a flood of random
/// keys then costs a read each, as without the cache, but never memory). Keys are random, so
/// a key created after its hash was cached as unknown is not one anybody sent before.
pub struct UnknownKeys {
    seen: Mutex<HashMap<String, Instant>>,
    ttl: std::time::Duration,
    capacity: usize,
}

impl Default for UnknownKeys {
    fn default() -> Self {
        Self::new(std::time::Duration::from_secs(UNKNOWN_KEY_CACHE_SECONDS), UNKNOWN_KEY_CACHE_ENTRIES)
    }
}

impl UnknownKeys {
    pub fn new(ttl: std::time::Duration, capacity: usize) -> Self {
        Self { seen: Mutex::new(HashMap::new()), ttl, capacity }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // A panic elsewhere while holding it leaves only a cache: go on with it.
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn contains(&self, key_hash: &str, now: Instant) -> bool {
        self.lock().get(key_hash).is_some_and(|&until| now < until)
    }

    fn insert(&self, key_hash: String, now: Instant) {
        let mut seen = self.lock();
        if seen.len() >= self.capacity {
            seen.retain(|_, until| now < *until);
            if seen.len() >= self.capacity {
                seen.clear();
            }
        }
        seen.insert(key_hash, now + self.ttl);
    }

    /// How many hashes are held (for tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The caller an API key makes, if the key exists. An unknown key is remembered a while
/// (`unknown`), so sending it again costs no read.
pub async fn authenticate_key(
    store: &impl ApiKeyStore,
    unknown: &UnknownKeys,
    key: &str,
) -> DomainResult<Option<Principal>> {
    let hash = api_key::hash(key);
    if unknown.contains(&hash, Instant::now()) {
        return Ok(None);
    }
    let record = store.get_api_key(&hash).await?;
    if record.is_none() {
        unknown.insert(hash, Instant::now());
    }
    Ok(record.as_ref().map(Principal::of_key))
}

/// A new console link for `tenant_id`: its one-time token and when it expires. The tenant is
/// registered if it has no webhook yet, so its console starts empty rather than unknown.
pub async fn open_console_link(
    store: &(impl ConsoleStore + WebhookStore),
    console: &ConsoleSettings,
    key_hash: &str,
    tenant_id: &str,
) -> DomainResult<(String, String)> {
    ids::validate_tenant_id(tenant_id)?;
    let now = timestamp::now();
    let expires = now + Duration::try_from(console.link_ttl).unwrap_or(Duration::MINUTE);
    store.register_tenant(tenant_id, &timestamp::format(now)).await?;
    let token = access::new_token(LINK_TOKEN_PREFIX);
    let link = ConsoleLink {
        token_hash: access::token_hash(&token),
        tenant_id: tenant_id.to_string(),
        key_hash: key_hash.to_string(),
        expires_at: expires.unix_timestamp(),
    };
    store.put_console_link(&link).await?;
    Ok((token, timestamp::format(expires)))
}

/// Trades a console link's token for a new session (its token, and the session), once. A
/// used, unknown or expired link, or one whose key was revoked since, gets nothing.
pub async fn exchange_console_link(
    store: &(impl ConsoleStore + ApiKeyStore),
    console: &ConsoleSettings,
    link_token: &str,
) -> DomainResult<Option<(String, ConsoleSession)>> {
    if !link_token.starts_with(LINK_TOKEN_PREFIX) || link_token.len() > 100 {
        return Ok(None);
    }
    let Some(link) = store.take_console_link(&access::token_hash(link_token)).await? else {
        return Ok(None);
    };
    let now = timestamp::now();
    if link.expires_at <= now.unix_timestamp() || !key_still_reaches(store, &link.key_hash, &link.tenant_id).await? {
        return Ok(None);
    }
    let token = access::new_token(SESSION_TOKEN_PREFIX);
    let expires = now + Duration::try_from(console.session_ttl).unwrap_or(Duration::HOUR);
    let session = ConsoleSession {
        token_hash: access::token_hash(&token),
        tenant_id: link.tenant_id,
        key_hash: link.key_hash,
        csrf_token: access::new_token(""),
        expires_at: expires.unix_timestamp(),
    };
    store.put_console_session(&session).await?;
    Ok(Some((token, session)))
}

/// The session a console's cookie names, while it lasts and its key exists.
pub async fn authenticate_session(
    store: &(impl ConsoleStore + ApiKeyStore),
    session_token: &str,
) -> DomainResult<Option<ConsoleSession>> {
    if !session_token.starts_with(SESSION_TOKEN_PREFIX) || session_token.len() > 100 {
        return Ok(None);
    }
    let Some(session) = store.get_console_session(&access::token_hash(session_token)).await? else {
        return Ok(None);
    };
    if session.expires_at <= timestamp::now().unix_timestamp()
        || !key_still_reaches(store, &session.key_hash, &session.tenant_id).await?
    {
        return Ok(None);
    }
    Ok(Some(session))
}

/// Whether the key with this hash exists and may still act for `tenant_id`.
async fn key_still_reaches(store: &impl ApiKeyStore, key_hash: &str, tenant_id: &str) -> DomainResult<bool> {
    let key = store.get_api_key(key_hash).await?;
    Ok(key.is_some_and(|k| Principal::of_key(&k).reaches(tenant_id)))
}

/// Whether a change sent with `sent` (the `X-CSRF-Token` header) is the session's own.
pub fn csrf_matches(session: &ConsoleSession, sent: Option<&str>) -> bool {
    sent.is_some_and(|sent| constant_time_eq(sent, &session.csrf_token))
}

/// Ends a session (the console's sign-out).
pub async fn close_session(store: &impl ConsoleStore, session_token: &str) -> DomainResult<()> {
    store.delete_console_session(&access::token_hash(session_token)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::ports::store::StoreResult;

    /// Knows one key; counts its reads.
    struct CountingKeys {
        known: ApiKeyRecord,
        reads: AtomicUsize,
    }

    impl ApiKeyStore for CountingKeys {
        async fn get_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok((key_hash == self.known.key_hash).then(|| self.known.clone()))
        }
        async fn put_api_key(&self, _: &ApiKeyRecord) -> StoreResult<()> {
            Ok(())
        }
        async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
            Ok(Vec::new())
        }
        async fn delete_api_key(&self, _: &str) -> StoreResult<bool> {
            Ok(false)
        }
    }

    fn store() -> (String, CountingKeys) {
        let (key, known) = api_key::new_key("k", None);
        (key, CountingKeys { known, reads: AtomicUsize::new(0) })
    }

    #[tokio::test]
    async fn a_repeated_wrong_key_costs_one_read_and_a_right_key_is_read_every_time() {
        // GIVEN a store with one key and an empty negative cache
        let (key, store) = store();
        let unknown = UnknownKeys::default();
        // WHEN a wrong key is sent five times THEN the store is read once, and it is refused each time
        for _ in 0..5 {
            assert!(authenticate_key(&store, &unknown, "hk_wrong").await.expect("auth").is_none());
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        // AND the right key is read (not cached: a revoked key must fail at once) every time
        for _ in 0..2 {
            assert!(authenticate_key(&store, &unknown, &key).await.expect("auth").is_some());
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unknown_key_is_read_again_once_its_entry_expires() {
        // GIVEN a cache that forgets at once
        let (_, store) = store();
        let unknown = UnknownKeys::new(std::time::Duration::ZERO, 10);
        // WHEN a wrong key is sent twice THEN both read the store
        for _ in 0..2 {
            assert!(authenticate_key(&store, &unknown, "hk_wrong").await.expect("auth").is_none());
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_flood_of_random_keys_never_holds_more_than_the_capacity() {
        // GIVEN a cache of 100 WHEN 1000 different wrong keys are sent THEN it never holds more
        let (_, store) = store();
        let unknown = UnknownKeys::new(std::time::Duration::from_secs(60), 100);
        for i in 0..1000 {
            authenticate_key(&store, &unknown, &format!("hk_random_{i}")).await.expect("auth");
            assert!(unknown.len() <= 100);
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1000, "each new key read once");
    }
}
