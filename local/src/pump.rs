//! Drives an SQS-triggered handler from a queue the way Lambda's event source mapping does:
//! gather a batch (up to its batch size, with `ApproximateReceiveCount`, for up to its batching
//! window), hand it to the handler as an `SqsEvent`, delete the messages it did not report as
//! failed, and leave the failed ones on the queue with whatever visibility the handler gave
//! them. Redrive to the DLQ is SQS's own.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use tokio::time::Instant;

/// SQS hands out at most 10 messages per receive.
const MAX_PER_RECEIVE: usize = 10;
/// Long-poll wait: short, so Ctrl-C and test shutdowns are prompt.
const WAIT_SECONDS: i32 = 1;
/// Pause between the short polls that fill a batch during its window.
const GATHER_POLL: Duration = Duration::from_millis(50);

/// How the event source mapping gathers a batch: the SQS event's `BatchSize` and
/// `MaximumBatchingWindowInSeconds` (`stack::Stack::batching` reads them from the template).
/// The default is Lambda's: 10 messages, no window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    pub max_messages: usize,
    /// How long to keep gathering after the first message arrived, unless the batch fills.
    pub window: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Self { max_messages: MAX_PER_RECEIVE, window: Duration::ZERO }
    }
}

/// One receive of up to `max` messages (at most 10), waiting up to `wait_seconds` for one.
async fn receive(sqs: &Client, queue_url: &str, max: usize, wait_seconds: i32) -> Result<Vec<Message>, String> {
    let max = i32::try_from(max.clamp(1, MAX_PER_RECEIVE)).unwrap_or(1);
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(out.messages.unwrap_or_default())
}

/// A batch as the event source mapping gathers it: a long poll for the first message, then
/// more until the batch is full or the window since the first one has passed. Without a window
/// a `form` webhook would get one request per message, never a batch.
pub async fn gather(sqs: &Client, queue_url: &str, batching: Batching) -> Result<Vec<Message>, String> {
    let mut messages = receive(sqs, queue_url, batching.max_messages, WAIT_SECONDS).await?;
    let deadline = Instant::now() + batching.window;
    while !messages.is_empty() && messages.len() < batching.max_messages && Instant::now() < deadline {
        // Short polls: a long poll cut off at the deadline could take messages with it.
        match receive(sqs, queue_url, batching.max_messages - messages.len(), 0).await {
            Ok(more) if more.is_empty() => {
                tokio::time::sleep(GATHER_POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
            }
            Ok(more) => messages.extend(more),
            // What is gathered is already invisible: hand it over rather than let it wait out
            // its visibility timeout.
            Err(e) => {
                tracing::warn!(error = %e, queue_url, "receive failed while gathering a batch");
                break;
            }
        }
    }
    Ok(messages)
}

/// Gathers one batch and runs it through `handler`; returns how many messages it got.
pub async fn pump_once<H, F>(
    sqs: &Client,
    queue_url: &str,
    queue_arn: &str,
    batching: Batching,
    handler: &H,
) -> Result<usize, String>
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = SqsBatchResponse>,
{
    let messages = gather(sqs, queue_url, batching).await?;
    if messages.is_empty() {
        return Ok(0);
    }
    let mut receipts = HashMap::new();
    let mut event = SqsEvent::default();
    for m in &messages {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        record.event_source_arn = Some(queue_arn.to_string());
        record.event_source = Some("aws:sqs".into());
        record.attributes = m
            .attributes()
            .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect())
            .unwrap_or_default();
        if let (Some(id), Some(receipt)) = (&m.message_id, &m.receipt_handle) {
            receipts.insert(id.clone(), receipt.clone());
        }
        event.records.push(record);
    }
    let response = handler(event).await;
    let failed: HashSet<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    let entries = receipts
        .iter()
        .filter(|(id, _)| !failed.contains(*id))
        .enumerate()
        .map(|(i, (_, receipt))| {
            DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(receipt).build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if !entries.is_empty() {
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    }
    Ok(messages.len())
}

/// Pumps forever (until the task is dropped or aborted).
pub async fn pump<H, F>(sqs: Client, queue_url: String, queue_arn: String, batching: Batching, handler: H)
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = SqsBatchResponse>,
{
    loop {
        if let Err(e) = pump_once(&sqs, &queue_url, &queue_arn, batching, &handler).await {
            tracing::error!(error = %e, queue_url, "receive failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
