//! The alert function: dead-lettered deliveries in, failure alerts out; and SES's bounce and
//! complaint notifications (through SNS) in, alert recipients marked. The work is
//! `hookline_shared::app::alerts` and `app::recipients`; this adapter maps the DLQ batch to it,
//! and holds back (as a batch item failure with a visibility timeout) each message whose alert
//! must wait.

use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::metrics;
use hookline_shared::adapters::sdk::{self, SdkConfig};
use hookline_shared::adapters::ses::SesMailer;
use hookline_shared::adapters::sqs::SqsQueue;
use hookline_shared::adapters::sqs_batch;
use hookline_shared::app::alerts::{AlertDisposition, Alerter};
use hookline_shared::app::recipients;
use hookline_shared::config::AlertConfig;
use hookline_shared::domain::recipient::feedback;
use hookline_shared::ports::mailer::Mailer;
use hookline_shared::ports::store::Store;
use serde_json::Value;

pub struct AlertFunction<S, M> {
    pub alerter: Alerter<S, M>,
    pub dead_letter_queue: SqsQueue,
}

impl AlertFunction<DynamoStore, SesMailer> {
    pub fn from_config(sdk: &SdkConfig, config: &AlertConfig) -> Self {
        Self {
            alerter: Alerter {
                store: DynamoStore::connect(sdk, &config.table_name, &config.secrets_key),
                mailer: SesMailer::new(aws_sdk_ses::Client::new(sdk), &config.sender, config.configuration_set.clone()),
                minute: config.minute,
                claim_lease: config.claim_lease,
                mail: config.mail.clone(),
            },
            dead_letter_queue: SqsQueue::new(sdk::sqs_client(sdk), &config.dead_letter_queue_url),
        }
    }
}

impl<S: Store, M: Mailer> AlertFunction<S, M> {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let (batch, receipts) = sqs_batch::incoming(event);
        let (results, tally) = self.alerter.handle_batch(batch).await;
        metrics::emit("alert", &tally.measures());
        let outcomes = results
            .into_iter()
            .map(|(id, disposition)| match disposition {
                // Logged and counted: keeping it would only bring it back to be counted again.
                AlertDisposition::Done | AlertDisposition::Unreadable => (id, None),
                AlertDisposition::HoldFor(delay) => (id, Some(delay)),
            })
            .collect();
        sqs_batch::respond(&self.dead_letter_queue, outcomes, &receipts).await
    }

    /// SES's notifications from the configuration set's SNS topic. One that is not SES's JSON
    /// is logged and let go (SNS would only send it again); a store error fails the
    /// invocation, so SNS retries it.
    pub async fn handle_notifications(&self, event: SnsEvent) -> Result<(), String> {
        for record in event.records {
            match feedback::parse_notification(&record.sns.message) {
                Ok(Some(feedback)) => {
                    recipients::record_feedback(&self.alerter.store, &feedback).await.map_err(|e| e.to_string())?;
                }
                Ok(None) => tracing::info!(message_id = %record.sns.message_id, "SES notification changes nothing"),
                Err(e) => tracing::error!(message_id = %record.sns.message_id, error = %e, "not an SES notification"),
            }
        }
        Ok(())
    }

    /// One function, two triggers: SNS records say `EventSource`, SQS records `eventSource`.
    pub async fn handle_event(&self, event: Value) -> Result<Value, String> {
        if event["Records"][0]["EventSource"] == "aws:sns" {
            let event: SnsEvent = serde_json::from_value(event).map_err(|e| format!("SNS event: {e}"))?;
            self.handle_notifications(event).await?;
            return Ok(Value::Null);
        }
        let event: SqsEvent = serde_json::from_value(event).map_err(|e| format!("SQS event: {e}"))?;
        serde_json::to_value(self.handle(event).await).map_err(|e| e.to_string())
    }
}
