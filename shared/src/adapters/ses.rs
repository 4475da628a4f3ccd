//! `Mailer` on SES: alert e-mails from the deployment's verified sender address.

use aws_sdk_ses::types::{Body, Content, Destination, Message};

use crate::ports::mailer::{AlertEmail, MailError, Mailer};

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
