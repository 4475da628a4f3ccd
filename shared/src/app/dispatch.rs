//! Sending a batch of queued deliveries: the delivery function's logic, without Lambda.
//!
//! For each message: parse it (a malformed one fails alone), look its webhook up (one batched
//! read for the whole batch), render and sign the body, send it, record the attempt (one
//! write), and decide what the queue does with the message (`Disposition`). Retries are the
//! queue's job: a retryable failure becomes a visibility delay, and the last one a redrive to
//! the dead-letter queue.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus, DeliveryWrite};
use crate::domain::task::DeliveryTask;
use crate::domain::timestamp;
use crate::domain::webhook::{PayloadFormat, Webhook};
use crate::outbound::render::EventView;
use crate::outbound::request::{SigningSettings, build_request};
use crate::outbound::retry::RetryPolicy;
use crate::outbound::verdict::{AttemptVerdict, classify, describe_answer};
use crate::ports::queue::ReceivedMessage;
use crate::ports::sender::{SendFailure, SendOutcome, Sender};
use crate::ports::store::{DeliveryStore, WebhookStore};

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
    /// Not a delivery task: report a failure; it ends in the dead-letter queue.
    Malformed,
}

pub struct Dispatcher<S> {
    pub store: S,
    pub sender: Arc<dyn Sender>,
    pub signing: SigningSettings,
    pub retry: RetryPolicy,
}

fn describe(outcome: &SendOutcome) -> String {
    describe_answer(outcome.status, outcome.error.map(SendFailure::as_str))
}

impl<S: WebhookStore + DeliveryStore> Dispatcher<S> {
    pub async fn dispatch_batch(&self, batch: Vec<ReceivedMessage>) -> Vec<(String, Disposition)> {
        let parsed: Vec<(ReceivedMessage, Option<DeliveryTask>)> = batch
            .into_iter()
            .map(|m| {
                let task = DeliveryTask::from_message_body(&m.body);
                if let Err(e) = &task {
                    tracing::error!(message_id = %m.message_id, error = %e, "malformed delivery message");
                }
                (m, task.ok())
            })
            .collect();

        let keys: BTreeSet<(String, String)> = parsed
            .iter()
            .filter_map(|(_, t)| t.as_ref())
            .map(|t| (t.tenant_id.clone(), t.webhook_id.clone()))
            .collect();
        let keys: Vec<(String, String)> = keys.into_iter().collect();
        let webhooks = match self.store.get_webhooks(&keys).await {
            Ok(found) => {
                Some(found.into_iter().map(|w| ((w.tenant_id.clone(), w.id.clone()), w)).collect::<HashMap<_, _>>())
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read webhooks; the batch will be retried");
                None
            }
        };

        // A `form` webhook's deliveries of this batch go in one request (page 004's batches);
        // every other delivery is a request of its own.
        let mut results: Vec<(String, Disposition, Option<DeliveryWrite>)> = Vec::new();
        let mut groups: Vec<Vec<(ReceivedMessage, DeliveryTask)>> = Vec::new();
        let mut form_groups: HashMap<(String, String), usize> = HashMap::new();
        for (message, task) in parsed {
            match (task, &webhooks) {
                (None, _) => results.push((message.message_id, Disposition::Malformed, None)),
                // Without the webhook nothing can be sent: retry on the schedule.
                (Some(_), None) => {
                    let disposition = self.retry_or_exhaust(message.receive_count, None);
                    results.push((message.message_id, disposition, None));
                }
                (Some(task), Some(webhooks)) => {
                    let key = (task.tenant_id.clone(), task.webhook_id.clone());
                    if webhooks.get(&key).is_some_and(|w| w.format == PayloadFormat::Form) {
                        if let Some(&i) = form_groups.get(&key) {
                            groups[i].push((message, task));
                            continue;
                        }
                        form_groups.insert(key, groups.len());
                    }
                    groups.push(vec![(message, task)]);
                }
            }
        }
        let webhooks = webhooks.as_ref();
        let work = groups.into_iter().map(|group| async move {
            let (tenant_id, webhook_id) = (group[0].1.tenant_id.clone(), group[0].1.webhook_id.clone());
            let webhook = webhooks.and_then(|w| w.get(&(tenant_id.clone(), webhook_id.clone())));
            let span = tracing::info_span!(
                "delivery",
                tenant_id = %tenant_id,
                webhook_id = %webhook_id,
                delivery_id = %group[0].1.delivery_id,
                event_id = %group[0].1.event_id,
                attempt = group[0].0.receive_count,
                batched = group.len()
            );
            self.deliver(group, webhook).instrument(span).await
        });
        for group_results in futures::future::join_all(work).await {
            results.extend(group_results);
        }

        // Every delivery's new state in one batched write for the whole batch.
        let writes: Vec<DeliveryWrite> = results.iter().filter_map(|(_, _, w)| w.clone()).collect();
        if let Err(e) = self.store.write_deliveries(&writes).await {
            // The queue still gets the right dispositions; only the states shown lag (and a
            // retry or a dead letter records its own state later).
            tracing::error!(error = %e, deliveries = writes.len(), "cannot record the deliveries' state");
        }
        results.into_iter().map(|(id, disposition, _)| (id, disposition)).collect()
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
    /// each message's fate from the one answer.
    async fn deliver(
        &self,
        group: Vec<(ReceivedMessage, DeliveryTask)>,
        webhook: Option<&Webhook>,
    ) -> Vec<(String, Disposition, Option<DeliveryWrite>)> {
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
            return out;
        };
        if group.is_empty() {
            return out;
        }

        let events: Vec<EventView<'_>> = group
            .iter()
            .map(|(_, t)| EventView { topic: &t.topic, occurred_at: &t.occurred_at, payload: &t.payload })
            .collect();
        let delivery_ids: Vec<&str> = group.iter().map(|(_, t)| t.delivery_id.as_str()).collect();
        let now = timestamp::now();
        let (body, headers) = build_request(webhook, &events, &delivery_ids, &self.signing, now);
        let outcome = self.sender.send(&webhook.url, &headers, body.bytes).await;
        let finished = timestamp::now();
        let verdict = classify(outcome.status, outcome.retry_after);
        match verdict {
            AttemptVerdict::Delivered => {
                tracing::info!(status = outcome.status, latency_ms = timestamp::millis(outcome.latency), "delivered");
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
                error: outcome.error.as_ref().map(ToString::to_string),
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
                    let error = describe(&outcome);
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
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::test_doubles::{MemoryStore, ScriptedSender, answer};
    use crate::domain::settings::Settings;
    use crate::domain::task::TASK_VERSION;

    const SCHEDULE: &str = "30s,150s";

    fn webhook(enabled: bool, consecutive_failures: u32) -> Webhook {
        serde_json::from_value(serde_json::json!({
            "id": "wh_1", "tenant_id": "acme", "name": "orders", "url": "https://example.com/hook",
            "topics": ["order_create"], "enabled": enabled, "secret": "whsec_0123456789abcdef",
            "consecutive_failures": consecutive_failures, "created_at": "", "updated_at": ""
        }))
        .expect("a stored webhook")
    }

    fn message(receive_count: u32) -> ReceivedMessage {
        let task = DeliveryTask::example();
        ReceivedMessage { message_id: "m-1".into(), body: task.to_message_body(), receive_count }
    }

    /// GIVEN a webhook and a receiver answering `answers`, WHEN one message of this attempt
    /// is dispatched: its disposition, what was written, and the store and sender after.
    async fn dispatch(
        webhook: Webhook,
        answers: Vec<crate::ports::sender::SendOutcome>,
        attempt: u32,
    ) -> (Disposition, Vec<DeliveryWrite>, Arc<ScriptedSender>, MemoryStore) {
        let sender = Arc::new(ScriptedSender::answering(answers));
        let dispatcher = Dispatcher {
            store: MemoryStore::with(vec![webhook]),
            sender: sender.clone(),
            signing: SigningSettings::from_settings(&Settings::default()),
            retry: RetryPolicy::new(SCHEDULE, 3, 0.0).expect("schedule"),
        };
        let mut out = dispatcher.dispatch_batch(vec![message(attempt)]).await;
        assert_eq!(out.len(), 1);
        let (id, disposition) = out.remove(0);
        assert_eq!(id, "m-1");
        let writes = dispatcher.store.writes();
        (disposition, writes, sender, dispatcher.store)
    }

    #[tokio::test]
    async fn a_2xx_is_delivered_and_ends_a_run_of_failures() {
        let (disposition, writes, sender, store) = dispatch(webhook(true, 4), vec![answer(204, None)], 1).await;
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(writes[0].delivery.status, DeliveryStatus::Delivered);
        assert_eq!(writes[0].attempt.as_ref().and_then(|a| a.status_code), Some(204));
        assert_eq!(store.recorded.lock().expect("lock").resets, ["wh_1"]);
        let sent = sender.sent();
        assert_eq!(sent[0].url, "https://example.com/hook");
        assert!(sent[0].headers.iter().any(|(name, value)| name == "webhook-id" && value == "dlv_1"));
    }

    #[tokio::test]
    async fn a_failure_retries_after_the_schedules_delay() {
        let (disposition, writes, _, store) = dispatch(webhook(true, 0), vec![answer(500, None)], 1).await;
        assert_eq!(disposition, Disposition::RetryIn(Duration::from_secs(30)));
        assert_eq!(writes[0].delivery.status, DeliveryStatus::Retrying);
        assert_eq!(writes[0].delivery.last_error.as_deref(), Some("HTTP 500"));
        assert!(writes[0].delivery.next_attempt_at.is_some());
        assert!(store.recorded.lock().expect("lock").resets.is_empty(), "no failures to reset");
        let (second, _, _, _) = dispatch(webhook(true, 0), vec![answer(503, None)], 2).await;
        assert_eq!(second, Disposition::RetryIn(Duration::from_secs(150)));
    }

    #[tokio::test]
    async fn retry_after_lengthens_the_wait() {
        let (disposition, _, _, _) =
            dispatch(webhook(true, 0), vec![answer(429, Some(Duration::from_secs(600)))], 1).await;
        assert_eq!(disposition, Disposition::RetryIn(Duration::from_secs(600)));
    }

    #[tokio::test]
    async fn the_last_attempt_failing_is_exhausted() {
        let (disposition, writes, _, _) = dispatch(webhook(true, 0), vec![answer(500, None)], 3).await;
        assert_eq!(disposition, Disposition::Exhausted);
        assert_eq!(writes[0].delivery.status, DeliveryStatus::Failed);
        assert_eq!(writes[0].delivery.attempt_count, 3);
    }

    #[tokio::test]
    async fn a_410_disables_the_webhook() {
        let (disposition, writes, _, store) = dispatch(webhook(true, 0), vec![answer(410, None)], 1).await;
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(writes[0].delivery.status, DeliveryStatus::Failed);
        let disabled = &store.recorded.lock().expect("lock").disabled;
        assert_eq!(disabled.len(), 1);
        assert_eq!(disabled[0].0, "wh_1");
    }

    #[tokio::test]
    async fn a_disabled_webhook_stops_its_delivery_unsent() {
        let (disposition, writes, sender, _) = dispatch(webhook(false, 0), vec![answer(200, None)], 1).await;
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(writes[0].delivery.last_error.as_deref(), Some("webhook disabled"));
        assert!(sender.sent().is_empty());
    }

    #[tokio::test]
    async fn a_message_that_is_no_task_is_malformed() {
        let sender = Arc::new(ScriptedSender::default());
        let dispatcher = Dispatcher {
            store: MemoryStore::with(vec![webhook(true, 0)]),
            sender: sender.clone(),
            signing: SigningSettings::from_settings(&Settings::default()),
            retry: RetryPolicy::new(SCHEDULE, 3, 0.0).expect("schedule"),
        };
        let mut newer = message(1);
        newer.body = newer.body.replacen(&format!("\"v\":{TASK_VERSION}"), "\"v\":99", 1);
        let garbage = ReceivedMessage { message_id: "m-2".into(), body: "not json".into(), receive_count: 1 };
        let out = dispatcher.dispatch_batch(vec![newer, garbage]).await;
        assert_eq!(out, [("m-1".to_string(), Disposition::Malformed), ("m-2".to_string(), Disposition::Malformed)]);
        assert!(sender.sent().is_empty());
    }
}
