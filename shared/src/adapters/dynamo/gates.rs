//! `GateStore` on the table: a webhook's rate log (one item, rewritten under a version
//! condition) and an endpoint's circuit (one item, changed by conditional updates; absent
//! while closed with no failure). Both expire by TTL once unused.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};

use super::DynamoStore;
use super::items::*;
use super::keys::{self, PK};
use crate::domain::circuit::{Circuit, CircuitSettings};
use crate::domain::rate::{RATE_WINDOW, RateLog};
use crate::ports::gate::{EndpointKey, GateStore};
use crate::ports::store::{StoreError, StoreResult};

const LOG: &str = "log";
const VERSION: &str = "v";
const FAILURES: &str = "failures";
const OPEN_UNTIL: &str = "open_until";
/// Concurrent admissions to one webhook lose the version race to one another; a loser reads
/// again, this many times, then holds its deliveries back for a moment rather than wait.
const RATE_RACES: u32 = 5;
/// How long unused items stay (TTL): well past any window or cooldown.
const KEEP_SECS: i64 = 86_400;

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn expires(now_ms: i64) -> AttributeValue {
    n(now_ms / 1000 + KEEP_SECS)
}

fn now_ms() -> i64 {
    crate::domain::timestamp::unix_millis(crate::domain::timestamp::now())
}

fn circuit_of(item: &Item) -> Circuit {
    Circuit {
        failures: number(item, FAILURES).and_then(|f| u32::try_from(f).ok()).unwrap_or(0),
        open_until_ms: number(item, OPEN_UNTIL),
    }
}

impl GateStore for DynamoStore {
    async fn take_rate(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        wanted: u32,
        limit: u32,
    ) -> StoreResult<(u32, Duration)> {
        let key = key(keys::rate_pk(tenant_id, webhook_id), keys::RATE_SK);
        for _ in 0..RATE_RACES {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_err("GetItem"))?
                .item
                .unwrap_or_default();
            let log: RateLog = match item.get(LOG).and_then(|l| l.as_s().ok()) {
                Some(text) => serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                None => RateLog::default(),
            };
            let now_ms = now_ms();
            let admission = log.admit(now_ms, wanted, limit);
            if admission.admitted == 0 {
                return Ok((0, admission.wait));
            }
            let log = serde_json::to_string(&admission.log).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut put = key.clone();
            put.insert(KIND.into(), s("rate"));
            put.insert(LOG.into(), s(log));
            let put =
                self.client.put_item().table_name(&self.table).set_item(Some(put)).item("expires_at", expires(now_ms));
            let put = match number(&item, VERSION) {
                Some(seen) => put
                    .item(VERSION, n(seen + 1))
                    .condition_expression("#v = :seen")
                    .expression_attribute_names("#v", VERSION)
                    .expression_attribute_values(":seen", n(seen)),
                None => put.item(VERSION, n(1)).condition_expression(format!("attribute_not_exists({PK})")),
            };
            if unless_condition_failed("PutItem", put.send().await)?.is_some() {
                return Ok((admission.admitted, admission.wait));
            }
        }
        Ok((0, RATE_WINDOW))
    }

    async fn get_circuits(&self, endpoints: &[EndpointKey]) -> StoreResult<HashMap<EndpointKey, Circuit>> {
        let mut found = HashMap::new();
        // BatchGetItem takes at most 100 keys (a batch of 50 messages has at most 50 endpoints).
        for chunk in endpoints.chunks(100) {
            let by_pk: HashMap<String, &EndpointKey> =
                chunk.iter().map(|e| (keys::circuit_pk(&e.0, &e.1), e)).collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(by_pk.keys().map(|pk| key(pk.clone(), keys::CIRCUIT_SK)).collect()))
                .build()
                .map_err(build_err("BatchGetItem"))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(sdk_err("BatchGetItem"))?;
            for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                if let Some(endpoint) = item.get(PK).and_then(|pk| pk.as_s().ok()).and_then(|pk| by_pk.get(pk)) {
                    found.insert((*endpoint).clone(), circuit_of(&item));
                }
            }
            // Keys left unprocessed (throttling) read as closed: the requests go, as they would
            // without a circuit, and their failures still count.
        }
        Ok(found)
    }

    async fn claim_probe(&self, endpoint: &EndpointKey, seen: i64, until_ms: i64) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::circuit_pk(&endpoint.0, &endpoint.1), keys::CIRCUIT_SK)))
            .update_expression("SET #open = :until")
            .condition_expression("#open = :seen")
            .expression_attribute_names("#open", OPEN_UNTIL)
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":seen", n(seen))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }

    async fn count_failures(
        &self,
        endpoint: &EndpointKey,
        failures: u32,
        until_ms: i64,
        settings: &CircuitSettings,
    ) -> StoreResult<()> {
        let key = key(keys::circuit_pk(&endpoint.0, &endpoint.1), keys::CIRCUIT_SK);
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression("ADD #failures :n SET #kind = :kind, expires_at = :expires")
            .expression_attribute_names("#failures", FAILURES)
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":n", n(failures))
            .expression_attribute_values(":kind", s("circuit"))
            .expression_attribute_values(":expires", expires(now_ms()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk_err("UpdateItem"))?;
        let circuit = circuit_of(&counted.attributes.unwrap_or_default());
        if circuit.open_until_ms.is_some() || !Circuit::opens(circuit.failures, settings) {
            return Ok(());
        }
        // Opened once: of concurrent callers crossing the threshold, the first sets the time.
        let opened = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #open = :until")
            .condition_expression("attribute_not_exists(#open)")
            .expression_attribute_names("#open", OPEN_UNTIL)
            .expression_attribute_values(":until", n(until_ms))
            .send()
            .await;
        unless_condition_failed("UpdateItem", opened)?;
        Ok(())
    }

    async fn close_circuit(&self, endpoint: &EndpointKey) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::circuit_pk(&endpoint.0, &endpoint.1), keys::CIRCUIT_SK)))
            .send()
            .await
            .map_err(sdk_err("DeleteItem"))?;
        Ok(())
    }
}
