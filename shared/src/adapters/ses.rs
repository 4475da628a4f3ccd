//! `Mailer` on SES v1 `SendRawEmail` (the only v1 call that carries the RFC 8058 unsubscribe
//! headers), from the deployment's verified sender, through its configuration set (whose SNS
//! destination reports bounces and complaints), tagged with the tenant the mail is for.

use aws_sdk_ses::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ses::operation::send_raw_email::SendRawEmailError;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::{MessageTag, RawMessage};

use crate::domain::recipient::feedback::{TENANT_TAG, tenant_tag};
use crate::outbound::mail::mime;
use crate::ports::mailer::{Email, MailError, Mailer};

/// SES error codes that say this message will never go out as it is.
const PERMANENT_CODES: &[&str] = &["MessageRejected", "InvalidParameterValue"];

pub struct SesMailer {
    client: aws_sdk_ses::Client,
    sender: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_ses::Client, sender: impl Into<String>, configuration_set: Option<String>) -> Self {
        Self { client, sender: sender.into(), configuration_set }
    }
}

fn is_permanent(e: &SendRawEmailError) -> bool {
    matches!(e, SendRawEmailError::MessageRejected(_)) || e.code().is_some_and(|c| PERMANENT_CODES.contains(&c))
}

impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let boundary = format!("=_hookline_{}", uuid::Uuid::now_v7().simple());
        let raw = mime::raw_message(&self.sender, &email.to, &email.content, &email.headers, &boundary);
        let message = RawMessage::builder()
            .data(Blob::new(raw.into_bytes()))
            .build()
            .map_err(|e| MailError::transient(e.to_string()))?;
        let tag = MessageTag::builder()
            .name(TENANT_TAG)
            .value(tenant_tag(&email.tenant_id))
            .build()
            .map_err(|e| MailError::transient(e.to_string()))?;
        self.client
            .send_raw_email()
            .source(&self.sender)
            .destinations(&email.to)
            .raw_message(message)
            .tags(tag)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| {
                let permanent = e.as_service_error().is_some_and(is_permanent);
                MailError { message: DisplayErrorContext(e).to_string(), permanent }
            })?;
        Ok(())
    }
}
