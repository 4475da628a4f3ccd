//! Sending alert e-mails: what the alert use-case needs (`adapters::ses` sends with SES).

use std::future::Future;

/// One alert e-mail, with a plain-text and an HTML body.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the e-mail could not be sent: {0}")]
pub struct MailError(pub String);

pub trait Mailer: Send + Sync + 'static {
    fn send(&self, email: &AlertEmail) -> impl Future<Output = Result<(), MailError>> + Send;
}
