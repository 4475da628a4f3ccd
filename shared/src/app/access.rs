//! API keys (operator and tenant keys) and console sessions: who may call, for which tenant.
//!
//! A console link is a one-time token for one tenant, asked for by a key; opening it trades it
//! for a session token (the console's cookie) and a CSRF token. A session lasts while it has
//! not expired and the key that opened its link still exists: revoking a key ends its sessions.

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::domain::access::{
    self, ConsoleLink, ConsoleSession, LINK_TOKEN_PREFIX, Principal, SESSION_TOKEN_PREFIX, constant_time_eq,
};
use crate::domain::api_key::{self, ApiKeyRecord};
use crate::domain::console::ConsoleSettings;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::{ids, timestamp};
use crate::ports::store::{ApiKeyStore, ConsoleStore, WebhookStore};

/// `POST /v1/api-keys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// The tenant a tenant key is bound to; none for an operator key.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A key as listed: never the key, a hint of it.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    pub key: String,
}

pub async fn create_api_key(store: &impl ApiKeyStore, request: CreateApiKey) -> DomainResult<CreatedApiKey> {
    let name = api_key::validate_name(&request.name)?;
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

/// The caller an API key makes, if the key exists.
pub async fn authenticate_key(store: &impl ApiKeyStore, key: &str) -> DomainResult<Option<Principal>> {
    Ok(store.get_api_key(&api_key::hash(key)).await?.as_ref().map(Principal::of_key))
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
