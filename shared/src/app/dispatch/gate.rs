//! Before a request: the endpoint's circuit and the webhook's rate limit may hold deliveries
//! back. A held-back delivery is not an attempt: its task goes on as a new message, delayed,
//! carrying the attempts made so far (SQS's receive count, which numbers attempts and drives
//! the redrive to the dead-letter queue, starts again at 1 on it), and the message received is
//! finished. The new message is sent first and the old one finished after, so a crash between
//! the two leaves a duplicate (receivers dedupe on the delivery id), never a loss.
//!
//! The circuit holds a delivery back only within its retry schedule's span from its creation:
//! past it (an endpoint dead for longer than the schedule), it is attempted whatever the
//! circuit says, so it fails on through the schedule to the dead-letter queue and is alerted
//! rather than cycling for as long as the endpoint is down. The rate limit has no such bound:
//! a backlog drains at the limit.

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Dispatcher, Disposition, Outcome, WebhookKey, WebhookRead};
use crate::domain::circuit::{self, Circuit, Gate, Reach};
use crate::domain::rate::{self, RATE_WINDOW};
use crate::domain::task::DeliveryTask;
use crate::domain::timestamp;
use crate::domain::webhook::Webhook;
use crate::ports::gate::{DeferQueue, EndpointKey, GateStore};
use crate::ports::queue::ReceivedMessage;
use crate::ports::sender::{SendFailure, SendOutcome};

/// Messages sent in one request (one, or a `form` webhook's batch).
pub(super) type Group = Vec<(ReceivedMessage, DeliveryTask)>;

/// The batch after the gates: the groups to send (each with its endpoint, when its circuit
/// counts), the held-back messages' outcomes, and the circuits as read.
pub(super) struct Gated {
    pub groups: Vec<(Group, Option<EndpointKey>)>,
    pub hold: Vec<Held>,
    pub circuits: HashMap<EndpointKey, Circuit>,
}

/// A message held back, and how long.
pub(super) type Held = (ReceivedMessage, DeliveryTask, Duration);

/// The endpoint a webhook's requests go to, as its circuit knows it: the URL's origin.
fn endpoint(webhook: &Webhook) -> Option<EndpointKey> {
    let origin = url::Url::parse(&webhook.url).ok()?.origin().ascii_serialization();
    Some((webhook.tenant_id.clone(), origin))
}

/// What a request told about its endpoint, if anything (a request never made tells nothing).
fn reach(outcome: &SendOutcome) -> Option<Reach> {
    match (outcome.status, outcome.error) {
        (Some(_), _) => Some(Reach::Answered),
        (None, Some(SendFailure::Timeout | SendFailure::Connect)) => Some(Reach::Unreachable),
        _ => None,
    }
}

impl<S: GateStore, Q: DeferQueue> Dispatcher<S, Q> {
    /// Whether the circuit may hold the task back: within its schedule's span (see the
    /// module's note).
    fn circuit_may_hold(&self, task: &DeliveryTask, now: OffsetDateTime) -> bool {
        timestamp::parse(&task.created_at).is_some_and(|created| created + self.retry.longest_span() > now)
    }

    pub(super) async fn gate(&self, groups: Vec<Group>, webhooks: &HashMap<WebhookKey, WebhookRead>) -> Gated {
        let now = timestamp::now();
        let now_ms = timestamp::unix_millis(now);
        let webhook_of = |group: &Group| {
            let task = &group[0].1;
            webhooks
                .get(&(task.tenant_id.clone(), task.webhook_id.clone()))
                .and_then(|w| w.as_ref().ok()?.as_ref())
                .filter(|w| w.enabled)
        };
        // Messages never held back (no webhook to send to, or past their last attempt: none
        // is sent) go on ungated; those past the circuit's bound skip only the circuit.
        let mut free: Vec<(Group, Option<EndpointKey>)> = Vec::new();
        let mut gated: Vec<(Group, &Webhook, bool)> = Vec::new();
        for group in groups {
            let Some(webhook) = webhook_of(&group) else {
                free.push((group, None));
                continue;
            };
            let (due, spent): (Group, Group) =
                group.into_iter().partition(|(m, _)| m.receive_count <= self.retry.max_attempts());
            if !spent.is_empty() {
                free.push((spent, None));
            }
            let (within, past): (Group, Group) = due.into_iter().partition(|(_, t)| self.circuit_may_hold(t, now));
            gated.extend(
                [(within, webhook, true), (past, webhook, false)].into_iter().filter(|(g, _, _)| !g.is_empty()),
            );
        }

        let mut hold: Vec<Held> = Vec::new();
        let circuits = self.read_circuits(&gated).await;
        let mut passed: Vec<(Group, &Webhook, Option<EndpointKey>)> = Vec::new();
        let mut probes: HashMap<EndpointKey, bool> = HashMap::new();
        for (group, webhook, circuit_holds) in gated {
            let key = endpoint(webhook).filter(|_| self.circuit.failures_to_open > 0);
            let gate = match &key {
                Some(k) if circuit_holds => circuits.get(k).copied().unwrap_or_default().gate(now_ms),
                _ => Gate::Send,
            };
            let wait = match (gate, &key) {
                (Gate::Send, _) | (_, None) => None,
                (Gate::Wait(wait), _) => Some(wait),
                (Gate::Probe { seen }, Some(k)) => {
                    // One probe an endpoint: the first group that claims it; the rest wait.
                    let claimed = match probes.get(k) {
                        Some(_) => false,
                        None => {
                            let until = circuit::reopens_at(now_ms, &self.circuit);
                            let won = self.store.claim_probe(k, seen, until).await.unwrap_or_else(|e| {
                                tracing::error!(error = %e, endpoint = %k.1, "cannot claim the circuit's probe");
                                false
                            });
                            probes.insert(k.clone(), won);
                            won
                        }
                    };
                    if claimed {
                        tracing::info!(endpoint = %k.1, "circuit probe");
                    }
                    (!claimed).then_some(self.circuit.cooldown)
                }
            };
            match wait {
                Some(wait) => hold.extend(group.into_iter().map(|(m, t)| (m, t, wait))),
                None => passed.push((group, webhook, key)),
            }
        }

        let admitted = self.take_rates(passed, &mut hold).await;
        free.extend(admitted);
        Gated { groups: free, hold, circuits }
    }

    /// Carries the held-back messages on (after the batch's requests, so the deferrals'
    /// queue calls do not delay the requests let through): a new message each, then this one
    /// is finished.
    pub(super) async fn carry_on(&self, hold: Vec<Held>) -> Vec<Outcome> {
        let mut held = Vec::with_capacity(hold.len());
        if !hold.is_empty() {
            tracing::info!(deliveries = hold.len(), "deliveries held back (rate limit or open circuit)");
            let tasks: Vec<(DeliveryTask, Duration)> =
                hold.iter().map(|(m, t, wait)| (t.deferred(m.receive_count), *wait)).collect();
            let sent = self.queue.defer(&tasks).await;
            if let Err(e) = &sent {
                // The messages come back by their visibility instead: one receive more each,
                // which SQS counts (and so does the attempt number), but nothing is lost.
                tracing::error!(error = %e, "cannot carry held-back deliveries on; they come back as retries");
            }
            for (message, _, wait) in hold {
                let disposition =
                    if sent.is_ok() { Disposition::Deferred } else { Disposition::RetryIn(wait.max(RATE_WINDOW)) };
                held.push((message.message_id, disposition, None));
            }
        }
        held
    }

    /// The circuits of the gated groups' endpoints, in one read; closed if it fails (the
    /// requests go, as without a circuit).
    async fn read_circuits(&self, gated: &[(Group, &Webhook, bool)]) -> HashMap<EndpointKey, Circuit> {
        if self.circuit.failures_to_open == 0 {
            return HashMap::new();
        }
        let mut keys: Vec<EndpointKey> = gated.iter().filter_map(|(_, w, _)| endpoint(w)).collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return HashMap::new();
        }
        self.store.get_circuits(&keys).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the endpoints' circuits; taken as closed");
            HashMap::new()
        })
    }

    /// Each rate-limited webhook's room for its messages, taken in one store call a webhook;
    /// the messages past it are added to `hold`.
    async fn take_rates(
        &self,
        passed: Vec<(Group, &Webhook, Option<EndpointKey>)>,
        hold: &mut Vec<Held>,
    ) -> Vec<(Group, Option<EndpointKey>)> {
        let mut wanted: HashMap<(&str, &str), u32> = HashMap::new();
        for (group, webhook, _) in &passed {
            if webhook.max_per_second.is_some() {
                *wanted.entry((&webhook.tenant_id, &webhook.id)).or_default() += group.len() as u32;
            }
        }
        let mut room: HashMap<(&str, &str), (u32, Duration)> = HashMap::new();
        for (_, webhook, _) in &passed {
            let id = (webhook.tenant_id.as_str(), webhook.id.as_str());
            let (Some(limit), false) = (webhook.max_per_second, room.contains_key(&id)) else { continue };
            let taken = self.store.take_rate(id.0, id.1, wanted[&id], limit).await.unwrap_or_else(|e| {
                // Held back rather than sent past the limit; they ask again in a moment.
                tracing::error!(error = %e, webhook_id = id.1, "cannot take the webhook's rate; held back");
                (0, RATE_WINDOW)
            });
            room.insert(id, taken);
        }
        let mut out = Vec::with_capacity(passed.len());
        for (group, webhook, key) in passed {
            let Some((left, wait)) = room.get_mut(&(webhook.tenant_id.as_str(), webhook.id.as_str())) else {
                out.push((group, key));
                continue;
            };
            let take = group.len().min(*left as usize);
            *left -= take as u32;
            let mut group = group;
            let wait = rate::ask_again_in(*wait);
            hold.extend(group.split_off(take).into_iter().map(|(m, t)| (m, t, wait)));
            if !group.is_empty() {
                out.push((group, key));
            }
        }
        out
    }

    /// Tells the circuits what this batch's requests found: an answer closes one that had
    /// failures (or was probed); timeouts and failed connections count towards opening it.
    pub(super) async fn report_reach(
        &self,
        sent: Vec<(EndpointKey, SendOutcome)>,
        circuits: &HashMap<EndpointKey, Circuit>,
    ) {
        let reached = sent.into_iter().filter_map(|(key, outcome)| Some((key, reach(&outcome)?)));
        let mut by_endpoint: HashMap<EndpointKey, (bool, u32)> = HashMap::new();
        for (key, reach) in reached {
            let entry = by_endpoint.entry(key).or_default();
            match reach {
                Reach::Answered => entry.0 = true,
                Reach::Unreachable => entry.1 += 1,
            }
        }
        let now_ms = timestamp::unix_millis(timestamp::now());
        for (key, (answered, failures)) in by_endpoint {
            let seen = circuits.get(&key).copied().unwrap_or_default();
            let result = if answered {
                if !seen.needs_reset() {
                    continue;
                }
                tracing::info!(endpoint = %key.1, "circuit closed");
                self.store.close_circuit(&key).await
            } else {
                self.store
                    .count_failures(&key, failures, circuit::reopens_at(now_ms, &self.circuit), &self.circuit)
                    .await
            };
            if let Err(e) = result {
                tracing::error!(error = %e, endpoint = %key.1, "cannot update the endpoint's circuit");
            }
        }
    }
}
