//! Failure alerts: what the alert function does with each dead-lettered delivery.
//!
//! For each message: mark the delivery `failed` and count it once (a redelivered DLQ message
//! is not counted twice), add it to the webhook's consecutive failures and to its pending alert
//! summary, disable the webhook when `disable_after_failures` is reached, and e-mail the
//! webhook's stakeholders who opted in (`alert_mail`) unless an e-mail went out within
//! `alert_interval_minutes`. Then the message is held (visibility timeout) until that window
//! ends and comes back to send the
//! summary of everything that failed meanwhile; so no failure goes untold, with no scheduler.
//! Two alert invocations cannot both send for one window: sending is claimed with a
//! conditional write on the webhook's alert state. The summary is cleared only after the
//! e-mail went out; a claim whose invocation died lapses and is taken over, so a crash at any
//! point sends the summary late (or twice), never not at all.

use std::time::Duration;

use time::OffsetDateTime;

use crate::app::alert_mail::{self, AlertMail, Told};
use crate::app::manage_deliveries;
use crate::domain::delivery::DeliveryWrite;
use crate::domain::metrics::AlertTally;
use crate::domain::task::{DeliveryTask, UnreadableMessage};
use crate::domain::timestamp;
use crate::domain::webhook::Webhook;
use crate::ports::mailer::Mailer;
use crate::ports::queue::ReceivedMessage;
use crate::ports::store::{
    AlertStore, DeadLetterCount, DeadLetterKey, DeliveryStore, EventStore, QuotaStore, RecipientStore, StoreError,
    WebhookStore,
};

/// What the DLQ is to do with a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlertDisposition {
    /// Counted and told (or nothing to tell): delete it.
    Done,
    /// Bring it back after this long: the alert window is still open, or a write or the
    /// e-mail failed and will be tried again.
    HoldFor(Duration),
    /// Not even the ids in it can be read, so no delivery can be marked or counted: delete
    /// it, logged at error level and counted in the `unreadable_messages` metric.
    Unreadable,
}

/// After losing the race for an alert window to a parallel invocation: look again soon.
const RETRY_AFTER_RACE: Duration = Duration::from_secs(1);

pub struct Alerter<S, M> {
    pub store: S,
    pub mailer: M,
    /// The length of one minute of `alert_interval_minutes` (60 s; tests shorten it). A
    /// failed write or e-mail is tried again after one such minute.
    pub minute: Duration,
    /// How long a claim to send a summary stands: longer than an invocation can run, so only
    /// a claim whose invocation died is taken over.
    pub claim_lease: Duration,
    /// Who alerts go to and how (see `alert_mail`).
    pub mail: AlertMail,
}

impl<S: WebhookStore + AlertStore + RecipientStore + QuotaStore + DeliveryStore + EventStore, M: Mailer> Alerter<S, M> {
    /// Messages are handled one after another: they often concern the same webhook, and its
    /// alert state is best updated in order.
    /// Each message's disposition, and the batch's figures for the metrics line.
    pub async fn handle_batch(&self, batch: Vec<ReceivedMessage>) -> (Vec<(String, AlertDisposition)>, AlertTally) {
        let mut results = Vec::with_capacity(batch.len());
        let mut tally = AlertTally::default();
        for message in batch {
            let disposition = match self.handle(&message.body, &mut tally).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(message_id = %message.message_id, error = %e, "alert bookkeeping failed; retrying");
                    AlertDisposition::HoldFor(self.minute)
                }
            };
            tally.unreadable += usize::from(disposition == AlertDisposition::Unreadable);
            results.push((message.message_id, disposition));
        }
        (results, tally)
    }

    async fn handle(&self, body: &str, tally: &mut AlertTally) -> Result<AlertDisposition, StoreError> {
        let read = DeliveryTask::from_message_body(body);
        let dead = match &read {
            Ok(task) => DeadLetterKey {
                tenant_id: &task.tenant_id,
                webhook_id: &task.webhook_id,
                delivery_id: &task.delivery_id,
                generation: task.generation,
                unreadable: None,
            },
            Err(unreadable) => match unreadable_dead_letter(body, unreadable) {
                Some(dead) => dead,
                None => return Ok(AlertDisposition::Unreadable),
            },
        };
        let span = tracing::info_span!("alert", tenant_id = %dead.tenant_id, delivery_id = %dead.delivery_id, webhook_id = %dead.webhook_id);
        let _entered = span.enter();
        let now = timestamp::now();
        let at = timestamp::format(now);

        let mut count = self.store.count_dead_letter(&dead, &at).await?;
        if count == DeadLetterCount::NoRecord {
            // Ingest writes no delivery record (decision 44), so a delivery whose every state
            // write failed dies without one in its webhook's log: it is written there as
            // queued (as found by id, for a message that cannot be read), then counted.
            let queued = match &read {
                Ok(task) => Some(task.pending_delivery()),
                Err(_) => manage_deliveries::find_delivery(&self.store, dead.tenant_id, dead.delivery_id)
                    .await?
                    .map(|log| log.delivery),
            };
            if let Some(queued) = queued {
                self.store.write_deliveries(&[DeliveryWrite { delivery: queued, attempt: None }]).await?;
                count = self.store.count_dead_letter(&dead, &at).await?;
            }
        }
        let webhook = match count {
            DeadLetterCount::Counted { delivery, webhook } => {
                tally.dead_letters += 1;
                tracing::warn!(error = delivery.last_error.as_deref().unwrap_or_default(), "delivery failed for good");
                Some(*webhook)
            }
            DeadLetterCount::NotCounted | DeadLetterCount::NoRecord => {
                self.store.get_webhook(dead.tenant_id, dead.webhook_id).await?
            }
            DeadLetterCount::WebhookGone => {
                tally.dead_letters += 1;
                None
            }
        };
        let Some(mut webhook) = webhook else {
            tracing::info!("the webhook is gone; nothing to alert");
            return Ok(AlertDisposition::Done);
        };

        // Checked on every pass, not only right after counting, so a crash between the count
        // and this write can't skip it. Enabling a webhook again resets its count, so this
        // never overrides an owner who re-enabled it.
        if should_disable(&webhook) {
            let reason = format!("{} consecutive deliveries failed", webhook.consecutive_failures);
            let threshold = webhook.disable_after_failures;
            if self.store.disable_for_failures(&webhook.tenant_id, &webhook.id, threshold, &reason, &at).await? {
                tracing::warn!(reason, "webhook disabled");
                webhook.enabled = false;
                webhook.disabled_reason = Some(reason);
                webhook.disabled_at = Some(at.clone());
            }
        }

        if webhook.alert_emails.is_empty() || webhook.pending_count == 0 {
            return Ok(AlertDisposition::Done);
        }
        // Only addresses that opted in are told. With none, the summary stays: the first
        // failure after an address is confirmed tells it all.
        let recipients = alert_mail::opted_in(&self.store, &webhook).await?;
        if recipients.is_empty() {
            tracing::info!("no alert recipient has opted in; nothing sent");
            return Ok(AlertDisposition::Done);
        }
        if let Some(wait) = self.window_left(&webhook, now) {
            return Ok(AlertDisposition::HoldFor(wait));
        }
        if let Some(wait) = self.claim_left(&webhook, now) {
            // Another invocation is sending this summary: look again when its claim lapses.
            return Ok(AlertDisposition::HoldFor(wait));
        }
        if !self.store.claim_alert(&webhook, &at).await? {
            return Ok(AlertDisposition::HoldFor(RETRY_AFTER_RACE));
        }
        // From here a crash leaves the claim standing and the summary in place: when the
        // claim lapses, the returning message tells it (at least once, never lost).
        match alert_mail::tell(&self.store, &self.mailer, &self.mail, &webhook, &recipients).await? {
            Told::Sent(sent) => {
                tally.alerts_sent += sent;
                tracing::info!(recipients = sent, failures = webhook.pending_count, "alert e-mail sent");
                self.store.finish_alert(&webhook, &at).await?;
                Ok(AlertDisposition::Done)
            }
            Told::CapReached(wait) => {
                self.store.release_alert(&webhook, &at).await?;
                Ok(AlertDisposition::HoldFor(wait))
            }
            Told::Failed => {
                tracing::error!("alert e-mail failed; the summary is kept for the next try");
                self.store.release_alert(&webhook, &at).await?;
                Ok(AlertDisposition::HoldFor(self.minute))
            }
            Told::Nobody => {
                self.store.release_alert(&webhook, &at).await?;
                Ok(AlertDisposition::Done)
            }
        }
    }

    /// How long a claim on the webhook's summary still stands, if one does.
    fn claim_left(&self, webhook: &Webhook, now: OffsetDateTime) -> Option<Duration> {
        let claimed = timestamp::parse(webhook.alert_claimed_at.as_deref()?)?;
        let lapses = claimed + self.claim_lease;
        (now < lapses).then(|| Duration::try_from(lapses - now).unwrap_or(self.claim_lease))
    }

    /// How long the current alert window still runs, if an e-mail went out within it.
    fn window_left(&self, webhook: &Webhook, now: OffsetDateTime) -> Option<Duration> {
        let last = timestamp::parse(webhook.last_alert_at.as_deref()?)?;
        let window = self.minute * webhook.alert_interval_minutes;
        let ends = last + window;
        (now < ends).then(|| Duration::try_from(ends - now).unwrap_or(window))
    }
}

/// A dead letter no code reads as a task is never dropped silently: with its ids it is marked
/// `failed` with the reason and counted and alerted like any other (this key); without them it
/// can only be reported (`None`: `AlertDisposition::Unreadable`).
fn unreadable_dead_letter<'a>(body: &str, message: &'a UnreadableMessage) -> Option<DeadLetterKey<'a>> {
    let Some(ids) = &message.ids else {
        tracing::error!(reason = %message.reason, body_len = body.len(), "dead letter unreadable, without ids; dropped");
        return None;
    };
    tracing::error!(
        reason = %message.reason, tenant_id = %ids.tenant_id, delivery_id = %ids.delivery_id,
        "dead letter unreadable; its delivery is marked failed"
    );
    Some(DeadLetterKey {
        tenant_id: &ids.tenant_id,
        webhook_id: &ids.webhook_id,
        delivery_id: &ids.delivery_id,
        generation: ids.generation,
        unreadable: Some(&message.reason),
    })
}

fn should_disable(webhook: &Webhook) -> bool {
    webhook.enabled
        && webhook.disable_after_failures > 0
        && webhook.consecutive_failures >= webhook.disable_after_failures
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A webhook 7 failures in a row (what the disable rule reads; the e-mail's own tests
    /// are in `outbound::mail::alert`).
    fn webhook(enabled: bool) -> Webhook {
        serde_json::from_value(serde_json::json!({
            "id": "wh_1", "tenant_id": "acme", "name": "Orders", "url": "https://example.com/hook",
            "topics": ["order_create"], "enabled": enabled, "secret": "whsec_c2VjcmV0LXNob3VsZC1uZXZlci1zaG93",
            "consecutive_failures": 7, "created_at": "", "updated_at": ""
        }))
        .expect("webhook")
    }

    #[test]
    fn disabling_follows_the_threshold() {
        let mut w = webhook(true);
        w.disable_after_failures = 7;
        assert!(should_disable(&w));
        w.disable_after_failures = 8;
        assert!(!should_disable(&w));
        w.disable_after_failures = 0;
        assert!(!should_disable(&w), "0 = never");
    }
}

#[cfg(test)]
mod unreadable_tests {
    use super::*;
    use crate::app::test_doubles::MemoryStore;
    use crate::ports::mailer::MailError;

    struct NoMail;

    impl Mailer for NoMail {
        async fn send(&self, _: &crate::ports::mailer::Email) -> Result<(), MailError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_unreadable_dead_letter_is_counted_when_its_ids_can_be_read_and_reported_otherwise() {
        let alerter = Alerter {
            store: MemoryStore::default(),
            mailer: NoMail,
            minute: Duration::ZERO,
            claim_lease: Duration::ZERO,
            mail: AlertMail::default(),
        };
        // GIVEN a dead letter of another version (its ids readable), one not even JSON, and a task
        let delivery_id = format!("dlv_{}", "b".repeat(32));
        let ids_only = serde_json::json!({
            "v": 9, "tenant_id": "acme", "delivery_id": delivery_id, "webhook_id": format!("wh_{}", "c".repeat(32))
        });
        let msg = |id: &str, body: String| ReceivedMessage { message_id: id.into(), body, receive_count: 1 };
        let batch = vec![
            msg("newer", ids_only.to_string()),
            msg("garbage", "\u{1}nothing".into()),
            msg("task", DeliveryTask::example().to_message_body()),
        ];
        // WHEN the alert function handles them
        let (out, tally) = alerter.handle_batch(batch).await;
        // THEN the one with ids is counted with its reason (the webhook is gone: nobody to mail),
        // the garbage is reported as unreadable, and the task counted as always
        assert_eq!(
            out,
            [
                ("newer".to_string(), AlertDisposition::Done),
                ("garbage".to_string(), AlertDisposition::Unreadable),
                ("task".to_string(), AlertDisposition::Done),
            ]
        );
        // AND the metrics line counts the unreadable message (this store counts no dead letter
        // as new, so none is added to `dead_letters`)
        assert_eq!(tally, AlertTally { dead_letters: 0, alerts_sent: 0, unreadable: 1 });
        let counted = alerter.store.recorded.lock().expect("lock").dead_letters.clone();
        assert_eq!(counted.len(), 2);
        assert_eq!(counted[0].0, delivery_id);
        assert!(counted[0].1.as_deref().is_some_and(|r| r.contains("missing field")), "{:?}", counted[0]);
        assert_eq!(counted[1], ("dlv_1".to_string(), None));
    }

    #[tokio::test]
    async fn a_dead_letter_carrying_an_event_at_the_depth_limit_is_read_and_counted() {
        use crate::domain::event::EventPayload;
        use crate::domain::limits::MAX_PAYLOAD_DEPTH;
        let alerter = Alerter {
            store: MemoryStore::default(),
            mailer: NoMail,
            minute: Duration::ZERO,
            claim_lease: Duration::ZERO,
            mail: AlertMail::default(),
        };
        // GIVEN a dead letter whose event's context and data nest as deep as ingest allows
        let deep = crate::domain::json_depth::tests::nested(MAX_PAYLOAD_DEPTH).as_object().cloned().expect("obj");
        let task = DeliveryTask {
            payload: EventPayload { context: deep.clone(), data: deep }.into(),
            ..DeliveryTask::example()
        };
        let message = ReceivedMessage { message_id: "m".into(), body: task.to_message_body(), receive_count: 1 };
        // WHEN the alert function handles it; THEN it is counted as a delivery, not as unreadable
        assert_eq!(alerter.handle_batch(vec![message]).await.0, [("m".to_string(), AlertDisposition::Done)]);
        let counted = alerter.store.recorded.lock().expect("lock").dead_letters.clone();
        assert_eq!(counted, [("dlv_1".to_string(), None)]);
    }

    #[tokio::test]
    async fn a_dead_letter_whose_bookkeeping_failed_comes_back_after_one_configured_minute() {
        // GIVEN an alert function whose minute is 250 ms, and a store that cannot read the webhook
        let store = MemoryStore::default();
        store.unreadable_webhooks.lock().expect("lock").push(DeliveryTask::example().webhook_id);
        let minute = Duration::from_millis(250);
        let alerter =
            Alerter { store, mailer: NoMail, minute, claim_lease: Duration::ZERO, mail: AlertMail::default() };
        let body = DeliveryTask::example().to_message_body();
        let message = ReceivedMessage { message_id: "m".into(), body, receive_count: 1 };
        // WHEN it handles a dead letter of that webhook
        let (dispositions, _) = alerter.handle_batch(vec![message]).await;
        // THEN the message is held for one of its minutes (60 s in Lambda), not a fixed minute
        assert_eq!(dispositions, [("m".to_string(), AlertDisposition::HoldFor(minute))]);
    }
}
