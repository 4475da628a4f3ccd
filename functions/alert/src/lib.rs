//! The alert function: dead-lettered deliveries in, failure alerts out. The work is
//! `hookline_shared::app::alerts`; this adapter maps the DLQ batch to it, and holds back (as a
//! batch item failure with a visibility timeout) each message whose alert must wait.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::metrics;
use hookline_shared::adapters::sdk::SdkConfig;
use hookline_shared::adapters::ses::SesMailer;
use hookline_shared::adapters::sqs::SqsQueue;
use hookline_shared::adapters::sqs_batch;
use hookline_shared::app::alerts::{AlertDisposition, Alerter};
use hookline_shared::config::AlertConfig;
use hookline_shared::ports::mailer::Mailer;
use hookline_shared::ports::store::Store;

pub struct AlertFunction<S, M> {
    pub alerter: Alerter<S, M>,
    pub dead_letter_queue: SqsQueue,
}

impl AlertFunction<DynamoStore, SesMailer> {
    pub fn from_config(sdk: &SdkConfig, config: &AlertConfig) -> Self {
        Self {
            alerter: Alerter {
                store: DynamoStore::connect(sdk, &config.table_name, &config.secrets_key),
                mailer: SesMailer::new(aws_sdk_ses::Client::new(sdk), &config.sender),
                minute: config.minute,
                claim_lease: config.claim_lease,
            },
            dead_letter_queue: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.dead_letter_queue_url),
        }
    }
}

impl<S: Store, M: Mailer> AlertFunction<S, M> {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let (batch, receipts) = sqs_batch::incoming(event);
        let results = self.alerter.handle_batch(batch).await;
        let unreadable = results.iter().filter(|(_, d)| *d == AlertDisposition::Unreadable).count();
        metrics::count(metrics::UNREADABLE_MESSAGES, "alert", unreadable);
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
}
