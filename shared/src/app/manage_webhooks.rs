//! Managing a tenant's webhooks: the use-cases behind the webhook routes of the API.

use serde::Deserialize;

use crate::app::pagination::{parse_limit, start_after};
use crate::app::quota;
use crate::app::send_test::{TestSendRequest, TestSendResult, Tester};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ids::{self, WEBHOOK_PREFIX};
use crate::domain::limits::MAX_WEBHOOKS_PER_TENANT;
use crate::domain::quota::QuotaKind;
use crate::domain::settings::Settings;
use crate::domain::timestamp;
use crate::domain::webhook::{CreateWebhook, UpdateWebhook, Webhook};
use crate::ports::store::{Page, QuotaStore, WebhookStore};

fn webhook_not_found(id: &str) -> DomainError {
    DomainError::not_found("webhook_not_found", format!("no webhook {id:?} for this tenant"))
}

pub fn tenant_not_found(tenant_id: &str) -> DomainError {
    DomainError::not_found(
        "tenant_not_found",
        format!("tenant {tenant_id:?} is unknown: a tenant exists once its first webhook is created"),
    )
}

fn webhook_limit_reached() -> DomainError {
    DomainError::conflict(
        "webhook_limit_reached",
        format!("a tenant may have at most {MAX_WEBHOOKS_PER_TENANT} webhooks"),
    )
}

/// A test send for `tenant_id`, within its test sends quota (if the deployment set one).
async fn test_within_quota<T>(
    store: &impl QuotaStore,
    tester: &Tester<'_>,
    tenant_id: &str,
    send: impl std::future::Future<Output = DomainResult<T>>,
) -> DomainResult<T> {
    quota::take(store, tester.quota, QuotaKind::TestSends, tenant_id, timestamp::now()).await?;
    send.await
}

/// Creates a webhook; with a `tester`, only if a test send to it answers 2xx. The cap on
/// webhooks per tenant is held by the store's create itself (atomic: concurrent creates
/// can't pass it); with a tester it is also checked before the test send, so a request
/// refused anyway sends nothing to the endpoint.
pub async fn create_webhook(
    store: &(impl WebhookStore + QuotaStore),
    settings: &Settings,
    tenant_id: &str,
    request: CreateWebhook,
    tester: Option<&Tester<'_>>,
) -> DomainResult<Webhook> {
    ids::validate_tenant_id(tenant_id)?;
    let webhook = request.into_webhook(tenant_id, settings, &timestamp::format(timestamp::now()))?;
    if let Some(tester) = tester {
        if store.count_webhooks(tenant_id).await? >= MAX_WEBHOOKS_PER_TENANT {
            return Err(webhook_limit_reached());
        }
        test_within_quota(store, tester, tenant_id, tester.require_ok(&webhook)).await?;
    }
    if !store.create_webhook(&webhook, MAX_WEBHOOKS_PER_TENANT).await? {
        return Err(webhook_limit_reached());
    }
    Ok(webhook)
}

pub async fn get_webhook(store: &impl WebhookStore, tenant_id: &str, webhook_id: &str) -> DomainResult<Webhook> {
    ids::validate_tenant_id(tenant_id)?;
    if !ids::is_generated_id(webhook_id, WEBHOOK_PREFIX) {
        return Err(webhook_not_found(webhook_id));
    }
    store.get_webhook(tenant_id, webhook_id).await?.ok_or_else(|| webhook_not_found(webhook_id))
}

/// `GET .../webhooks?limit=&cursor=`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookListParams {
    /// Page size, 1 to 100 (default 20).
    #[cfg_attr(feature = "openapi", param(value_type = Option<u32>, minimum = 1, maximum = 100))]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous answer.
    #[cfg_attr(feature = "openapi", param(pattern = "^wh_[0-9a-f]{32}$"))]
    pub cursor: Option<String>,
}

pub async fn list_webhooks(
    store: &impl WebhookStore,
    tenant_id: &str,
    params: &WebhookListParams,
) -> DomainResult<Page<Webhook>> {
    ids::validate_tenant_id(tenant_id)?;
    let limit = parse_limit(params.limit.as_deref())?;
    let after = start_after(params.cursor.as_deref(), WEBHOOK_PREFIX)?;
    let page = store.list_webhooks(tenant_id, limit, after.as_deref()).await?;
    // An empty first page may mean the tenant does not exist at all: say so.
    if page.items.is_empty() && after.is_none() && !store.tenant_exists(tenant_id).await? {
        return Err(tenant_not_found(tenant_id));
    }
    Ok(page)
}

pub async fn update_webhook(
    store: &(impl WebhookStore + QuotaStore),
    settings: &Settings,
    tenant_id: &str,
    webhook_id: &str,
    request: UpdateWebhook,
    tester: Option<&Tester<'_>>,
) -> DomainResult<Webhook> {
    ids::validate_tenant_id(tenant_id)?;
    let changes = request.into_changes(settings)?;
    if !ids::is_generated_id(webhook_id, WEBHOOK_PREFIX) {
        return Err(webhook_not_found(webhook_id));
    }
    // A change to the auth alone or the custom headers alone is judged with the other as
    // stored. A concurrent change to the other can still make them collide: the request
    // builder then sends the auth's header once (`endpoint_auth::auth_headers`).
    if tester.is_some() || changes.needs_current() {
        let current = get_webhook(store, tenant_id, webhook_id).await?;
        let updated = changes.apply_checked(&current, settings)?;
        if let Some(tester) = tester {
            test_within_quota(store, tester, tenant_id, tester.require_ok(&updated)).await?;
        }
    }
    if changes.is_empty() {
        return get_webhook(store, tenant_id, webhook_id).await;
    }
    let now = timestamp::format(timestamp::now());
    store.update_webhook(tenant_id, webhook_id, &changes, &now).await?.ok_or_else(|| webhook_not_found(webhook_id))
}

/// `POST .../webhooks/{id}/test`.
pub async fn test_webhook(
    store: &(impl WebhookStore + QuotaStore),
    tester: &Tester<'_>,
    tenant_id: &str,
    webhook_id: &str,
    request: TestSendRequest,
) -> DomainResult<TestSendResult> {
    let webhook = get_webhook(store, tenant_id, webhook_id).await?;
    test_within_quota(store, tester, tenant_id, tester.send(&webhook, request)).await
}

pub async fn delete_webhook(store: &impl WebhookStore, tenant_id: &str, webhook_id: &str) -> DomainResult<()> {
    ids::validate_tenant_id(tenant_id)?;
    if !ids::is_generated_id(webhook_id, WEBHOOK_PREFIX) || !store.delete_webhook(tenant_id, webhook_id).await? {
        return Err(webhook_not_found(webhook_id));
    }
    Ok(())
}
