//! Reading deliveries.

use crate::delivery::DeliveryLog;
use crate::error::{DomainError, DomainResult};
use crate::ids::{self, DELIVERY_PREFIX};
use crate::store::Store;

pub async fn get_delivery(store: &impl Store, tenant_id: &str, delivery_id: &str) -> DomainResult<DeliveryLog> {
    ids::validate_tenant_id(tenant_id)?;
    let not_found =
        || DomainError::not_found("delivery_not_found", format!("no delivery {delivery_id:?} for this tenant"));
    if !ids::is_generated_id(delivery_id, DELIVERY_PREFIX) {
        return Err(not_found());
    }
    store.get_delivery(tenant_id, delivery_id).await?.ok_or_else(not_found)
}
