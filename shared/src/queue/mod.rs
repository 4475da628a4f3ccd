//! The delivery queue. `TaskQueue` is what ingest needs; `sqs` implements it.

use std::future::Future;

use crate::task::DeliveryTask;

pub mod sqs;

pub use sqs::{SqsQueue, VisibilityChange};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("sqs {operation} failed: {message}")]
    Sqs { operation: &'static str, message: String },
    #[error("sqs refused {count} message(s): {reason}")]
    Refused { count: usize, reason: String },
}

pub trait TaskQueue: Send + Sync + 'static {
    /// Puts every task on the queue, or fails; a failure may leave some of them queued
    /// (at-least-once: receivers dedupe on the delivery id).
    fn enqueue(&self, tasks: &[DeliveryTask]) -> impl Future<Output = Result<(), QueueError>> + Send;
}
