//! `TaskQueue` on SQS: `SendMessageBatch` packed by count (10) and by size (256 KiB a batch),
//! entries that SQS reports as failed retried a few times before giving up.

use aws_sdk_sqs::Client;
use std::time::Duration;

use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, SendMessageBatchRequestEntry};

use crate::domain::task::DeliveryTask;
use crate::ports::gate::DeferQueue;
use crate::ports::queue::{QueueError, TaskQueue};

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

/// A received message to hide for `delay` (its retry back-off).
#[derive(Debug, Clone, PartialEq)]
pub struct VisibilityChange {
    pub receipt_handle: String,
    pub delay: Duration,
}

/// SQS takes whole seconds up to 12 hours; a partial second rounds up so a receiver's
/// `Retry-After` is never undercut.
fn visibility_seconds(delay: Duration) -> i32 {
    let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    i32::try_from(secs.min(43_200)).unwrap_or(43_200)
}

impl SqsQueue {
    /// Sets each message's visibility timeout (`ChangeMessageVisibilityBatch`, 10 a call).
    pub async fn change_visibility(&self, changes: &[VisibilityChange]) -> Result<(), QueueError> {
        for chunk in changes.chunks(MAX_BATCH_ENTRIES) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&c.receipt_handle)
                        .visibility_timeout(visibility_seconds(c.delay))
                        .build()
                        .map_err(|e| QueueError::Sqs {
                            operation: "ChangeMessageVisibilityBatch",
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError::Sqs {
                    operation: "ChangeMessageVisibilityBatch",
                    message: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
                })?;
            if !out.failed().is_empty() {
                return Err(QueueError::Refused {
                    count: out.failed().len(),
                    reason: out.failed().iter().map(|f| f.code().to_string()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
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

/// SQS delays a new message by at most 15 minutes.
const MAX_DELAY_SECONDS: i32 = 900;

impl TaskQueue for SqsQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        let bodies: Vec<String> = tasks.iter().map(DeliveryTask::to_message_body).collect();
        self.send(&bodies, &vec![0; bodies.len()]).await
    }
}

impl DeferQueue for SqsQueue {
    async fn defer(&self, tasks: &[(DeliveryTask, Duration)]) -> Result<(), QueueError> {
        let bodies: Vec<String> = tasks.iter().map(|(t, _)| t.to_message_body()).collect();
        let delays: Vec<i32> =
            tasks.iter().map(|(_, delay)| visibility_seconds(*delay).min(MAX_DELAY_SECONDS)).collect();
        self.send(&bodies, &delays).await
    }
}

impl SqsQueue {
    /// Sends each body, hidden for its delay in seconds.
    async fn send(&self, bodies: &[String], delays: &[i32]) -> Result<(), QueueError> {
        for batch in pack_batches(bodies) {
            let mut pending = batch;
            let mut attempt = 0;
            while !pending.is_empty() {
                let entries = pending
                    .iter()
                    .map(|&i| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(&bodies[i])
                            .set_delay_seconds((delays[i] > 0).then_some(delays[i]))
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
    fn visibility_rounds_up_and_caps_at_twelve_hours() {
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
        assert_eq!(visibility_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_seconds(Duration::from_secs(30)), 30);
        assert_eq!(visibility_seconds(Duration::from_secs(100_000)), 43_200);
    }

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
