//! The queues: `TaskQueue` is what ingest needs to queue deliveries (`adapters::sqs`), and
//! `ReceivedMessage` is a message as the queue-triggered use-cases get it.

use std::future::Future;

use crate::domain::error::DomainError;
use crate::domain::task::DeliveryTask;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("sqs {operation} failed: {message}")]
    Sqs { operation: &'static str, message: String },
    #[error("sqs refused {count} message(s): {reason}")]
    Refused { count: usize, reason: String },
}

impl From<QueueError> for DomainError {
    fn from(e: QueueError) -> Self {
        DomainError::Unavailable { detail: format!("queue error: {e}") }
    }
}

pub trait TaskQueue: Send + Sync + 'static {
    /// Puts every task on the queue, or fails; a failure may leave some of them queued
    /// (at-least-once: receivers dedupe on the delivery id).
    fn enqueue(&self, tasks: &[DeliveryTask]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// A queue message as a queue-triggered function receives it.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub body: String,
    /// SQS's `ApproximateReceiveCount`: the number of this attempt.
    pub receive_count: u32,
}
