//! Sending a batch of queued deliveries: the delivery function's logic, without Lambda.
//!
//! For each message: parse it (a malformed one fails alone), look its webhook up (one batched
//! read for the whole batch), render and sign the body, send it, record the attempt (one
//! write), and decide what the queue does with the message (`Disposition`). Retries are the
//! queue's job: a retryable failure becomes a visibility delay, and the last one a redrive to
//! the dead-letter queue.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use rand::Rng;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::delivery::{Attempt, Delivery, DeliveryStatus, DeliveryWrite};
use crate::outbound::{HttpSender, SendOutcome};
use crate::outcome::{AttemptVerdict, classify};
use crate::render::render_payload;
use crate::retry::RetryPolicy;
use crate::signatures::{self, HeaderNames};
use crate::store::Store;
use crate::task::DeliveryTask;
use crate::time_fmt;
use crate::webhook::Webhook;

/// A queue message as the delivery function receives it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub message_id: String,
    pub body: String,
    /// SQS's `ApproximateReceiveCount`: the number of this attempt.
    pub receive_count: u32,
}

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

/// Request signing and naming settings of a deployment.
#[derive(Debug, Clone)]
pub struct SigningSettings {
    pub header_names: HeaderNames,
    /// The `x-source` header's value.
    pub source: String,
}

pub struct Dispatcher<S> {
    pub store: S,
    pub sender: HttpSender,
    pub signing: SigningSettings,
    pub retry: RetryPolicy,
}

fn describe(outcome: &SendOutcome) -> String {
    match (outcome.status, &outcome.error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(failure)) => failure.to_string(),
        (None, None) => "no answer".to_string(),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<S: Store> Dispatcher<S> {
    pub async fn dispatch_batch(&self, batch: Vec<Incoming>) -> Vec<(String, Disposition)> {
        let parsed: Vec<(Incoming, Option<DeliveryTask>)> = batch
            .into_iter()
            .map(|m| {
                let task = serde_json::from_str::<DeliveryTask>(&m.body);
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

        let work = parsed.into_iter().map(|(message, task)| {
            let webhooks = webhooks.as_ref();
            async move {
                let (disposition, write) = match (task, webhooks) {
                    (None, _) => (Disposition::Malformed, None),
                    // Without the webhook nothing can be sent: retry on the schedule.
                    (Some(_), None) => (self.retry_or_exhaust(message.receive_count, None), None),
                    (Some(task), Some(webhooks)) => {
                        let webhook = webhooks.get(&(task.tenant_id.clone(), task.webhook_id.clone()));
                        let span = tracing::info_span!(
                            "delivery",
                            tenant_id = %task.tenant_id,
                            delivery_id = %task.delivery_id,
                            webhook_id = %task.webhook_id,
                            event_id = %task.event_id,
                            attempt = message.receive_count
                        );
                        self.deliver(&task, webhook, message.receive_count).instrument(span).await
                    }
                };
                (message.message_id, disposition, write)
            }
        });
        let results = futures::future::join_all(work).await;

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
        Delivery {
            tenant_id: task.tenant_id.clone(),
            delivery_id: task.delivery_id.clone(),
            event_id: task.event_id.clone(),
            webhook_id: task.webhook_id.clone(),
            topic: task.topic.clone(),
            status,
            attempt_count,
            last_error,
            next_attempt_at: next_attempt_at.map(time_fmt::format),
            created_at: task.created_at.clone(),
            updated_at: time_fmt::format(time_fmt::now()),
            expires_at: task.expires_at,
        }
    }

    /// A delivery whose webhook is gone or disabled stops here, marked, not sent.
    fn stop(task: &DeliveryTask, attempt: u32, reason: &str) -> (Disposition, Option<DeliveryWrite>) {
        tracing::info!(reason, "delivery stopped without sending");
        // The attempts made before (if any) keep their count.
        let delivery = Self::state(task, DeliveryStatus::Failed, attempt.saturating_sub(1), Some(reason.into()), None);
        (Disposition::Done, Some(DeliveryWrite { delivery, attempt: None }))
    }

    async fn deliver(
        &self,
        task: &DeliveryTask,
        webhook: Option<&Webhook>,
        attempt: u32,
    ) -> (Disposition, Option<DeliveryWrite>) {
        // A queue allowing more receives than the function's attempts (a misconfiguration)
        // must not mean more sends: the message just goes on to the dead-letter queue.
        // Its state was written by the last allowed attempt.
        if attempt > self.retry.max_attempts() {
            return (Disposition::Exhausted, None);
        }
        let Some(webhook) = webhook else {
            return Self::stop(task, attempt, "webhook deleted");
        };
        if !webhook.enabled {
            return Self::stop(task, attempt, "webhook disabled");
        }
        let body = render_payload(&task.payload);
        let now = time_fmt::now();
        let headers = signatures::request_headers(
            &self.signing.header_names,
            &self.signing.source,
            body.content_type,
            &[webhook.secret.expose()],
            &task.delivery_id,
            &task.topic,
            now.unix_timestamp(),
            &body.bytes,
        );
        let outcome = self.sender.send(&webhook.url, &headers, body.bytes).await;
        let record = Attempt {
            attempt,
            at: time_fmt::format(now),
            status_code: outcome.status,
            error: outcome.error.as_ref().map(ToString::to_string),
            latency_ms: millis(outcome.latency),
            response_excerpt: outcome.body_excerpt.clone(),
        };
        let finished = time_fmt::now();
        let write = |status, last_error: Option<String>, next: Option<OffsetDateTime>| {
            Some(DeliveryWrite {
                delivery: Self::state(task, status, attempt, last_error, next),
                attempt: Some(record.clone()),
            })
        };
        match classify(outcome.status, outcome.retry_after) {
            AttemptVerdict::Delivered => {
                tracing::info!(status = outcome.status, latency_ms = record.latency_ms, "delivered");
                // A success ends a run of failures (read with the batch: no write otherwise).
                if webhook.consecutive_failures > 0
                    && let Err(e) = self.store.reset_failures(&task.tenant_id, &task.webhook_id).await
                {
                    tracing::error!(error = %e, "cannot reset the webhook's failure count");
                }
                (Disposition::Done, write(DeliveryStatus::Delivered, None, None))
            }
            AttemptVerdict::Gone => {
                let reason = "the endpoint answered 410 Gone";
                tracing::warn!(reason, "disabling webhook");
                if let Err(e) = self
                    .store
                    .disable_webhook(&task.tenant_id, &task.webhook_id, reason, &time_fmt::format(finished))
                    .await
                {
                    tracing::error!(error = %e, "cannot disable the webhook");
                }
                (Disposition::Done, write(DeliveryStatus::Failed, Some(format!("{reason}; webhook disabled")), None))
            }
            AttemptVerdict::Retry { at_least } => {
                let error = describe(&outcome);
                let disposition = self.retry_or_exhaust(attempt, at_least);
                let write = match disposition {
                    Disposition::RetryIn(delay) => {
                        tracing::info!(error, delay_s = delay.as_secs(), "attempt failed; retrying");
                        write(DeliveryStatus::Retrying, Some(error), Some(finished + delay))
                    }
                    _ => {
                        tracing::warn!(error, "last attempt failed; to the dead-letter queue");
                        write(DeliveryStatus::Failed, Some(error), None)
                    }
                };
                (disposition, write)
            }
        }
    }
}
