//! Alert recipients opt in: the use-cases behind the recipient routes, the confirm and
//! unsubscribe pages, and SES's bounce and complaint notifications.
//!
//! A newly named address gets one confirmation e-mail (fixed text, a single-use link valid 7
//! days) and no alert until it is confirmed. Every e-mail counts against the tenant's daily
//! cap first (one conditional counter write, so concurrent requests never pass it). Links
//! carry a random token of which only the hash is stored; they change only their own
//! recipient's state.

use crate::app::quota;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ids;
use crate::domain::quota::{QuotaKind, RateQuota};
use crate::domain::recipient::feedback::{Feedback, FeedbackKind};
use crate::domain::recipient::{
    self, AlertRecipient, CONFIRM_LINK_TTL, OptInSettings, RecipientState, RecipientToken, TokenPurpose, normal_address,
};
use crate::domain::{access, timestamp};
use crate::outbound::mail::{self, CONFIRM_PATH};
use crate::ports::mailer::{Email, Mailer};
use crate::ports::store::{QuotaStore, RecipientStore, StateChange, StoreResult};

/// What sending opt-in mail needs.
pub struct OptIn<'a, S, M> {
    pub store: &'a S,
    pub mailer: &'a M,
    /// The deployment's product name: the only name the confirmation e-mail shows.
    pub product: &'a str,
    /// The deployment's public address, where the links lead.
    pub base_url: &'a str,
    pub settings: &'a OptInSettings,
}

fn recipient_not_found(email: &str) -> DomainError {
    DomainError::not_found("recipient_not_found", format!("no alert recipient {email:?} for this tenant"))
}

fn invalid_link() -> DomainError {
    DomainError::not_found("invalid_token", "this link is not valid: it was used, replaced or has expired")
}

impl<S: RecipientStore + QuotaStore, M: Mailer> OptIn<'_, S, M> {
    /// After a webhook names `emails`: each address the tenant did not have yet is stored
    /// `pending` and sent its confirmation. The webhook is saved already, so a failure here
    /// is logged, not answered: the address shows `pending` with no confirmation sent, and
    /// the tenant can resend.
    pub async fn request(&self, tenant_id: &str, emails: &[String]) {
        let at = timestamp::format(timestamp::now());
        for email in emails {
            let email = normal_address(email);
            let created = match self.store.create_recipient(&AlertRecipient::pending(tenant_id, &email, &at)).await {
                Ok(created) => created,
                Err(e) => {
                    tracing::error!(tenant_id, error = %e, "alert recipient could not be stored");
                    continue;
                }
            };
            if created && let Err(e) = self.send_confirmation(tenant_id, &email).await {
                tracing::warn!(tenant_id, code = e.code(), error = %e, "confirmation e-mail not sent");
            }
        }
    }

    /// `POST .../alert-recipients/{email}/resend`: a new confirmation (the earlier link stops
    /// working), for a pending address only.
    pub async fn resend(&self, tenant_id: &str, email: &str) -> DomainResult<AlertRecipient> {
        ids::validate_tenant_id(tenant_id)?;
        let email = normal_address(email);
        let current = self.store.get_recipient(tenant_id, &email).await?.ok_or_else(|| recipient_not_found(&email))?;
        if current.state != RecipientState::Pending {
            return Err(DomainError::conflict(
                "recipient_not_pending",
                format!("{email:?} is {}: only a pending address is sent a confirmation", state_name(current.state)),
            ));
        }
        self.send_confirmation(tenant_id, &email).await?;
        // The earlier link no longer confirms (its hash is not the latest); its page goes too.
        if let Some(previous) = &current.confirm_token_hash {
            self.store.delete_recipient_token(previous).await?;
        }
        self.store.get_recipient(tenant_id, &email).await?.ok_or_else(|| recipient_not_found(&email))
    }

    async fn send_confirmation(&self, tenant_id: &str, email: &str) -> DomainResult<()> {
        let now = timestamp::now();
        let cap = self.settings.confirmations_per_day;
        let daily = RateQuota::per_day(cap);
        if !quota::try_take(self.store, &daily, QuotaKind::Confirmations, tenant_id, now).await? {
            return Err(DomainError::conflict(
                "confirmation_limit_reached",
                format!("a tenant may send at most {cap} confirmation e-mails a day; resend tomorrow"),
            ));
        }
        let (token, record) = RecipientToken::issue(TokenPurpose::Confirm, tenant_id, email, now, CONFIRM_LINK_TTL);
        // The token is stored before the e-mail goes out, so its link works when it arrives.
        self.store.put_recipient_token(&record).await?;
        if !self.store.set_confirm_token(tenant_id, email, &record.token_hash, &timestamp::format(now)).await? {
            return Err(DomainError::conflict("recipient_not_pending", format!("{email:?} is no longer pending")));
        }
        let url = mail::link(self.base_url, CONFIRM_PATH, &token);
        let days = CONFIRM_LINK_TTL.as_secs() / 86_400;
        let email_out = Email {
            to: email.to_string(),
            content: mail::confirmation(self.product, &url, days),
            headers: Vec::new(),
            tenant_id: tenant_id.to_string(),
        };
        if let Err(e) = self.mailer.send(&email_out).await {
            if e.permanent {
                mark_undeliverable(self.store, tenant_id, email, &e.message).await?;
            }
            return Err(DomainError::Unavailable { detail: e.to_string() });
        }
        tracing::info!(tenant_id, "confirmation e-mail sent");
        Ok(())
    }
}

/// SES refused mail to this address for good: `bounced`, not tried again for 14 days.
pub async fn mark_undeliverable(
    store: &impl RecipientStore,
    tenant_id: &str,
    email: &str,
    why: &str,
) -> StoreResult<()> {
    let now = timestamp::now();
    let (at, until) = (timestamp::format(now), recipient::pause_until(now));
    tracing::warn!(tenant_id, error = why, retry_after = %until, "SES refused an address; paused");
    let change =
        StateChange { state: RecipientState::Bounced, reason: "send_error", retry_after: Some(&until), at: &at };
    store.set_recipient_state(tenant_id, email, &change).await?;
    Ok(())
}

pub fn state_name(state: RecipientState) -> &'static str {
    match state {
        RecipientState::Pending => "pending",
        RecipientState::Confirmed => "confirmed",
        RecipientState::Unsubscribed => "unsubscribed",
        RecipientState::Bounced => "bounced",
    }
}

/// `GET .../alert-recipients`: every address the tenant named, with its state.
pub async fn list(store: &impl RecipientStore, tenant_id: &str) -> DomainResult<Vec<AlertRecipient>> {
    ids::validate_tenant_id(tenant_id)?;
    Ok(store.list_recipients(tenant_id).await?)
}

/// The token's record, if it is one for `purpose` and still valid.
async fn valid_token(store: &impl RecipientStore, token: &str, purpose: TokenPurpose) -> DomainResult<RecipientToken> {
    if token.is_empty() || token.len() > 200 {
        return Err(invalid_link());
    }
    let record = store.get_recipient_token(&access::token_hash(token)).await?.ok_or_else(invalid_link)?;
    if !record.valid_for(purpose, timestamp::now()) {
        return Err(invalid_link());
    }
    Ok(record)
}

/// Whether a link's token would work (the page a GET shows before its button is pressed).
pub async fn check_link(store: &impl RecipientStore, token: &str, purpose: TokenPurpose) -> DomainResult<()> {
    valid_token(store, token, purpose).await.map(|_| ())
}

/// The confirm link's button: the address is confirmed, once; the token is spent.
pub async fn confirm(store: &impl RecipientStore, token: &str) -> DomainResult<()> {
    let record = valid_token(store, token, TokenPurpose::Confirm).await?;
    let at = timestamp::format(timestamp::now());
    if !store.confirm_recipient(&record.tenant_id, &record.email, &record.token_hash, &at).await? {
        return Err(invalid_link());
    }
    store.delete_recipient_token(&record.token_hash).await?;
    tracing::info!(tenant_id = %record.tenant_id, "alert recipient confirmed");
    Ok(())
}

/// An alert's unsubscribe link (a person's click or a mail client's RFC 8058 POST): the
/// address gets no more alerts from this tenant. Doing it again changes nothing.
pub async fn unsubscribe(store: &impl RecipientStore, token: &str) -> DomainResult<()> {
    let record = valid_token(store, token, TokenPurpose::Unsubscribe).await?;
    let at = timestamp::format(timestamp::now());
    let change = StateChange { state: RecipientState::Unsubscribed, reason: "link", retry_after: None, at: &at };
    store.set_recipient_state(&record.tenant_id, &record.email, &change).await?;
    tracing::info!(tenant_id = %record.tenant_id, "alert recipient unsubscribed");
    Ok(())
}

/// SES's notification of a hard bounce (`bounced`) or a complaint (`unsubscribed`); returns
/// how many of the tenant's addresses it changed.
pub async fn record_feedback(store: &impl RecipientStore, feedback: &Feedback) -> DomainResult<usize> {
    let at = timestamp::format(timestamp::now());
    let (state, reason) = match feedback.kind {
        FeedbackKind::Bounce => (RecipientState::Bounced, "bounce"),
        FeedbackKind::Complaint => (RecipientState::Unsubscribed, "complaint"),
    };
    let change = StateChange { state, reason, retry_after: None, at: &at };
    let mut changed = 0;
    for email in &feedback.emails {
        if store.set_recipient_state(&feedback.tenant_id, &normal_address(email), &change).await? {
            changed += 1;
        }
    }
    tracing::warn!(tenant_id = %feedback.tenant_id, reason, changed, "SES feedback recorded");
    Ok(changed)
}
