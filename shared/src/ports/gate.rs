//! What holds deliveries back before a request: a webhook's rate limit and an endpoint's
//! circuit (see `domain::rate`, `domain::circuit`), kept where every delivery invocation sees
//! them, and the queue that carries a held-back delivery on.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use crate::domain::circuit::{Circuit, CircuitSettings};
use crate::domain::task::DeliveryTask;
use crate::ports::queue::QueueError;
use crate::ports::store::StoreResult;

/// An endpoint of a tenant: `(tenant_id, origin)`. Circuits are per tenant, so one tenant's
/// broken URL on a shared host (a chat tool's, say) holds back no other tenant.
pub type EndpointKey = (String, String);

/// The webhook's rate log and the endpoints' circuits.
pub trait GateStore: Send + Sync + 'static {
    /// Lets through as many of `wanted` requests to the webhook now as its limit has room for
    /// (`RateLog::admit`), kept so concurrent callers never spend the same room: how many, and
    /// when to ask again for the others. "Now" is read just before the write that keeps it
    /// (again after a lost race), so a log entry is as close to its requests as can be.
    fn take_rate(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        wanted: u32,
        limit: u32,
    ) -> impl Future<Output = StoreResult<(u32, Duration)>> + Send;
    /// The circuits of these endpoints; a closed one may be absent.
    fn get_circuits(
        &self,
        endpoints: &[EndpointKey],
    ) -> impl Future<Output = StoreResult<HashMap<EndpointKey, Circuit>>> + Send;
    /// Claims the probe of an open circuit whose cooldown ended at `seen`: true when this
    /// caller won (the circuit still said `seen`); it is then open until `until_ms` for the
    /// others.
    fn claim_probe(
        &self,
        endpoint: &EndpointKey,
        seen: i64,
        until_ms: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Counts `failures` more in a row; opens the circuit until `until_ms` if that reaches the
    /// settings' threshold and it is not open already.
    fn count_failures(
        &self,
        endpoint: &EndpointKey,
        failures: u32,
        until_ms: i64,
        settings: &CircuitSettings,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The endpoint answered: the circuit is closed, its count back to 0.
    fn close_circuit(&self, endpoint: &EndpointKey) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Carries held-back deliveries on: each task as a new message, visible after its delay.
pub trait DeferQueue: Send + Sync + 'static {
    /// Sends every task, or fails (some may have gone: at-least-once, receivers dedupe).
    fn defer(&self, tasks: &[(DeliveryTask, Duration)]) -> impl Future<Output = Result<(), QueueError>> + Send;
}
