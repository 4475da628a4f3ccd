//! Stand-ins for the ports in the use-cases' unit tests: an in-memory webhook and delivery
//! store that records what is written, and a sender that answers as told and records what
//! it was asked to send. (The integration tests run the real adapters against moto.)

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::domain::circuit::{Circuit, CircuitSettings};
use crate::domain::delivery::{Delivery, DeliveryLog, DeliveryWrite};
use crate::domain::event::EventRecord;
use crate::domain::limits::FILTERED_PAGE_EXAMINES;
use crate::domain::rate::RateLog;
use crate::domain::recipient::{AlertRecipient, RecipientToken};
use crate::domain::task::DeliveryTask;
use crate::domain::task::TaskIds;
use crate::domain::webhook::{Webhook, WebhookChanges};
use crate::ports::gate::{DeferQueue, EndpointKey, GateStore};
use crate::ports::queue::QueueError;
use crate::ports::sender::{SendOutcome, Sender};
use crate::ports::store::{
    AlertStore, CreateEvent, DeadLetterCount, DeadLetterKey, DeliveryQuery, DeliveryStore, EventStore, Page,
    QuotaStore, RecipientStore, StateChange, StoreError, StoreResult, WebhookStore,
};

/// What the store was told to do.
#[derive(Debug, Default)]
pub struct Recorded {
    pub writes: Vec<DeliveryWrite>,
    /// `(webhook id, reason)` of each webhook disabled.
    pub disabled: Vec<(String, String)>,
    /// Ids of the webhooks whose failure count was reset.
    pub resets: Vec<String>,
    /// `(delivery id, reason)` of each delivery marked failed for an unreadable message.
    pub unreadable: Vec<(String, String)>,
    /// `(delivery id, unreadable reason)` of each dead letter counted.
    pub dead_letters: Vec<(String, Option<String>)>,
}

#[derive(Default)]
pub struct MemoryStore {
    pub webhooks: Mutex<Vec<Webhook>>,
    pub recorded: Mutex<Recorded>,
    /// What the delivery log lists (`list_webhook_deliveries`), and how many index reads it made.
    pub deliveries: Mutex<Vec<Delivery>>,
    pub index_reads: AtomicUsize,
    /// Ids of webhooks whose item cannot be read: a read that includes one fails (as the
    /// DynamoDB adapter's does for an item it cannot deserialise).
    pub unreadable_webhooks: Mutex<Vec<String>>,
    /// How many of the next reads of several webhooks at once fail (a store error).
    pub failing_batch_reads: Mutex<u32>,
    /// How many of the next writes of delivery states fail (a store error).
    pub failing_delivery_writes: Mutex<u32>,
    /// Alert recipients by address, the link tokens put, e-mails counted against the daily cap.
    pub recipients: Mutex<HashMap<String, AlertRecipient>>,
    pub recipient_tokens: Mutex<Vec<RecipientToken>>,
    /// Quota counters by (tenant, kind, window).
    pub quota_counters: Mutex<HashMap<(String, String, u64), u32>>,
    /// Rate logs and circuits (see `gate`).
    pub gates: Mutex<Gates>,
    /// Events by (tenant, id), the ingest calls marked finished, and each call's events.
    pub events: Mutex<HashMap<(String, String), EventRecord>>,
    pub ingest_markers: Mutex<Vec<String>>,
    pub call_events: Mutex<HashMap<String, Vec<String>>>,
    /// Ids of events whose next create is written but answers as the SDK's retried put
    /// would after a lost answer: the event exists.
    pub lost_create_answers: Mutex<Vec<String>>,
}

impl MemoryStore {
    pub fn with(webhooks: Vec<Webhook>) -> Self {
        Self { webhooks: Mutex::new(webhooks), ..Self::default() }
    }

    pub fn writes(&self) -> Vec<DeliveryWrite> {
        self.recorded.lock().expect("lock").writes.clone()
    }

    fn find(&self, tenant_id: &str, webhook_id: &str) -> Option<Webhook> {
        let webhooks = self.webhooks.lock().expect("lock");
        webhooks.iter().find(|w| w.tenant_id == tenant_id && w.id == webhook_id).cloned()
    }
}

impl WebhookStore for MemoryStore {
    async fn tenant_exists(&self, tenant_id: &str) -> StoreResult<bool> {
        Ok(self.webhooks.lock().expect("lock").iter().any(|w| w.tenant_id == tenant_id))
    }

    async fn register_tenant(&self, _: &str, _: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn count_webhooks(&self, tenant_id: &str) -> StoreResult<usize> {
        Ok(self.webhooks.lock().expect("lock").iter().filter(|w| w.tenant_id == tenant_id).count())
    }

    async fn create_webhook(&self, webhook: &Webhook, max: usize) -> StoreResult<bool> {
        let mut webhooks = self.webhooks.lock().expect("lock");
        if webhooks.iter().filter(|w| w.tenant_id == webhook.tenant_id).count() >= max {
            return Ok(false);
        }
        webhooks.push(webhook.clone());
        Ok(true)
    }

    async fn get_webhook(&self, tenant_id: &str, webhook_id: &str) -> StoreResult<Option<Webhook>> {
        if self.unreadable_webhooks.lock().expect("lock").iter().any(|w| w == webhook_id) {
            return Err(StoreError::Corrupt(format!("webhook {webhook_id}: missing field `url`")));
        }
        Ok(self.find(tenant_id, webhook_id))
    }

    async fn list_webhooks(&self, tenant_id: &str, limit: usize, _: Option<&str>) -> StoreResult<Page<Webhook>> {
        let all = self.webhooks.lock().expect("lock").iter().filter(|w| w.tenant_id == tenant_id).cloned().collect();
        Ok(Page::from_overfetch(all, limit, |w: &Webhook| w.id.clone()))
    }

    async fn update_webhook(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        changes: &WebhookChanges,
        _: &str,
    ) -> StoreResult<Option<Webhook>> {
        let mut webhooks = self.webhooks.lock().expect("lock");
        let Some(w) = webhooks.iter_mut().find(|w| w.tenant_id == tenant_id && w.id == webhook_id) else {
            return Ok(None);
        };
        *w = changes.applied_to(w);
        Ok(Some(w.clone()))
    }

    async fn delete_webhook(&self, tenant_id: &str, webhook_id: &str) -> StoreResult<bool> {
        let mut webhooks = self.webhooks.lock().expect("lock");
        let before = webhooks.len();
        webhooks.retain(|w| !(w.tenant_id == tenant_id && w.id == webhook_id));
        Ok(webhooks.len() < before)
    }

    async fn tenant_webhooks(&self, tenant_id: &str) -> StoreResult<Option<Vec<Webhook>>> {
        let all: Vec<Webhook> =
            self.webhooks.lock().expect("lock").iter().filter(|w| w.tenant_id == tenant_id).cloned().collect();
        Ok((!all.is_empty()).then_some(all))
    }

    async fn get_webhooks(&self, keys: &[(String, String)]) -> StoreResult<Vec<Webhook>> {
        if keys.len() > 1 {
            let mut failing = self.failing_batch_reads.lock().expect("lock");
            if *failing > 0 {
                *failing -= 1;
                return Err(StoreError::Dynamo { operation: "BatchGetItem", message: "throttled".into() });
            }
        }
        let unreadable = self.unreadable_webhooks.lock().expect("lock").clone();
        if let Some((_, id)) = keys.iter().find(|(_, w)| unreadable.contains(w)) {
            return Err(StoreError::Corrupt(format!("webhook {id}: missing field `url`")));
        }
        Ok(keys.iter().filter_map(|(t, w)| self.find(t, w)).collect())
    }

    async fn disable_webhook(&self, _: &str, webhook_id: &str, reason: &str, _: &str) -> StoreResult<()> {
        self.recorded.lock().expect("lock").disabled.push((webhook_id.to_string(), reason.to_string()));
        Ok(())
    }

    async fn reset_failures(&self, _: &str, webhook_id: &str) -> StoreResult<()> {
        self.recorded.lock().expect("lock").resets.push(webhook_id.to_string());
        Ok(())
    }
}

impl DeliveryStore for MemoryStore {
    async fn put_deliveries(&self, deliveries: &[Delivery], _: bool) -> StoreResult<()> {
        let mut recorded = self.recorded.lock().expect("lock");
        recorded.writes.extend(deliveries.iter().map(|d| DeliveryWrite { delivery: d.clone(), attempt: None }));
        Ok(())
    }

    async fn write_deliveries(&self, writes: &[DeliveryWrite]) -> StoreResult<()> {
        let mut failing = self.failing_delivery_writes.lock().expect("lock");
        if *failing > 0 {
            *failing -= 1;
            return Err(StoreError::Dynamo { operation: "BatchWriteItem", message: "throttled".into() });
        }
        drop(failing);
        self.recorded.lock().expect("lock").writes.extend_from_slice(writes);
        Ok(())
    }

    async fn claim_requeue(&self, _: &Delivery, _: i64, _: &str) -> StoreResult<bool> {
        Ok(false)
    }

    async fn release_requeue(&self, _: &Delivery, _: i64, _: &str, _: &str) -> StoreResult<()> {
        Ok(())
    }

    /// Like the DynamoDB index: one bounded read of the webhook's deliveries in id order.
    async fn list_webhook_deliveries(&self, q: &DeliveryQuery<'_>) -> StoreResult<Page<Delivery>> {
        self.index_reads.fetch_add(1, Ordering::SeqCst);
        let mut all: Vec<Delivery> = self
            .deliveries
            .lock()
            .expect("lock")
            .iter()
            .filter(|d| d.tenant_id == q.tenant_id && d.webhook_id == q.webhook_id)
            .filter(|d| q.since_id.is_none_or(|since| d.delivery_id.as_str() >= since))
            .cloned()
            .collect();
        all.sort_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
        if q.since_id.is_none() {
            all.reverse();
        }
        let after = q.start_after.and_then(|id| all.iter().position(|d| d.delivery_id == id)).map_or(0, |i| i + 1);
        let examine = if q.status.is_some() { (q.limit + 1).max(FILTERED_PAGE_EXAMINES) } else { q.limit + 1 };
        let examined = &all[after.min(all.len())..(after + examine).min(all.len())];
        let next = (after + examine < all.len()).then(|| examined.last().map(|d| d.delivery_id.clone())).flatten();
        let items = examined.iter().filter(|d| q.status.is_none_or(|s| d.status == s)).cloned().collect();
        Ok(Page { items, next })
    }

    async fn get_delivery(&self, _: &str, _: &str, _: Option<&str>) -> StoreResult<Option<DeliveryLog>> {
        Ok(None)
    }

    async fn mark_unreadable(&self, ids: &TaskIds, reason: &str, _: &str) -> StoreResult<bool> {
        self.recorded.lock().expect("lock").unreadable.push((ids.delivery_id.clone(), reason.to_string()));
        Ok(true)
    }
}

/// Records each dead letter counted; its webhook is then read as stored (`get_webhook`).
impl AlertStore for MemoryStore {
    async fn disable_for_failures(&self, _: &str, _: &str, _: u32, _: &str, _: &str) -> StoreResult<bool> {
        Ok(false)
    }

    async fn count_dead_letter(&self, dead: &DeadLetterKey<'_>, _: &str) -> StoreResult<DeadLetterCount> {
        let entry = (dead.delivery_id.to_string(), dead.unreadable.map(str::to_string));
        self.recorded.lock().expect("lock").dead_letters.push(entry);
        Ok(DeadLetterCount::NotCounted)
    }

    async fn claim_alert(&self, _: &Webhook, _: &str) -> StoreResult<bool> {
        Ok(false)
    }

    async fn finish_alert(&self, _: &Webhook, _: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn release_alert(&self, _: &Webhook, _: &str) -> StoreResult<()> {
        Ok(())
    }
}

/// No events: the use-cases tested with this store read none.
impl EventStore for MemoryStore {
    async fn get_event(&self, tenant_id: &str, event_id: &str) -> StoreResult<Option<EventRecord>> {
        Ok(self.events.lock().expect("lock").get(&(tenant_id.to_string(), event_id.to_string())).cloned())
    }

    async fn create_event(&self, event: &EventRecord) -> StoreResult<CreateEvent> {
        let key = (event.tenant_id.clone(), event.event_id.clone());
        let mut events = self.events.lock().expect("lock");
        if let Some(first) = events.get(&key) {
            return Ok(CreateEvent::Exists(Box::new(first.clone())));
        }
        events.insert(key, event.clone());
        let mut lost = self.lost_create_answers.lock().expect("lock");
        Ok(match lost.iter().position(|id| *id == event.event_id) {
            Some(i) => {
                lost.remove(i);
                CreateEvent::Exists(Box::new(event.clone()))
            }
            None => CreateEvent::Created,
        })
    }

    async fn mark_event_enqueued(&self, tenant_id: &str, event_id: &str) -> StoreResult<()> {
        if let Some(e) = self.events.lock().expect("lock").get_mut(&(tenant_id.to_string(), event_id.to_string())) {
            e.state = crate::domain::event::EventState::Enqueued;
        }
        Ok(())
    }

    async fn put_call_events(&self, _: &str, ingest_id: &str, event_ids: &[String], _: i64) -> StoreResult<()> {
        self.call_events.lock().expect("lock").insert(ingest_id.to_string(), event_ids.to_vec());
        Ok(())
    }

    async fn call_events(&self, _: &str, ingest_id: &str) -> StoreResult<Option<Vec<String>>> {
        Ok(self.call_events.lock().expect("lock").get(ingest_id).cloned())
    }

    async fn mark_ingest_enqueued(&self, _: &str, ingest_id: &str, _: i64) -> StoreResult<()> {
        self.ingest_markers.lock().expect("lock").push(ingest_id.to_string());
        Ok(())
    }

    async fn ingest_enqueued(&self, _: &str, ingest_id: &str) -> StoreResult<bool> {
        Ok(self.ingest_markers.lock().expect("lock").iter().any(|m| m == ingest_id))
    }
}

/// Alert recipients by address, the tokens put, one daily counter for every day and kind.
impl RecipientStore for MemoryStore {
    async fn create_recipient(&self, r: &AlertRecipient) -> StoreResult<bool> {
        Ok(self.recipients.lock().expect("lock").insert(r.email.clone(), r.clone()).is_none())
    }
    async fn get_recipient(&self, _: &str, email: &str) -> StoreResult<Option<AlertRecipient>> {
        Ok(self.recipients.lock().expect("lock").get(email).cloned())
    }
    async fn list_recipients(&self, _: &str) -> StoreResult<Vec<AlertRecipient>> {
        Ok(self.recipients.lock().expect("lock").values().cloned().collect())
    }
    async fn set_confirm_token(&self, _: &str, _: &str, _: &str, _: &str) -> StoreResult<bool> {
        Ok(true)
    }
    async fn confirm_recipient(&self, _: &str, _: &str, _: &str, _: &str) -> StoreResult<bool> {
        Ok(true)
    }
    async fn set_recipient_state(&self, _: &str, email: &str, c: &StateChange<'_>) -> StoreResult<bool> {
        let mut all = self.recipients.lock().expect("lock");
        let Some(r) = all.get_mut(email) else { return Ok(false) };
        r.state = c.state;
        r.reason = Some(c.reason.to_string());
        r.retry_after = c.retry_after.map(str::to_string);
        Ok(true)
    }
    async fn put_recipient_token(&self, token: &RecipientToken) -> StoreResult<()> {
        self.recipient_tokens.lock().expect("lock").push(token.clone());
        Ok(())
    }
    async fn get_recipient_token(&self, _: &str) -> StoreResult<Option<RecipientToken>> {
        Ok(None)
    }
    async fn delete_recipient_token(&self, _: &str) -> StoreResult<()> {
        Ok(())
    }
}

/// Counters per (tenant, kind, window), each taken only below its limit.
impl QuotaStore for MemoryStore {
    async fn take_quota(
        &self,
        tenant: &str,
        kind: &str,
        window: u64,
        limit: u32,
        amount: u32,
        _: i64,
    ) -> StoreResult<bool> {
        let mut counters = self.quota_counters.lock().expect("lock");
        let n = counters.entry((tenant.into(), kind.into(), window)).or_default();
        let taken = *n + amount <= limit;
        if taken {
            *n += amount;
        }
        Ok(taken)
    }
}

/// One request the sender was asked to send.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Answers each request with the next of `answers` (the last one again when they run out).
#[derive(Default)]
pub struct ScriptedSender {
    pub answers: Mutex<VecDeque<SendOutcome>>,
    pub sent: Mutex<Vec<SentRequest>>,
}

impl ScriptedSender {
    pub fn answering(answers: impl IntoIterator<Item = SendOutcome>) -> Self {
        Self { answers: Mutex::new(answers.into_iter().collect()), sent: Mutex::default() }
    }

    pub fn sent(&self) -> Vec<SentRequest> {
        self.sent.lock().expect("lock").clone()
    }
}

/// An HTTP answer with `status` (and a `Retry-After`, if given).
pub fn answer(status: u16, retry_after: Option<Duration>) -> SendOutcome {
    SendOutcome {
        status: Some(status),
        error: None,
        latency: Duration::from_millis(12),
        body_excerpt: format!("status {status}"),
        retry_after,
    }
}

impl Sender for ScriptedSender {
    fn send<'a>(&'a self, url: &'a str, headers: &'a [(String, String)], body: Vec<u8>) -> BoxFuture<'a, SendOutcome> {
        self.sent.lock().expect("lock").push(SentRequest { url: url.to_string(), headers: headers.to_vec(), body });
        let mut answers = self.answers.lock().expect("lock");
        let outcome = if answers.len() > 1 { answers.pop_front() } else { answers.front().cloned() };
        Box::pin(std::future::ready(outcome.unwrap_or_else(|| answer(200, None))))
    }
}

/// Rate logs and circuits of `MemoryStore`.
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

/// Keeps each enqueued task; its enqueues fail as `failing` says, one entry a call (`true`:
/// fail, nothing queued), then succeed.
#[derive(Debug, Default)]
pub struct MemoryTaskQueue {
    pub queued: Mutex<Vec<DeliveryTask>>,
    pub failing: Mutex<VecDeque<bool>>,
}

impl crate::ports::queue::TaskQueue for MemoryTaskQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        if self.failing.lock().expect("lock").pop_front().unwrap_or(false) {
            return Err(QueueError::Sqs { operation: "SendMessageBatch", message: "down".into() });
        }
        self.queued.lock().expect("lock").extend(tasks.iter().cloned());
        Ok(())
    }
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
