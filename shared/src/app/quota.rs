//! Taking one from a tenant's rate quota before the work it limits (see `domain::quota`).

use time::OffsetDateTime;

use crate::domain::error::DomainResult;
use crate::domain::quota::{QuotaKind, RateQuota};
use crate::ports::store::{QuotaStore, StoreResult};

/// Counts one `kind` against `tenant_id` at `now`; a 429 `rate_limited` (with the seconds to
/// its window's end) when the window's quota is used up. No quota set: nothing to do, no write.
pub async fn take(
    store: &impl QuotaStore,
    quota: Option<&RateQuota>,
    kind: QuotaKind,
    tenant_id: &str,
    now: OffsetDateTime,
) -> DomainResult<()> {
    take_many(store, quota, kind, tenant_id, now, 1).await
}

/// Counts `amount` `kind`s against `tenant_id` at `now`, all or none (a batch of events): a 429
/// `rate_limited` when they do not all fit in the window's quota.
pub async fn take_many(
    store: &impl QuotaStore,
    quota: Option<&RateQuota>,
    kind: QuotaKind,
    tenant_id: &str,
    now: OffsetDateTime,
    amount: usize,
) -> DomainResult<()> {
    let Some(quota) = quota else { return Ok(()) };
    let window = quota.window_at(now);
    let amount = u32::try_from(amount).unwrap_or(u32::MAX);
    if store.take_quota(tenant_id, kind.as_str(), window.index, quota.limit, amount, window.ends_at).await? {
        Ok(())
    } else {
        Err(quota.exceeded(kind, &window))
    }
}

/// Counts one `kind` against `tenant_id` at `now`: `false` when the window's quota is used
/// up (the caller says what that means: a 429, a 409, an alert that waits).
pub async fn try_take(
    store: &impl QuotaStore,
    quota: &RateQuota,
    kind: QuotaKind,
    tenant_id: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let window = quota.window_at(now);
    store.take_quota(tenant_id, kind.as_str(), window.index, quota.limit, 1, window.ends_at).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::test_doubles::MemoryStore;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).expect("time")
    }

    #[tokio::test]
    async fn a_quota_allows_its_limit_a_window_per_tenant_and_then_says_when_to_retry() {
        // GIVEN 2 a minute
        let store = MemoryStore::default();
        let quota = RateQuota { limit: 2, window: Duration::from_secs(60) };
        let t0 = 1_700_000_040; // a minute's start
        // WHEN three are taken in the first 10 s THEN the third is refused, retry in 50 s
        for s in [0, 5] {
            take(&store, Some(&quota), QuotaKind::TestSends, "a", at(t0 + s)).await.expect("within the quota");
        }
        let refused = take(&store, Some(&quota), QuotaKind::TestSends, "a", at(t0 + 10)).await.expect_err("over");
        assert!(matches!(refused, crate::domain::error::DomainError::RateLimited { retry_after: 50, .. }));
        // AND another tenant, another kind and the next window each have their own count
        take(&store, Some(&quota), QuotaKind::TestSends, "b", at(t0 + 10)).await.expect("other tenant");
        take(&store, Some(&quota), QuotaKind::Events, "a", at(t0 + 10)).await.expect("other kind");
        take(&store, Some(&quota), QuotaKind::TestSends, "a", at(t0 + 60)).await.expect("next window");
        // AND no quota set takes nothing
        take(&store, None, QuotaKind::Events, "a", at(t0)).await.expect("unlimited");
        assert_eq!(store.quota_counters.lock().expect("lock").len(), 4);
    }

    #[tokio::test]
    async fn a_batch_takes_all_its_events_or_none() {
        // GIVEN 10 events a second, 7 of them taken
        let store = MemoryStore::default();
        let quota = RateQuota { limit: 10, window: Duration::from_secs(1) };
        take_many(&store, Some(&quota), QuotaKind::Events, "a", at(100), 7).await.expect("7 fit");
        // WHEN a batch of 4 comes THEN it is refused whole, and takes nothing
        take_many(&store, Some(&quota), QuotaKind::Events, "a", at(100), 4).await.expect_err("4 do not fit");
        // AND a batch of 3 still fits exactly
        take_many(&store, Some(&quota), QuotaKind::Events, "a", at(100), 3).await.expect("3 fit");
        take(&store, Some(&quota), QuotaKind::Events, "a", at(100)).await.expect_err("full");
    }
}
