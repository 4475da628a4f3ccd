//! The delivery function: an SQS batch in, a partial batch response out. The work is
//! `hookline_shared::dispatch`; this adapter maps SQS records to it and its dispositions back
//! to the queue: a retry sets the message's visibility timeout to the back-off delay and is
//! reported as a batch item failure; the last failed attempt is reported with no delay, so
//! SQS's redrive policy moves it to the dead-letter queue.

use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use hookline_shared::aws::SdkConfig;
use hookline_shared::config::DeliveryConfig;
use hookline_shared::dispatch::{Dispatcher, Disposition, Incoming};
use hookline_shared::outbound::{HttpSender, SenderConfig};
use hookline_shared::queue::{SqsQueue, VisibilityChange};
use hookline_shared::store::{DynamoStore, Store};

pub struct DeliveryFunction<S> {
    pub dispatcher: Dispatcher<S>,
    pub queue: SqsQueue,
}

/// The SQS attribute that numbers the attempt.
const RECEIVE_COUNT: &str = "ApproximateReceiveCount";

impl DeliveryFunction<DynamoStore> {
    pub fn from_config(
        sdk: &SdkConfig,
        config: &DeliveryConfig,
    ) -> Result<Self, hookline_shared::outbound::SenderBuildError> {
        let sender = HttpSender::new(SenderConfig {
            timeout: config.request_timeout,
            allow_private_targets: config.allow_private_targets,
            ..SenderConfig::default()
        })?;
        Ok(Self {
            dispatcher: Dispatcher {
                store: DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
                sender,
                signing: config.signing.clone(),
                retry: config.retry.clone(),
            },
            queue: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.delivery_queue_url),
        })
    }
}

impl<S: Store> DeliveryFunction<S> {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut receipts = std::collections::HashMap::new();
        let batch: Vec<Incoming> = event
            .records
            .into_iter()
            .map(|r| {
                let message_id = r.message_id.unwrap_or_default();
                if let Some(receipt) = r.receipt_handle {
                    receipts.insert(message_id.clone(), receipt);
                }
                Incoming {
                    receive_count: r.attributes.get(RECEIVE_COUNT).and_then(|c| c.parse().ok()).unwrap_or(1),
                    body: r.body.unwrap_or_default(),
                    message_id,
                }
            })
            .collect();

        let results = self.dispatcher.dispatch_batch(batch).await;

        let mut changes = Vec::new();
        let mut response = SqsBatchResponse::default();
        for (message_id, disposition) in results {
            let delay = match disposition {
                Disposition::Done => continue,
                Disposition::RetryIn(delay) => delay,
                // No delay: the redrive policy takes it to the DLQ on the next receives
                // (a malformed message can never succeed, so there is nothing to wait for).
                Disposition::Exhausted | Disposition::Malformed => Duration::ZERO,
            };
            if let Some(receipt) = receipts.get(&message_id) {
                changes.push(VisibilityChange { receipt_handle: receipt.clone(), delay });
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
        if let Err(e) = self.queue.change_visibility(&changes).await {
            // The messages come back after the queue's default visibility timeout instead:
            // earlier or later than planned, but not lost.
            tracing::error!(error = %e, "cannot set the retry delays");
        }
        response
    }
}
