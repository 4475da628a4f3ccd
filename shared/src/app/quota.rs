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
    let Some(quota) = quota else { return Ok(()) };
    if try_take(store, quota, kind, tenant_id, now).await? {
        Ok(())
    } else {
        Err(quota.exceeded(kind, &quota.window_at(now)))
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
    store.take_quota(tenant_id, kind.as_str(), window.index, quota.limit, window.ends_at).await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[derive(Default)]
    struct Counters(Mutex<HashMap<(String, String, u64), u32>>);

    impl QuotaStore for Counters {
        async fn take_quota(&self, tenant: &str, kind: &str, window: u64, limit: u32, _: i64) -> StoreResult<bool> {
            let mut counters = self.0.lock().expect("lock");
            let n = counters.entry((tenant.into(), kind.into(), window)).or_default();
            let taken = *n < limit;
            *n += u32::from(taken);
            Ok(taken)
        }
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).expect("time")
    }

    #[tokio::test]
    async fn a_quota_allows_its_limit_a_window_per_tenant_and_then_says_when_to_retry() {
        // GIVEN 2 a minute
        let store = Counters::default();
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
        assert_eq!(store.0.lock().expect("lock").len(), 4);
    }
}
