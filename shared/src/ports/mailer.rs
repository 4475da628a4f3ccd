//! Sending e-mail: what the alert and opt-in use-cases need (`adapters::ses` sends with SES).

use std::future::Future;

use crate::outbound::mail::MailContent;

/// One e-mail to one address (each recipient gets its own: its unsubscribe link is its own).
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub to: String,
    pub content: MailContent,
    /// Extra headers (ASCII): `List-Unsubscribe` and `List-Unsubscribe-Post` on alerts.
    pub headers: Vec<(String, String)>,
    /// The tenant it is sent for: tagged on the message, so SES's bounce and complaint
    /// notifications find the tenant's address again.
    pub tenant_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the e-mail could not be sent: {message}")]
pub struct MailError {
    pub message: String,
    /// SES refused this message for good (rejected, or an address it cannot send to): sending
    /// it again would fail again.
    pub permanent: bool,
}

impl MailError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false }
    }
}

pub trait Mailer: Send + Sync + 'static {
    fn send(&self, email: &Email) -> impl Future<Output = Result<(), MailError>> + Send;
}
