//! `TaskQueue` on SQS: `SendMessageBatch` packed by count (10) and by size (256 KiB a batch),
//! entries that SQS reports as failed retried a few times before giving up.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::{QueueError, TaskQueue};
use crate::task::DeliveryTask;

/// SQS limits a batch to 10 entries and 256 KiB in total.
const MAX_BATCH_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Failed entries (throttling, internal errors) are sent again this many times.
const ENTRY_RETRIES: usize = 3;

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

/// Splits message bodies into batches that fit SQS's count and size limits.
pub fn pack_batches(bodies: &[String]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_bytes = 0;
    for (i, body) in bodies.iter().enumerate() {
        let full = current.len() == MAX_BATCH_ENTRIES || current_bytes + body.len() > MAX_BATCH_BYTES;
        if full && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(i);
        current_bytes += body.len();
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

impl TaskQueue for SqsQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        let bodies: Vec<String> = tasks.iter().map(DeliveryTask::to_message_body).collect();
        for batch in pack_batches(&bodies) {
            let mut pending = batch;
            let mut attempt = 0;
            while !pending.is_empty() {
                let entries = pending
                    .iter()
                    .map(|&i| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(&bodies[i])
                            .build()
                            .map_err(|e| QueueError::Sqs { operation: "SendMessageBatch", message: e.to_string() })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| QueueError::Sqs {
                        operation: "SendMessageBatch",
                        message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
                    })?;
                let failed = out.failed();
                if failed.is_empty() {
                    break;
                }
                attempt += 1;
                // A sender fault (bad message) will not heal by retrying.
                if attempt > ENTRY_RETRIES || failed.iter().any(|f| f.sender_fault()) {
                    return Err(QueueError::Refused {
                        count: failed.len(),
                        reason: failed.iter().map(|f| f.code().to_string()).collect::<Vec<_>>().join(", "),
                    });
                }
                pending = failed.iter().filter_map(|f| f.id().parse().ok()).collect();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_size() {
        let small: Vec<String> = (0..23).map(|_| "x".repeat(100)).collect();
        let sizes: Vec<usize> = pack_batches(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 3]);

        let big: Vec<String> = (0..5).map(|_| "x".repeat(100 * 1024)).collect();
        let batches = pack_batches(&big);
        assert_eq!(batches.len(), 3, "two 100 KiB bodies fit in 256 KiB, three do not");
        assert!(batches.iter().flatten().copied().eq(0..5), "every body once, in order");
    }
}
