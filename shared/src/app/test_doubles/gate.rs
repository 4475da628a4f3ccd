//! The gates' stand-ins: `MemoryStore`'s rate logs and circuits, and a queue that records the
//! held-back deliveries it is given.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::MemoryStore;
use crate::domain::circuit::{Circuit, CircuitSettings};
use crate::domain::rate::RateLog;
use crate::domain::task::DeliveryTask;
use crate::ports::gate::{DeferQueue, EndpointKey, GateStore};
use crate::ports::queue::QueueError;
use crate::ports::store::StoreResult;

#[derive(Debug, Default)]
pub struct Gates {
    pub rates: HashMap<(String, String), RateLog>,
    pub circuits: HashMap<EndpointKey, Circuit>,
}

impl GateStore for MemoryStore {
    async fn take_rate(&self, tenant: &str, webhook: &str, wanted: u32, limit: u32) -> StoreResult<(u32, Duration)> {
        let now_ms = crate::domain::timestamp::unix_millis(crate::domain::timestamp::now());
        let mut gates = self.gates.lock().expect("lock");
        let log = gates.rates.entry((tenant.into(), webhook.into())).or_default();
        let admission = log.admit(now_ms, wanted, limit);
        *log = admission.log;
        Ok((admission.admitted, admission.wait))
    }

    async fn get_circuits(&self, endpoints: &[EndpointKey]) -> StoreResult<HashMap<EndpointKey, Circuit>> {
        let gates = self.gates.lock().expect("lock");
        Ok(endpoints.iter().filter_map(|e| Some((e.clone(), *gates.circuits.get(e)?))).collect())
    }

    async fn claim_probe(&self, endpoint: &EndpointKey, seen: i64, until_ms: i64) -> StoreResult<bool> {
        let mut gates = self.gates.lock().expect("lock");
        let circuit = gates.circuits.entry(endpoint.clone()).or_default();
        let won = circuit.open_until_ms == Some(seen);
        if won {
            circuit.open_until_ms = Some(until_ms);
        }
        Ok(won)
    }

    async fn count_failures(
        &self,
        endpoint: &EndpointKey,
        failures: u32,
        until_ms: i64,
        settings: &CircuitSettings,
    ) -> StoreResult<()> {
        let mut gates = self.gates.lock().expect("lock");
        let circuit = gates.circuits.entry(endpoint.clone()).or_default();
        circuit.failures += failures;
        if circuit.open_until_ms.is_none() && Circuit::opens(circuit.failures, settings) {
            circuit.open_until_ms = Some(until_ms);
        }
        Ok(())
    }

    async fn close_circuit(&self, endpoint: &EndpointKey) -> StoreResult<()> {
        self.gates.lock().expect("lock").circuits.remove(endpoint);
        Ok(())
    }
}

/// Records each held-back delivery with its delay; fails every send while `failing`.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    pub deferred: Mutex<Vec<(DeliveryTask, Duration)>>,
    pub failing: bool,
}

impl DeferQueue for MemoryQueue {
    async fn defer(&self, tasks: &[(DeliveryTask, Duration)]) -> Result<(), QueueError> {
        if self.failing {
            return Err(QueueError::Sqs { operation: "SendMessageBatch", message: "down".into() });
        }
        self.deferred.lock().expect("lock").extend(tasks.iter().cloned());
        Ok(())
    }
}
