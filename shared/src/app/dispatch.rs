//! Sending a batch of queued deliveries: the delivery function's logic, without Lambda.
//!
//! For each message: parse it (a malformed one fails alone), look its webhook up (one batched
//! read for the whole batch; one read a webhook if that fails, so a webhook that cannot be read
//! holds back only its own messages), render and sign the body, send it, record the attempt
//! (one write), and decide what the queue does with the message (`Disposition`). Retries are
//! the queue's job: a retryable failure becomes a visibility delay, and the last one a redrive
//! to the dead-letter queue. Before sending, the endpoint's circuit and the webhook's rate
//! limit may hold a delivery back, without an attempt (see `gate`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::domain::circuit::CircuitSettings;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus, DeliveryWrite};
use crate::domain::limits::MAX_FORM_BATCH;
use crate::domain::metrics::DeliveryTally;
use crate::domain::task::{DeliveryTask, UnreadableMessage};
use crate::domain::timestamp;
use crate::domain::webhook::{PayloadFormat, Webhook};
use crate::outbound::render::EventView;
use crate::outbound::request::{SigningSettings, build_request};
use crate::outbound::retry::RetryPolicy;
use crate::outbound::verdict::{AttemptVerdict, classify, describe_answer};
use crate::ports::gate::{DeferQueue, GateStore};
use crate::ports::queue::ReceivedMessage;
use crate::ports::sender::{SendFailure, SendOutcome, Sender};
use crate::ports::store::{DeliveryStore, WebhookStore};

/// How soon a message finished but unrecorded (its state write failed) comes back.
pub const UNRECORDED_RETRY: Duration = Duration::from_secs(1);

/// What the queue is to do with a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Disposition {
    /// Finished (delivered, or stopped for good): delete the message.
    Done,
    /// Failed, try again after this delay: set the visibility timeout, report a failure.
    RetryIn(Duration),
    /// The last allowed attempt failed: report a failure with no delay, so SQS moves the
    /// message to the dead-letter queue at once.
    Exhausted,
    /// Not a delivery task (its delivery, if its ids can be read, is marked `failed`): report a
    /// failure with no delay; the redrive takes it to the dead-letter queue.
    Malformed,
    /// Held back without a request, and carried on by a new message already sent: delete this
    /// one (see `gate`).
    Deferred,
}

/// A batch's outcome: each message's disposition, and the figures for the metrics line.
#[derive(Debug)]
pub struct Dispatched {
    pub dispositions: Vec<(String, Disposition)>,
    pub tally: DeliveryTally,
}

/// One message's outcome inside the batch.
type Outcome = (String, Disposition, Option<DeliveryWrite>);

/// A webhook by `(tenant_id, webhook_id)`.
type WebhookKey = (String, String);
/// A webhook as read for a batch: found or not (`Ok`), or unreadable (`Err`, logged).
type WebhookRead = Result<Option<Webhook>, ()>;

pub struct Dispatcher<S, Q> {
    pub store: S,
    pub sender: Arc<dyn Sender>,
    pub signing: SigningSettings,
    pub retry: RetryPolicy,
    /// Carries held-back deliveries on (see `gate`).
    pub queue: Q,
    pub circuit: CircuitSettings,
}

fn describe(outcome: &SendOutcome) -> String {
    describe_answer(outcome.status, outcome.error.map(SendFailure::as_str))
}

impl<S: WebhookStore + DeliveryStore + GateStore, Q: DeferQueue> Dispatcher<S, Q> {
    pub async fn dispatch_batch(&self, batch: Vec<ReceivedMessage>) -> Dispatched {
        let mut results: Vec<Outcome> = Vec::new();
        let mut latencies_ms = Vec::new();
        let mut parsed: Vec<(ReceivedMessage, DeliveryTask)> = Vec::with_capacity(batch.len());
        for message in batch {
            match DeliveryTask::from_message_body(&message.body) {
                // From here on a message's `receive_count` is its attempt number: the attempts
                // made before a held-back delivery was carried on count too.
                Ok(task) => parsed
                    .push((ReceivedMessage { receive_count: task.attempt(message.receive_count), ..message }, task)),
                Err(unreadable) => {
                    self.mark_unreadable(&message, &unreadable).await;
                    results.push((message.message_id, Disposition::Malformed, None));
                }
            }
        }
        let webhooks = self.read_webhooks(&parsed).await;

        // A `form` webhook's deliveries of this batch go in one request (page 004's batches),
        // `MAX_FORM_BATCH` at most; every other delivery is a request of its own.
        let mut groups: Vec<Vec<(ReceivedMessage, DeliveryTask)>> = Vec::new();
        let mut form_groups: HashMap<WebhookKey, usize> = HashMap::new();
        for (message, task) in parsed {
            let key = (task.tenant_id.clone(), task.webhook_id.clone());
            match webhooks.get(&key) {
                // Without the webhook nothing can be sent: this message retries on the schedule
                // (the others of the batch go on).
                None | Some(Err(())) => results.push(self.webhook_unreadable(message, &task)),
                Some(Ok(webhook)) => {
                    // An integration sends each event alone, whatever the format says.
                    if webhook.as_ref().is_some_and(|w| w.format == PayloadFormat::Form && w.integration.is_none()) {
                        if let Some(&i) = form_groups.get(&key)
                            && groups[i].len() < MAX_FORM_BATCH
                        {
                            groups[i].push((message, task));
                            continue;
                        }
                        form_groups.insert(key, groups.len());
                    }
                    groups.push(vec![(message, task)]);
                }
            }
        }
        let gated = self.gate(groups, &webhooks).await;
        let webhooks = &webhooks;
        let work = gated.groups.into_iter().map(|(group, endpoint)| async move {
            let (tenant_id, webhook_id) = (group[0].1.tenant_id.clone(), group[0].1.webhook_id.clone());
            let webhook =
                webhooks.get(&(tenant_id.clone(), webhook_id.clone())).and_then(|w| w.as_ref().ok()?.as_ref());
            let span = tracing::info_span!(
                "delivery",
                tenant_id = %tenant_id,
                webhook_id = %webhook_id,
                delivery_id = %group[0].1.delivery_id,
                event_id = %group[0].1.event_id,
                attempt = group[0].0.receive_count,
                batched = group.len()
            );
            let (outcomes, sent) = self.deliver(group, webhook).instrument(span).await;
            (outcomes, sent, endpoint)
        });
        let mut reached = Vec::new();
        for (group_results, sent, endpoint) in futures::future::join_all(work).await {
            results.extend(group_results);
            if let Some(sent) = sent {
                latencies_ms.push(timestamp::millis(sent.latency));
                reached.extend(endpoint.map(|e| (e, sent)));
            }
        }
        self.report_reach(reached, &gated.circuits).await;
        results.extend(self.carry_on(gated.hold).await);

        // Every delivery's new state in one batched write for the whole batch.
        let writes: Vec<DeliveryWrite> = results.iter().filter_map(|(_, _, w)| w.clone()).collect();
        if let Err(e) = self.store.write_deliveries(&writes).await {
            // A retry or a dead letter records its own state later; a finished message would
            // not, and its delivery would stay `pending` or `retrying` for good (found by
            // `make chaos`). So it comes back to be sent again and recorded: at least once,
            // under the same delivery id.
            tracing::error!(error = %e, deliveries = writes.len(), "cannot record the deliveries' state");
            for (_, disposition, write) in &mut results {
                if write.is_some() && *disposition == Disposition::Done {
                    *disposition = Disposition::RetryIn(UNRECORDED_RETRY);
                }
            }
        }
        let tally = tally(&results, latencies_ms);
        Dispatched { dispositions: results.into_iter().map(|(id, disposition, _)| (id, disposition)).collect(), tally }
    }

    /// The webhooks of the batch's tasks by key: `Ok(None)` for one that does not exist,
    /// `Err` for one that could not be read. One batched read; if it fails (a store error, or
    /// one item that cannot be read), one read per webhook, so a failure holds back only the
    /// messages for the webhooks it concerns.
    async fn read_webhooks(&self, tasks: &[(ReceivedMessage, DeliveryTask)]) -> HashMap<WebhookKey, WebhookRead> {
        let keys: BTreeSet<WebhookKey> =
            tasks.iter().map(|(_, t)| (t.tenant_id.clone(), t.webhook_id.clone())).collect();
        let keys: Vec<WebhookKey> = keys.into_iter().collect();
        if keys.is_empty() {
            return HashMap::new();
        }
        match self.store.get_webhooks(&keys).await {
            Ok(found) => {
                let mut found: HashMap<WebhookKey, Webhook> =
                    found.into_iter().map(|w| ((w.tenant_id.clone(), w.id.clone()), w)).collect();
                return keys.into_iter().map(|k| (k.clone(), Ok(found.remove(&k)))).collect();
            }
            Err(e) if keys.len() > 1 => {
                tracing::warn!(error = %e, webhooks = keys.len(), "cannot read the batch's webhooks; reading each alone");
            }
            Err(e) => {
                tracing::error!(error = %e, tenant_id = %keys[0].0, webhook_id = %keys[0].1, "cannot read the webhook");
                return keys.into_iter().map(|k| (k, Err(()))).collect();
            }
        }
        let reads = keys.iter().map(|k| self.store.get_webhooks(std::slice::from_ref(k)));
        let reads = futures::future::join_all(reads).await;
        keys.into_iter()
            .zip(reads)
            .map(|(k, read)| {
                let read = match read {
                    Ok(found) => Ok(found.into_iter().next()),
                    Err(e) => {
                        tracing::error!(error = %e, tenant_id = %k.0, webhook_id = %k.1, "cannot read the webhook");
                        Err(())
                    }
                };
                (k, read)
            })
            .collect()
    }

    /// A message whose webhook could not be read: nothing is sent; it retries on the schedule
    /// (or, after its last attempt, fails), its state saying why. The store's own error is
    /// only logged: it is Hookline's, not the tenant's, to read.
    fn webhook_unreadable(
        &self,
        message: ReceivedMessage,
        task: &DeliveryTask,
    ) -> (String, Disposition, Option<DeliveryWrite>) {
        let attempt = message.receive_count;
        let reason = Some("Hookline could not read the webhook".to_string());
        // No request was made: the attempts made before keep their count.
        let attempts = attempt.saturating_sub(1);
        let disposition = self.retry_or_exhaust(attempt, None);
        let delivery = match disposition {
            Disposition::RetryIn(delay) => {
                let next = timestamp::now() + delay;
                Self::state(task, DeliveryStatus::Retrying, attempts, reason, Some(next))
            }
            _ => Self::state(task, DeliveryStatus::Failed, attempts, reason, None),
        };
        let write = (attempt <= self.retry.max_attempts()).then_some(DeliveryWrite { delivery, attempt: None });
        (message.message_id, disposition, write)
    }

    /// A message that is no task this code reads can never be sent: it fails on every receive
    /// and the queue's redrive takes it to the dead-letter queue, where the alert function
    /// counts it. Its delivery, if its ids can be read, is marked `failed` with the reason at
    /// once, so nobody waits on a `pending` delivery that will never be sent.
    async fn mark_unreadable(&self, message: &ReceivedMessage, unreadable: &UnreadableMessage) {
        let Some(ids) = &unreadable.ids else {
            tracing::error!(
                message_id = %message.message_id, reason = %unreadable.reason,
                "unreadable delivery message without ids; on to the dead-letter queue"
            );
            return;
        };
        tracing::error!(
            message_id = %message.message_id, reason = %unreadable.reason, tenant_id = %ids.tenant_id,
            delivery_id = %ids.delivery_id, "unreadable delivery message; its delivery is marked failed"
        );
        let at = timestamp::format(timestamp::now());
        if let Err(e) = self.store.mark_unreadable(ids, &unreadable.reason, &at).await {
            // The alert function marks it when the message reaches the dead-letter queue.
            tracing::error!(error = %e, "cannot mark the delivery failed");
        }
    }

    fn retry_or_exhaust(&self, attempt: u32, at_least: Option<Duration>) -> Disposition {
        if self.retry.is_last(attempt) {
            Disposition::Exhausted
        } else {
            Disposition::RetryIn(self.retry.delay_after(attempt, at_least, rand::rng().random::<f64>()))
        }
    }

    /// The delivery's whole new state after this attempt (or instead of one).
    fn state(
        task: &DeliveryTask,
        status: DeliveryStatus,
        attempt_count: u32,
        last_error: Option<String>,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> Delivery {
        let now = timestamp::format(timestamp::now());
        task.delivery(status, attempt_count, last_error, next_attempt_at.map(timestamp::format), now)
    }

    /// A delivery whose webhook is gone or disabled stops here, marked, not sent.
    fn stop(task: &DeliveryTask, attempt: u32, reason: &str) -> (Disposition, Option<DeliveryWrite>) {
        tracing::info!(reason, "delivery stopped without sending");
        // The attempts made before (if any) keep their count.
        let delivery = Self::state(task, DeliveryStatus::Failed, attempt.saturating_sub(1), Some(reason.into()), None);
        (Disposition::Done, Some(DeliveryWrite { delivery, attempt: None }))
    }

    /// Sends one request for `group` (one delivery, or a `form` webhook's batch) and decides
    /// each message's fate from the one answer; with the request's latency if one was made.
    async fn deliver(
        &self,
        group: Vec<(ReceivedMessage, DeliveryTask)>,
        webhook: Option<&Webhook>,
    ) -> (Vec<Outcome>, Option<SendOutcome>) {
        let mut out = Vec::with_capacity(group.len());
        // A queue allowing more receives than the function's attempts (a misconfiguration)
        // must not mean more sends: the message just goes on to the dead-letter queue.
        // Its state was written by the last allowed attempt.
        let group: Vec<(ReceivedMessage, DeliveryTask)> = group
            .into_iter()
            .filter_map(|(m, t)| {
                if m.receive_count > self.retry.max_attempts() {
                    out.push((m.message_id, Disposition::Exhausted, None));
                    None
                } else {
                    Some((m, t))
                }
            })
            .collect();
        let stop_reason = match webhook {
            None => Some("webhook deleted"),
            Some(w) if !w.enabled => Some("webhook disabled"),
            Some(_) => None,
        };
        let (Some(webhook), None) = (webhook, stop_reason) else {
            for (m, t) in group {
                let (disposition, write) = Self::stop(&t, m.receive_count, stop_reason.unwrap_or_default());
                out.push((m.message_id, disposition, write));
            }
            return (out, None);
        };
        if group.is_empty() {
            return (out, None);
        }

        let events: Vec<EventView<'_>> = group
            .iter()
            .map(|(_, t)| EventView { topic: &t.topic, occurred_at: &t.occurred_at, payload: &t.payload })
            .collect();
        let delivery_ids: Vec<&str> = group.iter().map(|(_, t)| t.delivery_id.as_str()).collect();
        let now = timestamp::now();
        // An event that makes no request (an integration's template output that is not JSON,
        // say) fails this attempt like an unanswered request, its reason in the delivery log:
        // it retries on the schedule, so a webhook fixed in the meantime still delivers it.
        let (outcome, build_error) = match build_request(webhook, &events, &delivery_ids, &self.signing, now) {
            Ok(request) => (self.sender.send(&request.url, &request.headers, request.body.bytes).await, None),
            Err(reason) => (SendOutcome::not_sent(), Some(reason)),
        };
        let finished = timestamp::now();
        let verdict = classify(outcome.status, outcome.retry_after);
        match verdict {
            AttemptVerdict::Delivered => {
                // Debug only: the delivery log holds it, and a line per delivery is most of what
                // the logs would cost (the metrics line counts deliveries per invocation).
                tracing::debug!(status = outcome.status, latency_ms = timestamp::millis(outcome.latency), "delivered");
                // A success ends a run of failures (read with the batch: no write otherwise).
                if webhook.consecutive_failures > 0
                    && let Err(e) = self.store.reset_failures(&webhook.tenant_id, &webhook.id).await
                {
                    tracing::error!(error = %e, "cannot reset the webhook's failure count");
                }
            }
            AttemptVerdict::Gone => {
                let reason = "the endpoint answered 410 Gone";
                tracing::warn!(reason, "disabling webhook");
                if let Err(e) = self
                    .store
                    .disable_webhook(&webhook.tenant_id, &webhook.id, reason, &timestamp::format(finished))
                    .await
                {
                    tracing::error!(error = %e, "cannot disable the webhook");
                }
            }
            AttemptVerdict::Retry { .. } => {}
        }
        for (message, task) in group {
            let attempt = message.receive_count;
            let record = Attempt {
                attempt,
                at: timestamp::format(now),
                status_code: outcome.status,
                error: build_error.clone().or_else(|| outcome.error.as_ref().map(ToString::to_string)),
                latency_ms: timestamp::millis(outcome.latency),
                response_excerpt: outcome.body_excerpt.clone(),
            };
            let write = |status, last_error: Option<String>, next: Option<OffsetDateTime>| {
                Some(DeliveryWrite {
                    delivery: Self::state(&task, status, attempt, last_error, next),
                    attempt: Some(record.clone()),
                })
            };
            let (disposition, write) = match verdict {
                AttemptVerdict::Delivered => (Disposition::Done, write(DeliveryStatus::Delivered, None, None)),
                AttemptVerdict::Gone => (
                    Disposition::Done,
                    write(
                        DeliveryStatus::Failed,
                        Some("the endpoint answered 410 Gone; webhook disabled".into()),
                        None,
                    ),
                ),
                AttemptVerdict::Retry { at_least } => {
                    let error = build_error.clone().unwrap_or_else(|| describe(&outcome));
                    match self.retry_or_exhaust(attempt, at_least) {
                        Disposition::RetryIn(delay) => {
                            tracing::info!(error, delay_s = delay.as_secs(), "attempt failed; retrying");
                            (
                                Disposition::RetryIn(delay),
                                write(DeliveryStatus::Retrying, Some(error), Some(finished + delay)),
                            )
                        }
                        other => {
                            tracing::warn!(error, "last attempt failed; to the dead-letter queue");
                            (other, write(DeliveryStatus::Failed, Some(error), None))
                        }
                    }
                }
            };
            out.push((message.message_id, disposition, write));
        }
        (out, Some(outcome))
    }
}

/// The batch's figures, read off each message's outcome: a sent attempt is one with an
/// attempt record; a `Done` that is not delivered was stopped (webhook gone or disabled, 410).
fn tally(results: &[Outcome], latencies_ms: Vec<u64>) -> DeliveryTally {
    let mut tally = DeliveryTally { latencies_ms, ..DeliveryTally::default() };
    for (_, disposition, write) in results {
        let delivered = write.as_ref().is_some_and(|w| w.delivery.status == DeliveryStatus::Delivered);
        match disposition {
            Disposition::Done if delivered => tally.delivered += 1,
            Disposition::Done => tally.stopped += 1,
            Disposition::RetryIn(_) => tally.retrying += 1,
            Disposition::Exhausted => tally.failed += 1,
            Disposition::Malformed => tally.malformed += 1,
            Disposition::Deferred => tally.deferred += 1,
        }
        tally.attempts += usize::from(write.as_ref().is_some_and(|w| w.attempt.is_some()));
    }
    tally
}

mod gate;
#[cfg(test)]
mod tests;
