//! Sending alert e-mails. `Mailer` is what the alert logic needs; `SesMailer` sends with SES
//! from the deployment's verified sender address.

use std::future::Future;

use aws_sdk_ses::types::{Body, Content, Destination, Message};

/// One alert e-mail, with a plain-text and an HTML body.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("ses SendEmail failed: {0}")]
pub struct MailError(pub String);

pub trait Mailer: Send + Sync + 'static {
    fn send(&self, email: &AlertEmail) -> impl Future<Output = Result<(), MailError>> + Send;
}

pub struct SesMailer {
    client: aws_sdk_ses::Client,
    sender: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_ses::Client, sender: impl Into<String>) -> Self {
        Self { client, sender: sender.into() }
    }
}

fn content(text: &str) -> Result<Content, MailError> {
    Content::builder().data(text).charset("UTF-8").build().map_err(|e| MailError(e.to_string()))
}

impl Mailer for SesMailer {
    async fn send(&self, email: &AlertEmail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.text)?).html(content(&email.html)?).build())
            .build();
        self.client
            .send_email()
            .source(&self.sender)
            .destination(Destination::builder().set_to_addresses(Some(email.to.clone())).build())
            .message(message)
            .send()
            .await
            .map_err(|e| MailError(aws_sdk_ses::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
