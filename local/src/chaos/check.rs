//! The end check of a chaos run: every delivery of every accepted event is `delivered` (its
//! receiver got it, always with its delivery id and a valid signature), or `failed` and counted
//! in an alert e-mail, or its webhook was disabled and says so; nothing reached a webhook that
//! did not subscribe or whose filter did not match. Pure: it judges what the run gathered.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_shared::domain::delivery::{Delivery, DeliveryStatus};
use hookline_shared::domain::webhook::Webhook;

use super::client::{Accepted, BIG_ORDER, Sent};
use super::receivers::Seen;

/// A webhook of the run as set up, with what it asked for.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    pub tenant: usize,
    pub id: String,
    /// Its receiver's path.
    pub path: String,
    pub topics: Vec<&'static str>,
    /// Its filter: only orders of at least `BIG_ORDER`.
    pub big_only: bool,
}

impl WebhookSpec {
    pub fn wants(&self, sent: &Sent) -> bool {
        self.tenant == sent.tenant && self.topics.contains(&sent.topic) && (!self.big_only || sent.total >= BIG_ORDER)
    }
}

/// What the run left behind, read back after it settled.
pub struct Outcome<'a> {
    pub specs: &'a [WebhookSpec],
    pub accepted: &'a [Accepted],
    /// By delivery id, as stored.
    pub deliveries: &'a HashMap<String, Delivery>,
    /// By webhook id, as stored.
    pub webhooks: &'a HashMap<String, Webhook>,
    /// By delivery id, what the receivers saw.
    pub seen: &'a HashMap<String, Seen>,
    /// By webhook id: the failures its alert e-mails counted.
    pub alerted: &'a HashMap<String, u64>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Verdict {
    pub accepted: u64,
    pub deliveries: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Of the failed: those of webhooks disabled (410, or the failure threshold).
    pub disabled: u64,
    /// Failures counted in alert e-mails.
    pub alerted: u64,
    /// Receipts beyond the first of a delivery.
    pub duplicates: u64,
    pub lost: u64,
    pub problems: Vec<String>,
}

impl Verdict {
    /// The run's closing line.
    pub fn line(&self) -> String {
        format!(
            "chaos: accepted {}, delivered {}, failed {}, alerted {}, duplicates {}, lost {}",
            self.accepted, self.delivered, self.failed, self.alerted, self.duplicates, self.lost
        )
    }

    fn lose(&mut self, problem: String) {
        self.lost += 1;
        self.problem(problem);
    }

    /// Kept short: the first few of each run tell the story.
    fn problem(&mut self, problem: String) {
        if self.problems.len() < 50 {
            self.problems.push(problem);
        } else if self.problems.len() == 50 {
            self.problems.push("… (more)".into());
        }
    }
}

pub fn judge(o: &Outcome<'_>) -> Verdict {
    let mut v = Verdict { accepted: o.accepted.len() as u64, ..Verdict::default() };
    let spec_of: HashMap<&str, &WebhookSpec> = o.specs.iter().map(|s| (s.id.as_str(), s)).collect();
    let disabled = |id: &str| o.webhooks.get(id).is_some_and(|w| !w.enabled && w.disabled_reason.is_some());
    let mut failed_per_webhook: HashMap<&str, u64> = HashMap::new();
    let mut known = std::collections::HashSet::new();
    for a in o.accepted {
        let id = &a.sent.event_id;
        for spec in o.specs.iter().filter(|s| s.wants(&a.sent)) {
            if !a.deliveries.iter().any(|(_, w)| *w == spec.id) && !disabled(&spec.id) {
                v.lose(format!("{id}: no delivery to {}, which subscribed and is enabled", spec.path));
            }
        }
        for (delivery_id, webhook_id) in &a.deliveries {
            v.deliveries += 1;
            known.insert(delivery_id.as_str());
            let Some(spec) = spec_of.get(webhook_id.as_str()) else {
                v.problem(format!("{id}: a delivery to an unknown webhook {webhook_id}"));
                continue;
            };
            if !spec.wants(&a.sent) {
                v.problem(format!("{id}: a delivery to {}, which did not subscribe or match", spec.path));
            }
            let seen = o.seen.get(delivery_id);
            if let Some(seen) = seen {
                v.duplicates += seen.accepted.saturating_sub(1);
                if seen.bad_signatures > 0 {
                    v.problem(format!("{delivery_id}: {} requests with a bad signature", seen.bad_signatures));
                }
                if seen.webhooks != [spec.path.clone()] {
                    v.problem(format!("{delivery_id} of {}: reached {:?}", spec.path, seen.webhooks));
                }
            }
            match o.deliveries.get(delivery_id).map(|d| d.status) {
                Some(DeliveryStatus::Delivered) if seen.is_some_and(|s| s.accepted > 0) => v.delivered += 1,
                Some(DeliveryStatus::Delivered) => {
                    v.lose(format!("{delivery_id}: delivered, but its receiver never took it"))
                }
                Some(DeliveryStatus::Failed) => {
                    v.failed += 1;
                    if disabled(webhook_id) {
                        v.disabled += 1;
                    } else {
                        *failed_per_webhook.entry(webhook_id).or_default() += 1;
                    }
                }
                Some(other) => {
                    let d = &o.deliveries[delivery_id];
                    v.lose(format!(
                        "{delivery_id} of {id} to {}: still {other:?} at the end (attempts {}, generation {}, \
                         updated {}, last error {:?}; its receiver saw {} requests)",
                        spec.path,
                        d.attempt_count,
                        d.generation,
                        d.updated_at,
                        d.last_error,
                        seen.map_or(0, |s| s.requests)
                    ))
                }
                None => v.lose(format!("{delivery_id} of {id}: no delivery record")),
            }
        }
    }
    for (webhook_id, failed) in failed_per_webhook {
        let told = o.alerted.get(webhook_id).copied().unwrap_or_default();
        if told < failed {
            let path = spec_of.get(webhook_id).map_or(webhook_id, |s| s.path.as_str());
            for _ in told..failed {
                v.lose(format!("{path}: {failed} deliveries failed, its alert e-mails counted {told}"));
            }
        }
    }
    v.alerted = o.alerted.values().sum();
    for (delivery_id, seen) in o.seen {
        if !known.contains(delivery_id.as_str()) {
            v.problem(format!("{delivery_id} reached {:?}, but no accepted event has it", seen.webhooks));
        }
    }
    v
}

/// The failures an alert e-mail counts, by its webhook id: read from the text part of a raw
/// `multipart/alternative` message as Hookline sends it (base64 parts). `None` for other mail.
pub fn alert_count(raw: &str) -> Option<(String, u64)> {
    let boundary = raw.split("boundary=").nth(1)?.split(['"', '\r', '\n', ';']).find(|s| !s.is_empty())?;
    for part in raw.split(&format!("--{boundary}")).skip(1) {
        let Some((head, body)) = part.split_once("\r\n\r\n").or_else(|| part.split_once("\n\n")) else { continue };
        if !head.to_ascii_lowercase().contains("text/plain") {
            continue;
        }
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let text = String::from_utf8(STANDARD.decode(compact).ok()?).ok()?;
        let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        let webhook = field("Webhook:")?.rsplit_once('(')?.1.trim_end_matches(')').to_string();
        let count = field("Failed deliveries since the last alert:")?.parse().ok()?;
        return Some((webhook, count));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delivery(id: &str, webhook: &str, status: DeliveryStatus) -> Delivery {
        serde_json::from_value(json!({
            "tenant_id": "t0", "delivery_id": id, "event_id": "e", "webhook_id": webhook, "topic": "order_update",
            "status": status, "attempt_count": 1, "created_at": "", "updated_at": "", "expires_at": 0
        }))
        .expect("delivery")
    }

    fn spec(id: &str, big_only: bool) -> WebhookSpec {
        WebhookSpec { tenant: 0, id: id.into(), path: format!("p-{id}"), topics: vec!["order_update"], big_only }
    }

    fn seen(path: &str, accepted: u64) -> Seen {
        Seen { webhooks: vec![path.into()], requests: accepted.max(1), accepted, bad_signatures: 0 }
    }

    #[test]
    fn delivered_failed_and_alerted_deliveries_add_up_and_unalerted_or_unfinished_ones_are_lost() {
        // GIVEN one big order to two webhooks: one delivered (twice), one failed and alerted,
        // and a small order to one webhook, still retrying at the end
        let specs = [spec("a", false), spec("b", true)];
        let sent = |id: &str, total| Sent { tenant: 0, event_id: id.into(), topic: "order_update", total };
        let accepted = [
            Accepted { sent: sent("e1", 60), deliveries: vec![("d1".into(), "a".into()), ("d2".into(), "b".into())] },
            Accepted { sent: sent("e2", 10), deliveries: vec![("d3".into(), "a".into())] },
        ];
        let deliveries = HashMap::from([
            ("d1".to_string(), delivery("d1", "a", DeliveryStatus::Delivered)),
            ("d2".to_string(), delivery("d2", "b", DeliveryStatus::Failed)),
            ("d3".to_string(), delivery("d3", "a", DeliveryStatus::Retrying)),
        ]);
        let seen = HashMap::from([("d1".to_string(), seen("p-a", 2)), ("d2".to_string(), seen("p-b", 0))]);
        let alerted = HashMap::from([("b".to_string(), 1)]);
        let webhooks = HashMap::new();
        let outcome = |alerted| Outcome {
            specs: &specs,
            accepted: &accepted,
            deliveries: &deliveries,
            webhooks: &webhooks,
            seen: &seen,
            alerted,
        };
        // WHEN it is judged
        let v = judge(&outcome(&alerted));
        // THEN 1 delivered (1 duplicate), 1 failed and alerted, 1 lost (still retrying)
        assert_eq!(
            (v.accepted, v.deliveries, v.delivered, v.failed, v.alerted, v.duplicates, v.lost),
            (2, 3, 1, 1, 1, 1, 1)
        );
        assert_eq!(v.line(), "chaos: accepted 2, delivered 1, failed 1, alerted 1, duplicates 1, lost 1");
        // AND a failure no e-mail counted is lost too
        let none = HashMap::new();
        assert_eq!(judge(&outcome(&none)).lost, 2);
    }

    #[test]
    fn a_delivery_to_a_webhook_whose_filter_did_not_match_is_a_problem() {
        // GIVEN a small order delivered to the webhook that only takes big ones
        let specs = [spec("b", true)];
        let accepted = [Accepted {
            sent: Sent { tenant: 0, event_id: "e".into(), topic: "order_update", total: 1 },
            deliveries: vec![("d".into(), "b".into())],
        }];
        let deliveries = HashMap::from([("d".to_string(), delivery("d", "b", DeliveryStatus::Delivered))]);
        let seen = HashMap::from([("d".to_string(), seen("p-b", 1))]);
        let (webhooks, alerted) = (HashMap::new(), HashMap::new());
        let o = Outcome {
            specs: &specs,
            accepted: &accepted,
            deliveries: &deliveries,
            webhooks: &webhooks,
            seen: &seen,
            alerted: &alerted,
        };
        // THEN the check says so
        let v = judge(&o);
        assert!(v.problems.iter().any(|p| p.contains("did not subscribe or match")), "{:?}", v.problems);
    }

    #[test]
    fn an_alert_mail_gives_its_webhook_and_count() {
        // GIVEN a raw alert e-mail as Hookline sends it
        let text = "Deliveries to your webhook keep failing.\n\nWebhook: t0-all (wh_123)\nFailed deliveries since the last alert: 4\n";
        let raw = format!(
            "Subject: x\r\nContent-Type: multipart/alternative; boundary=\"b_1\"\r\n\r\n--b_1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b_1--\r\n",
            STANDARD.encode(text)
        );
        // THEN it counts 4 for wh_123
        assert_eq!(alert_count(&raw), Some(("wh_123".to_string(), 4)));
        assert_eq!(alert_count("Subject: hello\r\n\r\nplain"), None);
    }
}
