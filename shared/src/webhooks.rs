//! Managing a tenant's webhooks: the domain functions behind the management API.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::Settings;
use crate::error::{DomainError, DomainResult};
use crate::ids::{self, WEBHOOK_PREFIX};
use crate::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_WEBHOOKS_PER_TENANT};
use crate::store::{Page, Store};
use crate::test_send::{TestSendRequest, TestSendResult, Tester};
use crate::time_fmt;
use crate::webhook::{CreateWebhook, UpdateWebhook, Webhook};

fn webhook_not_found(id: &str) -> DomainError {
    DomainError::not_found("webhook_not_found", format!("no webhook {id:?} for this tenant"))
}

pub fn tenant_not_found(tenant_id: &str) -> DomainError {
    DomainError::not_found(
        "tenant_not_found",
        format!("tenant {tenant_id:?} is unknown: a tenant exists once its first webhook is created"),
    )
}

/// Creates a webhook; with a `tester`, only if a test send to it answers 2xx.
pub async fn create_webhook(
    store: &impl Store,
    settings: &Settings,
    tenant_id: &str,
    request: CreateWebhook,
    tester: Option<&Tester<'_>>,
) -> DomainResult<Webhook> {
    ids::validate_tenant_id(tenant_id)?;
    let webhook = request.into_webhook(tenant_id, settings, &time_fmt::format(time_fmt::now()))?;
    if store.count_webhooks(tenant_id).await? >= MAX_WEBHOOKS_PER_TENANT {
        return Err(DomainError::conflict(
            "webhook_limit_reached",
            format!("a tenant may have at most {MAX_WEBHOOKS_PER_TENANT} webhooks"),
        ));
    }
    // Last of the checks: a request refused anyway sends nothing to the endpoint.
    if let Some(tester) = tester {
        tester.require_ok(&webhook).await?;
    }
    store.create_webhook(&webhook).await?;
    Ok(webhook)
}

pub async fn get_webhook(store: &impl Store, tenant_id: &str, webhook_id: &str) -> DomainResult<Webhook> {
    ids::validate_tenant_id(tenant_id)?;
    if !ids::is_generated_id(webhook_id, WEBHOOK_PREFIX) {
        return Err(webhook_not_found(webhook_id));
    }
    store.get_webhook(tenant_id, webhook_id).await?.ok_or_else(|| webhook_not_found(webhook_id))
}

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

pub(crate) fn decode_cursor(cursor: &str, prefix: &str) -> DomainResult<String> {
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

pub async fn list_webhooks(store: &impl Store, tenant_id: &str, params: &ListParams) -> DomainResult<Page<Webhook>> {
    ids::validate_tenant_id(tenant_id)?;
    let limit = parse_limit(params.limit.as_deref())?;
    let start_after = params.cursor.as_deref().map(|c| decode_cursor(c, WEBHOOK_PREFIX)).transpose()?;
    let page = store.list_webhooks(tenant_id, limit, start_after.as_deref()).await?;
    // An empty first page may mean the tenant does not exist at all: say so.
    if page.items.is_empty() && start_after.is_none() && !store.tenant_exists(tenant_id).await? {
        return Err(tenant_not_found(tenant_id));
    }
    Ok(Page { next: page.next.as_deref().map(encode_cursor), items: page.items })
}

pub async fn update_webhook(
    store: &impl Store,
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
    if let Some(tester) = tester {
        let current = get_webhook(store, tenant_id, webhook_id).await?;
        tester.require_ok(&changes.applied_to(&current)).await?;
    }
    if changes.is_empty() {
        return get_webhook(store, tenant_id, webhook_id).await;
    }
    let now = time_fmt::format(time_fmt::now());
    store.update_webhook(tenant_id, webhook_id, &changes, &now).await?.ok_or_else(|| webhook_not_found(webhook_id))
}

/// `POST .../webhooks/{id}/test`.
pub async fn test_webhook(
    store: &impl Store,
    tester: &Tester<'_>,
    tenant_id: &str,
    webhook_id: &str,
    request: TestSendRequest,
) -> DomainResult<TestSendResult> {
    let webhook = get_webhook(store, tenant_id, webhook_id).await?;
    tester.send(&webhook, request).await
}

pub async fn delete_webhook(store: &impl Store, tenant_id: &str, webhook_id: &str) -> DomainResult<()> {
    ids::validate_tenant_id(tenant_id)?;
    if !ids::is_generated_id(webhook_id, WEBHOOK_PREFIX) || !store.delete_webhook(tenant_id, webhook_id).await? {
        return Err(webhook_not_found(webhook_id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
