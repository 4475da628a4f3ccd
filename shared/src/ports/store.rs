//! Persistence: one narrow trait per aggregate, `Store` their sum. `adapters::dynamo`
//! implements them on one DynamoDB table (see docs/data-model.md for the keys).

use std::future::Future;

use crate::domain::access::{ConsoleLink, ConsoleSession};
use crate::domain::api_key::ApiKeyRecord;
use crate::domain::delivery::{Delivery, DeliveryLog, DeliveryWrite};
use crate::domain::error::DomainError;
use crate::domain::event::EventRecord;
use crate::domain::recipient::{AlertRecipient, RecipientState, RecipientToken};
use crate::domain::task::TaskIds;
use crate::domain::webhook::{Webhook, WebhookChanges};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("dynamodb {operation} failed: {message}")]
    Dynamo { operation: &'static str, message: String },
    #[error("stored item could not be read: {0}")]
    Corrupt(String),
    /// The keys that seal secrets at rest could not be had (KMS failed).
    #[error("{0}")]
    Keys(String),
    /// A webhook's sealed secret does not open for its item: copied there from another item,
    /// or altered. Refused rather than used; see docs/decisions.md.
    #[error("webhook {webhook_id}: a stored secret cannot be decrypted ({reason})")]
    SecretUnreadable { webhook_id: String, reason: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            // Not a passing failure: retrying cannot help, replacing the values can.
            StoreError::SecretUnreadable { webhook_id, .. } => DomainError::conflict(
                "secret_unreadable",
                format!(
                    "webhook {webhook_id} holds a secret that cannot be decrypted for it (copied from another \
                     webhook, or altered); set the secret again (with secret_grace_minutes 0) and its auth and headers, \
                     or delete it"
                ),
            ),
            e => DomainError::Unavailable { detail: format!("storage error: {e}") },
        }
    }
}

/// Which dead letter: the delivery, its webhook, and the delivery's round it was sent in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeadLetterKey<'a> {
    pub tenant_id: &'a str,
    pub webhook_id: &'a str,
    pub delivery_id: &'a str,
    pub generation: u32,
    /// Set for a dead letter no code could read as a task: why, recorded as the delivery's
    /// last error (its own last error otherwise).
    pub unreadable: Option<&'a str>,
}

/// What counting a dead letter did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadLetterCount {
    /// Counted now: the delivery (with its last error) and its webhook after the count.
    Counted { delivery: Box<Delivery>, webhook: Box<Webhook> },
    /// Counted before (a redelivered message), or of an earlier round.
    NotCounted,
    /// No record of the delivery: never written (ingest writes none; its state writes all
    /// failed) or past its retention. Nothing changed.
    NoRecord,
    /// The delivery is marked `failed`, but its webhook is gone: there is nobody to alert.
    WebhookGone,
}

/// One page of a listing; `next` is where the following page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items read in order: the extra item only tells that a
    /// next page exists, which then starts after the last item kept (its `cursor`).
    pub fn from_overfetch(mut items: Vec<T>, limit: usize, cursor: impl FnOnce(&T) -> String) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor)
        } else {
            None
        };
        Page { items, next }
    }

    /// One page from two pages of one listing read side by side from the same start (both in
    /// `ascending` order of `id`, or both descending): the items of both, in order, one per id
    /// (`merge` keeps one of two that share an id), but none past the nearer of the two places
    /// where a reading stopped, since the other reading has not looked that far yet; `next`
    /// is that place (`None` when both were read to their ends).
    pub fn merge(a: Page<T>, b: Page<T>, ascending: bool, id: impl Fn(&T) -> &str, merge: impl Fn(T, T) -> T) -> Self {
        let before = |x: &str, y: &str| if ascending { x < y } else { x > y };
        let next = match (a.next, b.next) {
            (Some(x), Some(y)) => Some(if before(&x, &y) { x } else { y }),
            (x, y) => x.or(y),
        };
        let mut items: Vec<T> = a.items.into_iter().chain(b.items).collect();
        items.sort_by(|x, y| if ascending { id(x).cmp(id(y)) } else { id(y).cmp(id(x)) });
        let mut out: Vec<T> = Vec::with_capacity(items.len());
        for item in items {
            if next.as_deref().is_some_and(|stop| before(stop, id(&item))) {
                break;
            }
            match out.pop() {
                Some(last) if id(&last) == id(&item) => out.push(merge(last, item)),
                Some(last) => out.extend([last, item]),
                None => out.push(item),
            }
        }
        Page { items: out, next }
    }
}

/// Which of a webhook's deliveries to list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeliveryQuery<'a> {
    pub tenant_id: &'a str,
    pub webhook_id: &'a str,
    pub status: Option<crate::domain::delivery::DeliveryStatus>,
    pub limit: usize,
    pub start_after: Option<&'a str>,
    /// Oldest first, from this delivery id on (ids are time-ordered).
    pub since_id: Option<&'a str>,
    /// With `status` failed: also deliveries `pending` under a requeue claim made at or
    /// before these unix seconds (claims whose enqueue was lost: see `Delivery::requeueable`).
    pub stale_claims_before: Option<i64>,
}

/// Outcome of writing an event that may already exist (idempotent ingest).
#[derive(Debug, Clone, PartialEq)]
pub enum CreateEvent {
    Created,
    /// An event with this id exists; here it is, as first stored.
    Exists(Box<EventRecord>),
}

/// API keys, by hash.
pub trait ApiKeyStore: Send + Sync + 'static {
    fn get_api_key(&self, key_hash: &str) -> impl Future<Output = StoreResult<Option<ApiKeyRecord>>> + Send;
    fn put_api_key(&self, record: &ApiKeyRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every key, oldest first (there are few: one per sending product and tenant).
    fn list_api_keys(&self) -> impl Future<Output = StoreResult<Vec<ApiKeyRecord>>> + Send;
    /// Deletes the key with this id; `false` when there was none.
    fn delete_api_key(&self, key_id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Tenants and their webhooks.
pub trait WebhookStore: Send + Sync + 'static {
    fn tenant_exists(&self, tenant_id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Registers a tenant with no webhook yet (a console opened for it); a no-op if it exists.
    fn register_tenant(&self, tenant_id: &str, at: &str) -> impl Future<Output = StoreResult<()>> + Send;
    fn count_webhooks(&self, tenant_id: &str) -> impl Future<Output = StoreResult<usize>> + Send;
    /// Stores a new webhook unless its tenant has `max_webhooks` already (`false` then): the
    /// check and the write are one atomic step, so concurrent creates can't pass the cap.
    /// Registers the tenant if new.
    fn create_webhook(&self, webhook: &Webhook, max_webhooks: usize) -> impl Future<Output = StoreResult<bool>> + Send;
    fn get_webhook(
        &self,
        tenant_id: &str,
        webhook_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Webhook>>> + Send;
    /// Webhooks of a tenant in id order, starting after `start_after`.
    fn list_webhooks(
        &self,
        tenant_id: &str,
        limit: usize,
        start_after: Option<&str>,
    ) -> impl Future<Output = StoreResult<Page<Webhook>>> + Send;
    /// Applies `changes` atomically; `None` when the webhook does not exist.
    fn update_webhook(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        changes: &WebhookChanges,
        updated_at: &str,
    ) -> impl Future<Output = StoreResult<Option<Webhook>>> + Send;
    /// `false` when there was no such webhook.
    fn delete_webhook(&self, tenant_id: &str, webhook_id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// All webhooks of a tenant, for fan-out: one Query. `None` when the tenant is unknown.
    /// Their secrets are not opened (empty): fan-out matches, it never signs.
    fn tenant_webhooks(&self, tenant_id: &str) -> impl Future<Output = StoreResult<Option<Vec<Webhook>>>> + Send;
    /// The webhooks with these `(tenant_id, webhook_id)` keys that exist: one batched read.
    fn get_webhooks(&self, keys: &[(String, String)]) -> impl Future<Output = StoreResult<Vec<Webhook>>> + Send;
    /// Disables a webhook and says why (e.g. its endpoint answered 410 Gone).
    fn disable_webhook(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        reason: &str,
        at: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A delivery succeeded: the consecutive failure count starts again from zero.
    fn reset_failures(&self, tenant_id: &str, webhook_id: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Events, written once by id.
pub trait EventStore: Send + Sync + 'static {
    fn get_event(
        &self,
        tenant_id: &str,
        event_id: &str,
    ) -> impl Future<Output = StoreResult<Option<EventRecord>>> + Send;
    /// Writes the event unless one with its id exists (conditional write).
    fn create_event(&self, event: &EventRecord) -> impl Future<Output = StoreResult<CreateEvent>> + Send;
    /// Flips an event written before ingest markers to `enqueued`.
    fn mark_event_enqueued(&self, tenant_id: &str, event_id: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Writes ingest call `ingest_id`'s events, in the order its delivery ids number them
    /// (`ids::call_delivery_id`), so a delivery is found from its id before any attempt.
    fn put_call_events(
        &self,
        tenant_id: &str,
        ingest_id: &str,
        event_ids: &[String],
        expires_at: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Ingest call `ingest_id`'s events, if written.
    fn call_events(
        &self,
        tenant_id: &str,
        ingest_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Vec<String>>>> + Send;
    /// Writes the marker of ingest call `ingest_id`: every delivery of its events is queued.
    fn mark_ingest_enqueued(
        &self,
        tenant_id: &str,
        ingest_id: &str,
        expires_at: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Whether ingest call `ingest_id`'s marker exists (read consistently).
    fn ingest_enqueued(&self, tenant_id: &str, ingest_id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Deliveries and their attempts.
pub trait DeliveryStore: Send + Sync + 'static {
    /// Writes new `pending` deliveries where their ids find them without a marker (each in its
    /// own partition). With `only_if_absent`, a delivery that already exists is left as it is
    /// (it may have progressed): used when finishing an interrupted ingest.
    fn put_deliveries(
        &self,
        deliveries: &[Delivery],
        only_if_absent: bool,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Writes the new state and attempt of each delivery: puts only, batched (a whole SQS
    /// batch in one or two calls). Of several writes for one delivery the last wins.
    fn write_deliveries(&self, writes: &[DeliveryWrite]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Claims a delivery to send it again: from the state `seen` (failed, or pending under a
    /// lost claim: see `Delivery::requeueable`) to `pending` in the next round, claimed at
    /// `claimed_at` (unix seconds), unless it changed since it was seen; false then. Of
    /// concurrent claims of one delivery, one wins.
    fn claim_requeue(
        &self,
        seen: &Delivery,
        claimed_at: i64,
        at: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Undoes a claim whose messages could not be queued: the delivery is `failed` again (in
    /// its new round, with `reason`), unless the delivery function wrote it meanwhile.
    fn release_requeue(
        &self,
        seen: &Delivery,
        claimed_at: i64,
        reason: &str,
        at: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// One index Query of a webhook's deliveries, newest first (or oldest first from
    /// `since_id` on), optionally only those with `status`, starting after `start_after`. It
    /// examines a bounded number of index items (`limit + 1`, or `FILTERED_PAGE_EXAMINES`
    /// with a filter), so a filter that matches little returns few items (even none): `next`
    /// is then where the reading stopped, and `None` only at the end of the index.
    fn list_webhook_deliveries(
        &self,
        query: &DeliveryQuery<'_>,
    ) -> impl Future<Output = StoreResult<Page<Delivery>>> + Send;
    /// Marks the delivery of a queue message no code can read `failed` with `reason`, unless
    /// it was delivered or is in another round than `ids.generation`; false then (or gone).
    fn mark_unreadable(&self, ids: &TaskIds, reason: &str, at: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// A delivery and its attempts: the record in its webhook's log (when `webhook_id` is
    /// given, or a record in the delivery's own partition names it) and that partition (its
    /// attempts; a record there from before decision 45, or of a finished interrupted call),
    /// the newer record of the two.
    fn get_delivery(
        &self,
        tenant_id: &str,
        delivery_id: &str,
        webhook_id: Option<&str>,
    ) -> impl Future<Output = StoreResult<Option<DeliveryLog>>> + Send;
}

/// A webhook's failure and alert state.
pub trait AlertStore: Send + Sync + 'static {
    /// Disables a webhook for `threshold` consecutive failures, and says why; only if it is
    /// still enabled with that many (not if its owner enabled it again meanwhile). True if so.
    fn disable_for_failures(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        threshold: u32,
        reason: &str,
        at: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Counts a dead-lettered delivery of round `generation`, once: in one transaction it is
    /// marked `failed` and added to its webhook's consecutive failures and pending alert
    /// summary, so a crash can't count it on one side only. A redelivered dead letter, or one
    /// of an earlier round than the delivery's, counts nothing.
    fn count_dead_letter(
        &self,
        dead: &DeadLetterKey<'_>,
        at: &str,
    ) -> impl Future<Output = StoreResult<DeadLetterCount>> + Send;
    /// Claims the pending alert summary `seen` for sending at `at`: true when this caller won,
    /// i.e. the summary, the last alert time and the claim (none, or one the caller judged
    /// stale) were still as seen. The summary stays until `finish_alert`.
    fn claim_alert(&self, seen: &Webhook, at: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The e-mail for the claim made at `at` went out: record it and take what it told
    /// (`claimed`'s summary) off the pending summary, keeping failures counted since.
    fn finish_alert(&self, claimed: &Webhook, at: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// The e-mail could not be sent: drop the claim made at `at`; the summary is still there.
    fn release_alert(&self, claimed: &Webhook, at: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Per-tenant rate counters (see `domain::quota`).
pub trait QuotaStore: Send + Sync + 'static {
    /// Counts `amount` against `tenant_id`'s `kind` counter of window `window`, unless that
    /// would pass `limit`: true when counted (all of it; none otherwise). Atomic (one
    /// conditional write), so concurrent takes never pass the limit; the counter expires (TTL)
    /// after `expires_at`.
    fn take_quota(
        &self,
        tenant_id: &str,
        kind: &str,
        window: u64,
        limit: u32,
        amount: u32,
        expires_at: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Console links and sessions, by their tokens' hashes.
pub trait ConsoleStore: Send + Sync + 'static {
    fn put_console_link(&self, link: &ConsoleLink) -> impl Future<Output = StoreResult<()>> + Send;
    /// Removes the link and returns it, once: of two callers with one token, one gets it.
    fn take_console_link(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<ConsoleLink>>> + Send;
    fn put_console_session(&self, session: &ConsoleSession) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_console_session(&self, token_hash: &str)
    -> impl Future<Output = StoreResult<Option<ConsoleSession>>> + Send;
    fn delete_console_session(&self, token_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A state change of a recipient, for `set_recipient_state`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange<'a> {
    pub state: RecipientState,
    pub reason: &'a str,
    /// Not mailed again before this time (a pause after a permanent send error).
    pub retry_after: Option<&'a str>,
    pub at: &'a str,
}

/// Alert recipients (opt-in) and their link tokens (the daily e-mail caps are `QuotaStore`'s).
pub trait RecipientStore: Send + Sync + 'static {
    /// Stores a newly named address unless the tenant has it already; `false` then.
    fn create_recipient(&self, recipient: &AlertRecipient) -> impl Future<Output = StoreResult<bool>> + Send;
    fn get_recipient(
        &self,
        tenant_id: &str,
        email: &str,
    ) -> impl Future<Output = StoreResult<Option<AlertRecipient>>> + Send;
    /// Every address of a tenant, by address: one Query (paged).
    fn list_recipients(&self, tenant_id: &str) -> impl Future<Output = StoreResult<Vec<AlertRecipient>>> + Send;
    /// Records the confirm token sent at `sent_at` (only this one confirms from now on), while
    /// the address is still pending; `false` otherwise.
    fn set_confirm_token(
        &self,
        tenant_id: &str,
        email: &str,
        token_hash: &str,
        sent_at: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Confirms a pending address whose latest confirm token is `token_hash`; `false` when it
    /// is not (any more) so.
    fn confirm_recipient(
        &self,
        tenant_id: &str,
        email: &str,
        token_hash: &str,
        at: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Sets an existing address's state; `false` when the tenant has no such address.
    fn set_recipient_state(
        &self,
        tenant_id: &str,
        email: &str,
        change: &StateChange<'_>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    fn put_recipient_token(&self, token: &RecipientToken) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_recipient_token(&self, token_hash: &str)
    -> impl Future<Output = StoreResult<Option<RecipientToken>>> + Send;
    fn delete_recipient_token(&self, token_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Every store a function may need; one adapter implements them all on one table.
pub trait Store:
    ApiKeyStore + WebhookStore + EventStore + DeliveryStore + AlertStore + ConsoleStore + QuotaStore + RecipientStore
{
}

impl<
    T: ApiKeyStore + WebhookStore + EventStore + DeliveryStore + AlertStore + ConsoleStore + QuotaStore + RecipientStore,
> Store for T
{
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn an_overfetched_item_makes_a_next_cursor_and_is_dropped() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, |n| format!("after-{n}"));
        assert_eq!(page, Page { items: vec![1, 2], next: Some("after-2".into()) });
    }

    #[test]
    fn two_readings_merge_in_order_one_per_id_and_stop_where_the_nearer_stopped() {
        let page = |ids: &[&str], next: Option<&str>| Page {
            items: ids.iter().map(|i| (i.to_string(), 1)).collect::<Vec<(String, u32)>>(),
            next: next.map(str::to_string),
        };
        let merge = |a: Page<(String, u32)>, b: Page<(String, u32)>, ascending: bool| {
            Page::merge(a, b, ascending, |x| x.0.as_str(), |x, y| (x.0, x.1 + y.1))
        };
        // Newest first: one reading stopped at 7, the other at 4; 3 (read by the second) waits.
        let m = merge(page(&["9", "8", "7"], Some("7")), page(&["8", "5", "4", "3"], Some("3")), false);
        let ids: Vec<(&str, u32)> = m.items.iter().map(|(i, n)| (i.as_str(), *n)).collect();
        assert_eq!(ids, [("9", 1), ("8", 2), ("7", 1)]);
        assert_eq!(m.next.as_deref(), Some("7"));
        // Oldest first, one read to its end: the other's stop is the next start.
        let m = merge(page(&["1", "4"], None), page(&["2", "3"], Some("3")), true);
        assert_eq!(m.items.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(m.next.as_deref(), Some("3"));
        // Both to their ends: everything, no next.
        let m = merge(page(&["2"], None), page(&["3", "1"], None), false);
        assert_eq!((m.items.len(), m.next), (3, None));
    }

    #[test]
    fn a_short_read_is_the_last_page() {
        let page = Page::from_overfetch(vec![1, 2], 2, |n| format!("after-{n}"));
        assert_eq!(page, Page { items: vec![1, 2], next: None });
        assert_eq!(Page::from_overfetch(Vec::<u8>::new(), 5, |n| n.to_string()).next, None);
    }
}
