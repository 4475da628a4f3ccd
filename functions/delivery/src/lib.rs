//! The delivery function: an SQS batch in, a partial batch response out. The work is
//! `hookline_shared::app::dispatch`; this adapter maps SQS records to it and its dispositions back
//! to the queue: a retry sets the message's visibility timeout to the back-off delay and is
//! reported as a batch item failure; the last failed attempt is reported with no delay, so
//! SQS's redrive policy moves it to the dead-letter queue.

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::http_sender::{HttpSender, SenderConfig};
use hookline_shared::adapters::metrics;
use hookline_shared::adapters::sdk::{self, SdkConfig};
use hookline_shared::adapters::sqs::SqsQueue;
use hookline_shared::adapters::sqs_batch;
use hookline_shared::app::dispatch::{Dispatcher, Disposition};
use hookline_shared::config::DeliveryConfig;
use hookline_shared::ports::gate::GateStore;
use hookline_shared::ports::store::Store;

pub struct DeliveryFunction<S> {
    /// Its queue carries held-back deliveries on (a new message each).
    pub dispatcher: Dispatcher<S, SqsQueue>,
    pub queue: SqsQueue,
}

impl DeliveryFunction<DynamoStore> {
    pub fn from_config(
        sdk: &SdkConfig,
        config: &DeliveryConfig,
    ) -> Result<Self, hookline_shared::adapters::http_sender::SenderBuildError> {
        let sender = HttpSender::new(SenderConfig {
            timeout: config.request_timeout,
            allow_private_targets: config.allow_private_targets,
            ..SenderConfig::default()
        })?;
        let queue = SqsQueue::new(sdk::sqs_client(sdk), &config.delivery_queue_url);
        Ok(Self {
            dispatcher: Dispatcher {
                store: DynamoStore::connect(sdk, &config.table_name, &config.secrets_key),
                sender: std::sync::Arc::new(sender),
                signing: config.signing.clone(),
                retry: config.retry.clone(),
                queue: queue.clone(),
                circuit: config.circuit,
            },
            queue,
        })
    }
}

impl<S: Store + GateStore> DeliveryFunction<S> {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let (batch, receipts) = sqs_batch::incoming(event);
        let dispatched = self.dispatcher.dispatch_batch(batch).await;
        metrics::emit("delivery", &dispatched.tally.measures());
        let outcomes = dispatched
            .dispositions
            .into_iter()
            .map(|(message_id, disposition)| {
                let delay = match disposition {
                    Disposition::Done | Disposition::Deferred => None,
                    Disposition::RetryIn(delay) => Some(delay),
                    // No delay: the redrive policy takes it to the DLQ on the next receives
                    // (a malformed message can never succeed, so there is nothing to wait for).
                    Disposition::Exhausted | Disposition::Malformed => Some(Duration::ZERO),
                };
                (message_id, delay)
            })
            .collect();
        sqs_batch::respond(&self.queue, outcomes, &receipts).await
    }
}
