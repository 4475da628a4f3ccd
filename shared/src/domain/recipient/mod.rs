//! Alert recipients opt in (issue 17): an address a tenant names for failure alerts gets one
//! confirmation e-mail and nothing else until its owner confirms; every alert can be
//! unsubscribed from in one click; bounces and complaints stop the mail. Hookline's SES
//! identity is the operator's, so it mails only people who asked.

pub mod feedback;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::access::{new_token, token_hash};
use crate::domain::timestamp;

/// Where an address stands. Only `confirmed` gets alerts (and `bounced` by a send error, once
/// its pause is over).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Asked for; the confirmation e-mail went out (or waits for the daily cap).
    Pending,
    Confirmed,
    /// Its owner said no (the link in an alert, a one-click unsubscribe, a complaint).
    Unsubscribed,
    /// SES said it cannot be delivered (a hard bounce, or a permanent send error).
    Bounced,
}

/// One address a tenant named for alerts, with its opt-in state. One per tenant and address,
/// whatever webhooks name it; it outlives the webhooks, so an unsubscribed address stays so
/// when a webhook is deleted and created again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecipient {
    pub tenant_id: String,
    pub email: String,
    pub state: RecipientState,
    /// The hash of the confirm token sent last; only that token confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_token_hash: Option<String>,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
    /// When the state last changed.
    pub changed_at: String,
    /// Why it is unsubscribed or bounced (`link`, `complaint`, `bounce`, a send error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// After a permanent send error: not mailed again before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
}

impl AlertRecipient {
    /// A newly named address: pending, its confirmation not yet sent.
    pub fn pending(tenant_id: &str, email: &str, at: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_string(),
            email: email.to_string(),
            state: RecipientState::Pending,
            confirm_token_hash: None,
            requested_at: at.to_string(),
            confirmation_sent_at: None,
            confirmed_at: None,
            changed_at: at.to_string(),
            reason: None,
            retry_after: None,
        }
    }

    /// Whether an alert may be sent to it at `now` (RFC 3339).
    pub fn receives_alerts(&self, now: &str) -> bool {
        match self.state {
            RecipientState::Confirmed => true,
            // Paused after a permanent send error: tried again once the pause is over
            // (confirmed before, or it would never have been sent to).
            RecipientState::Bounced => {
                self.confirmed_at.is_some() && self.retry_after.as_deref().is_some_and(|until| until <= now)
            }
            RecipientState::Pending | RecipientState::Unsubscribed => false,
        }
    }
}

/// An address as recipients are keyed: trimmed and lower-cased (so `Ops@x` and `ops@x` are
/// one recipient, and SES's feedback finds it whatever case it reports).
pub fn normal_address(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// What a token in an e-mail's link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    Confirm,
    Unsubscribe,
}

impl TokenPurpose {
    fn prefix(self) -> &'static str {
        match self {
            Self::Confirm => "hrc_",
            Self::Unsubscribe => "hru_",
        }
    }
}

/// A link's token as stored: by its hash only (the token is only in the e-mail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipientToken {
    pub token_hash: String,
    pub purpose: TokenPurpose,
    pub tenant_id: String,
    pub email: String,
    /// Unix seconds; also the item's TTL.
    pub expires_at: i64,
}

impl RecipientToken {
    /// A new token for `purpose`, valid for `ttl` from `now`: the token, and its record.
    pub fn issue(
        purpose: TokenPurpose,
        tenant_id: &str,
        email: &str,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> (String, Self) {
        let token = new_token(purpose.prefix());
        let record = Self {
            token_hash: token_hash(&token),
            purpose,
            tenant_id: tenant_id.to_string(),
            email: email.to_string(),
            expires_at: (now + ttl).unix_timestamp(),
        };
        (token, record)
    }

    /// Whether it still does `purpose` at `now` (TTL deletes late, so expiry is checked here).
    pub fn valid_for(&self, purpose: TokenPurpose, now: OffsetDateTime) -> bool {
        self.purpose == purpose && now.unix_timestamp() < self.expires_at
    }
}

/// How long a confirm link works.
pub const CONFIRM_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long the unsubscribe link of one alert e-mail works (a fresh one is in every alert).
pub const UNSUBSCRIBE_LINK_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long an address SES refused for good is left alone before it is tried again.
pub const PAUSE_AFTER_PERMANENT_ERROR: Duration = Duration::from_secs(14 * 24 * 3600);
pub const DEFAULT_CONFIRMATIONS_PER_DAY: u32 = 20;
pub const DEFAULT_ALERT_EMAILS_PER_DAY: u32 = 200;
/// The caps a deployment may set go up to this.
pub const MAX_DAILY_CAP: u32 = 100_000;

/// How long until the next UTC day, when a daily cap starts again.
pub fn until_next_day(now: OffsetDateTime) -> Duration {
    let next = now.date().next_day().map(|d| d.midnight().assume_utc());
    next.and_then(|n| Duration::try_from(n - now).ok()).unwrap_or(Duration::from_secs(3600))
}

/// A deployment's opt-in rules and the per-tenant daily caps on e-mail.
#[derive(Debug, Clone, PartialEq)]
pub struct OptInSettings {
    pub confirmations_per_day: u32,
    pub alert_emails_per_day: u32,
}

impl Default for OptInSettings {
    fn default() -> Self {
        Self {
            confirmations_per_day: DEFAULT_CONFIRMATIONS_PER_DAY,
            alert_emails_per_day: DEFAULT_ALERT_EMAILS_PER_DAY,
        }
    }
}

/// The time a pause after a permanent send error ends.
pub fn pause_until(now: OffsetDateTime) -> String {
    timestamp::format(now + PAUSE_AFTER_PERMANENT_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        timestamp::parse(s).expect("time")
    }

    #[test]
    fn only_confirmed_addresses_and_paused_ones_past_their_pause_get_alerts() {
        let mut r = AlertRecipient::pending("acme", "ops@example.com", "2026-12-01T00:00:00Z");
        assert!(!r.receives_alerts("2026-12-02T00:00:00Z"), "pending");
        r.state = RecipientState::Confirmed;
        r.confirmed_at = Some("2026-12-01T01:00:00Z".into());
        assert!(r.receives_alerts("2026-12-02T00:00:00Z"));
        r.state = RecipientState::Unsubscribed;
        assert!(!r.receives_alerts("2026-12-02T00:00:00Z"));
        r.state = RecipientState::Bounced;
        assert!(!r.receives_alerts("2026-12-02T00:00:00Z"), "a bounce with no end");
        r.retry_after = Some(pause_until(at("2026-12-01T00:00:00Z")));
        assert_eq!(r.retry_after.as_deref(), Some("2026-12-15T00:00:00Z"), "14 days");
        assert!(!r.receives_alerts("2026-12-14T23:59:59Z"));
        assert!(r.receives_alerts("2026-12-15T00:00:00Z"));
    }

    #[test]
    fn tokens_are_stored_hashed_and_expire() {
        let now = at("2026-12-01T00:00:00Z");
        let (token, record) =
            RecipientToken::issue(TokenPurpose::Confirm, "acme", "a@b.example", now, CONFIRM_LINK_TTL);
        assert!(token.starts_with("hrc_") && token.len() > 40);
        assert_eq!(record.token_hash, token_hash(&token));
        assert!(!serde_json::to_string(&record).expect("json").contains(&token));
        assert!(record.valid_for(TokenPurpose::Confirm, at("2026-12-07T23:59:59Z")));
        assert!(!record.valid_for(TokenPurpose::Confirm, at("2026-12-08T00:00:00Z")), "7 days");
        assert!(!record.valid_for(TokenPurpose::Unsubscribe, now), "a confirm token does not unsubscribe");
    }

    #[test]
    fn a_capped_alert_waits_for_the_next_utc_day() {
        assert_eq!(until_next_day(at("2026-12-03T23:00:00Z")), Duration::from_secs(3600));
    }
}
