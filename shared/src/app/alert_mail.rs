//! Who an alert goes to, and sending it: only addresses that opted in (confirmed), each its
//! own e-mail with its own one-click unsubscribe link, each counted against the tenant's
//! daily cap first. An address SES refuses for good is paused for 14 days, not retried.

use std::time::Duration;

use crate::app::quota;
use crate::app::recipients::mark_undeliverable;
use crate::domain::quota::{QuotaKind, RateQuota};
use crate::domain::recipient::{
    self, AlertRecipient, OptInSettings, RecipientToken, TokenPurpose, UNSUBSCRIBE_LINK_TTL, normal_address,
};
use crate::domain::timestamp;
use crate::domain::webhook::Webhook;
use crate::outbound::mail::{self, UNSUBSCRIBE_PATH, alert};
use crate::ports::mailer::{Email, Mailer};
use crate::ports::store::{QuotaStore, RecipientStore, StoreError};

/// What alert e-mails need besides the webhook: the product name they are sent as, where
/// their unsubscribe links lead, and the daily cap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertMail {
    pub product: String,
    pub base_url: String,
    pub opt_in: OptInSettings,
}

/// The longest an alert waits for the next day's cap (SQS holds a message at most 12 h).
const MAX_CAP_WAIT: Duration = Duration::from_secs(12 * 3600);

/// What telling a summary came to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Told {
    /// Sent to this many addresses.
    Sent(usize),
    /// The tenant's daily cap is used up: try again then.
    CapReached(Duration),
    /// A send failed for a passing reason: try again.
    Failed,
    /// Every address was refused for good (now paused): nobody to tell.
    Nobody,
}

/// The webhook's addresses that may get an alert now: one GetItem each (a webhook names few).
pub(crate) async fn opted_in(
    store: &impl RecipientStore,
    webhook: &Webhook,
) -> Result<Vec<AlertRecipient>, StoreError> {
    let now = timestamp::format(timestamp::now());
    let mut recipients = Vec::new();
    for email in &webhook.alert_emails {
        if let Some(r) = store.get_recipient(&webhook.tenant_id, &normal_address(email)).await?
            && r.receives_alerts(&now)
        {
            recipients.push(r);
        }
    }
    Ok(recipients)
}

/// Sends the webhook's pending summary to each of `recipients`.
pub(crate) async fn tell(
    store: &(impl RecipientStore + QuotaStore),
    mailer: &impl Mailer,
    settings: &AlertMail,
    webhook: &Webhook,
    recipients: &[AlertRecipient],
) -> Result<Told, StoreError> {
    let now = timestamp::now();
    let cap = RateQuota::per_day(settings.opt_in.alert_emails_per_day);
    let (mut sent, mut failed, mut capped) = (0, false, false);
    for r in recipients {
        if !quota::try_take(store, &cap, QuotaKind::AlertEmails, &webhook.tenant_id, now).await? {
            tracing::warn!(cap = cap.limit, "the tenant's daily alert e-mails are used up");
            capped = true;
            break;
        }
        let (token, record) =
            RecipientToken::issue(TokenPurpose::Unsubscribe, &webhook.tenant_id, &r.email, now, UNSUBSCRIBE_LINK_TTL);
        store.put_recipient_token(&record).await?;
        let url = mail::link(&settings.base_url, UNSUBSCRIBE_PATH, &token);
        let email = Email {
            to: r.email.clone(),
            content: alert::compose(webhook, &settings.product, &url),
            headers: mail::unsubscribe_headers(&url),
            tenant_id: webhook.tenant_id.clone(),
        };
        match mailer.send(&email).await {
            Ok(()) => sent += 1,
            Err(e) if e.permanent => mark_undeliverable(store, &webhook.tenant_id, &r.email, &e.message).await?,
            Err(e) => {
                tracing::error!(error = %e, "alert e-mail failed");
                failed = true;
            }
        }
    }
    Ok(if failed {
        Told::Failed
    } else if sent > 0 {
        Told::Sent(sent)
    } else if capped {
        Told::CapReached(recipient::until_next_day(now).min(MAX_CAP_WAIT))
    } else {
        Told::Nobody
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::app::test_doubles::MemoryStore;
    use crate::domain::recipient::{RecipientState, TokenPurpose};
    use crate::ports::mailer::MailError;

    /// Sends to anyone but `refused@` (permanent) and `flaky@` (transient); records the rest.
    #[derive(Default)]
    struct Mail(Mutex<Vec<Email>>);

    impl Mailer for Mail {
        async fn send(&self, email: &Email) -> Result<(), MailError> {
            match email.to.split('@').next() {
                Some("refused") => Err(MailError { message: "MessageRejected".into(), permanent: true }),
                Some("flaky") => Err(MailError::transient("throttled")),
                _ => {
                    self.0.lock().expect("lock").push(email.clone());
                    Ok(())
                }
            }
        }
    }

    fn confirmed(email: &str) -> AlertRecipient {
        let mut r = AlertRecipient::pending("acme", email, "2026-12-01T00:00:00Z");
        r.state = RecipientState::Confirmed;
        r.confirmed_at = Some("2026-12-01T00:00:00Z".into());
        r
    }

    fn webhook(emails: &[&str]) -> Webhook {
        serde_json::from_value(serde_json::json!({
            "id": "wh_1", "tenant_id": "acme", "name": "Orders", "url": "https://example.com/hook",
            "topics": ["order_create"], "enabled": true, "secret": "whsec_c2VjcmV0LXNob3VsZC1uZXZlci1zaG93",
            "alert_emails": emails, "pending_count": 1, "created_at": "", "updated_at": ""
        }))
        .expect("webhook")
    }

    fn settings(cap: u32) -> AlertMail {
        AlertMail {
            product: "Hookline".into(),
            base_url: "https://h.example".into(),
            opt_in: OptInSettings { alert_emails_per_day: cap, ..OptInSettings::default() },
        }
    }

    async fn store_with(emails: &[&str]) -> MemoryStore {
        let store = MemoryStore::default();
        for email in emails {
            store.create_recipient(&confirmed(email)).await.expect("store");
        }
        store
    }

    #[tokio::test]
    async fn each_confirmed_address_gets_its_own_mail_with_its_own_unsubscribe_link() {
        // GIVEN two confirmed addresses and a pending one
        let store = store_with(&["a@x.example", "b@x.example"]).await;
        store.create_recipient(&AlertRecipient::pending("acme", "p@x.example", "")).await.expect("store");
        let w = webhook(&["a@x.example", "B@x.example", "p@x.example", "unknown@x.example"]);
        // WHEN the summary is told
        let recipients = opted_in(&store, &w).await.expect("read");
        let mail = Mail::default();
        let told = tell(&store, &mail, &settings(10), &w, &recipients).await.expect("told");
        // THEN only the confirmed ones got it, each with its own one-click link
        assert_eq!(told, Told::Sent(2));
        let sent = mail.0.lock().expect("lock").clone();
        assert_eq!(sent.iter().map(|e| e.to.as_str()).collect::<Vec<_>>(), ["a@x.example", "b@x.example"]);
        assert_ne!(sent[0].headers, sent[1].headers);
        let tokens = store.recipient_tokens.lock().expect("lock").clone();
        assert!(tokens.iter().all(|t| t.purpose == TokenPurpose::Unsubscribe && t.tenant_id == "acme"));
        assert!(sent[0].headers[0].1.starts_with("<https://h.example/alerts/unsubscribe?token=hru_"));
    }

    #[tokio::test]
    async fn a_permanent_refusal_pauses_the_address_for_14_days_and_a_passing_one_retries() {
        // GIVEN an address SES refuses for good
        let store = store_with(&["refused@x.example"]).await;
        let w = webhook(&["refused@x.example"]);
        let recipients = opted_in(&store, &w).await.expect("read");
        // WHEN an alert is told THEN nobody got it, and the address is paused, not retried
        let told = tell(&store, &Mail::default(), &settings(10), &w, &recipients).await.expect("told");
        assert_eq!(told, Told::Nobody);
        let r = store.get_recipient("acme", "refused@x.example").await.expect("read").expect("there");
        assert_eq!((r.state, r.reason.as_deref()), (RecipientState::Bounced, Some("send_error")));
        let until = timestamp::parse(r.retry_after.as_deref().expect("paused")).expect("time");
        assert!((13..=14).contains(&(until - timestamp::now()).whole_days()), "14 days");
        assert!(opted_in(&store, &w).await.expect("read").is_empty(), "not tried again during the pause");

        // GIVEN an address with a passing failure WHEN told THEN try again later
        let store = store_with(&["flaky@x.example"]).await;
        let w = webhook(&["flaky@x.example"]);
        let recipients = opted_in(&store, &w).await.expect("read");
        assert_eq!(tell(&store, &Mail::default(), &settings(10), &w, &recipients).await.expect("told"), Told::Failed);
    }

    #[tokio::test]
    async fn the_daily_cap_stops_mail_and_says_when_to_try_again() {
        let store = store_with(&["a@x.example", "b@x.example"]).await;
        let w = webhook(&["a@x.example", "b@x.example"]);
        let recipients = opted_in(&store, &w).await.expect("read");
        let mail = Mail::default();
        assert_eq!(tell(&store, &mail, &settings(1), &w, &recipients).await.expect("told"), Told::Sent(1));
        let again = tell(&store, &mail, &settings(1), &w, &recipients).await.expect("told");
        assert!(matches!(again, Told::CapReached(wait) if wait <= MAX_CAP_WAIT), "{again:?}");
        assert_eq!(mail.0.lock().expect("lock").len(), 1);
    }
}
