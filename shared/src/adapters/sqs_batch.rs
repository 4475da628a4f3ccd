//! The SQS-triggered functions' common adapter: an `SqsEvent` in, the messages as `ReceivedMessage`;
//! the per-message outcomes out, as a partial batch response plus the visibility changes that
//! schedule each failed message's return.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::adapters::sqs::{SqsQueue, VisibilityChange};
use crate::ports::queue::ReceivedMessage;

/// The SQS attribute that numbers the attempt.
const RECEIVE_COUNT: &str = "ApproximateReceiveCount";

/// A batch's messages, and their receipt handles by message id.
pub fn incoming(event: SqsEvent) -> (Vec<ReceivedMessage>, HashMap<String, String>) {
    let mut receipts = HashMap::new();
    let batch = event
        .records
        .into_iter()
        .map(|r| {
            let message_id = r.message_id.unwrap_or_default();
            if let Some(receipt) = r.receipt_handle {
                receipts.insert(message_id.clone(), receipt);
            }
            ReceivedMessage {
                receive_count: r.attributes.get(RECEIVE_COUNT).and_then(|c| c.parse().ok()).unwrap_or(1),
                body: r.body.unwrap_or_default(),
                message_id,
            }
        })
        .collect();
    (batch, receipts)
}

/// Reports every message with a `Some(delay)` as failed and hides it for that delay; the
/// others (`None`) are done and will be deleted by the event source mapping.
pub async fn respond(
    queue: &SqsQueue,
    outcomes: Vec<(String, Option<Duration>)>,
    receipts: &HashMap<String, String>,
) -> SqsBatchResponse {
    let mut changes = Vec::new();
    let mut response = SqsBatchResponse::default();
    for (message_id, delay) in outcomes {
        let Some(delay) = delay else { continue };
        if let Some(receipt) = receipts.get(&message_id) {
            changes.push(VisibilityChange { receipt_handle: receipt.clone(), delay });
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = message_id;
        response.batch_item_failures.push(failure);
    }
    if let Err(e) = queue.change_visibility(&changes).await {
        // The messages come back after the queue's default visibility timeout instead:
        // earlier or later than planned, but not lost.
        tracing::error!(error = %e, "cannot set the messages' visibility");
    }
    response
}
