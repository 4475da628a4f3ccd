//! Who an alert goes to, and sending it: only addresses that opted in (confirmed), each its
//! own e-mail with its own one-click unsubscribe link, each counted against the tenant's
//! daily cap first. An address SES refuses for good is paused for 14 days, not retried.

use std::time::Duration;

use crate::app::alerts::Alerter;
use crate::app::recipients::mark_undeliverable;
use crate::domain::recipient::{
    self, AlertRecipient, DailyQuota, OptInSettings, RecipientToken, TokenPurpose, UNSUBSCRIBE_LINK_TTL, normal_address,
};
use crate::domain::timestamp;
use crate::domain::webhook::Webhook;
use crate::outbound::mail::{self, UNSUBSCRIBE_PATH, alert};
use crate::ports::mailer::{Email, Mailer};
use crate::ports::store::{RecipientStore, StoreError};

/// What alert e-mails need besides the webhook: the product name they are sent as, where
/// their unsubscribe links lead, and the daily cap.
#[derive(Debug, Clone, PartialEq)]
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

impl<S: RecipientStore, M: Mailer> Alerter<S, M> {
    /// The webhook's addresses that may get an alert now: one GetItem each (a webhook names few).
    pub(crate) async fn opted_in(&self, webhook: &Webhook) -> Result<Vec<AlertRecipient>, StoreError> {
        let now = timestamp::format(timestamp::now());
        let mut recipients = Vec::new();
        for email in &webhook.alert_emails {
            if let Some(r) = self.store.get_recipient(&webhook.tenant_id, &normal_address(email)).await?
                && r.receives_alerts(&now)
            {
                recipients.push(r);
            }
        }
        Ok(recipients)
    }

    /// Sends the webhook's pending summary to each of `recipients`.
    pub(crate) async fn tell(&self, webhook: &Webhook, recipients: &[AlertRecipient]) -> Result<Told, StoreError> {
        let now = timestamp::now();
        let day = recipient::quota_day(now);
        let (mut sent, mut failed, mut capped) = (0, false, false);
        for r in recipients {
            let cap = self.mail.opt_in.alert_emails_per_day;
            if !self.store.take_daily_quota(&webhook.tenant_id, &day, DailyQuota::AlertEmails, cap).await? {
                tracing::warn!(cap, "the tenant's daily alert e-mails are used up");
                capped = true;
                break;
            }
            let (token, record) =
                RecipientToken::issue(TokenPurpose::Unsubscribe, &webhook.tenant_id, &r.email, now, UNSUBSCRIBE_LINK_TTL);
            self.store.put_recipient_token(&record).await?;
            let url = mail::link(&self.mail.base_url, UNSUBSCRIBE_PATH, &token);
            let email = Email {
                to: r.email.clone(),
                content: alert::compose(webhook, &self.mail.product, &url),
                headers: mail::unsubscribe_headers(&url),
                tenant_id: webhook.tenant_id.clone(),
            };
            match self.mailer.send(&email).await {
                Ok(()) => sent += 1,
                Err(e) if e.permanent => mark_undeliverable(&self.store, &webhook.tenant_id, &r.email, &e.message).await?,
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
}
