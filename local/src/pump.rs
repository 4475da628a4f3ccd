//! Drives an SQS-triggered handler from a queue the way Lambda's event source mapping does:
//! receive a batch (up to 10, with `ApproximateReceiveCount`), hand it to the handler as an
//! `SqsEvent`, delete the messages it did not report as failed, and leave the failed ones on
//! the queue with whatever visibility the handler gave them. Redrive to the DLQ is SQS's own.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};

const MAX_BATCH: i32 = 10;
/// Long-poll wait: short, so Ctrl-C and test shutdowns are prompt.
const WAIT_SECONDS: i32 = 1;

/// Receives one batch and runs it through `handler`; returns how many messages it got.
pub async fn pump_once<H, F>(sqs: &Client, queue_url: &str, queue_arn: &str, handler: &H) -> Result<usize, String>
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = SqsBatchResponse>,
{
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(MAX_BATCH)
        .wait_time_seconds(WAIT_SECONDS)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    let messages = out.messages.unwrap_or_default();
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
pub async fn pump<H, F>(sqs: Client, queue_url: String, queue_arn: String, handler: H)
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = SqsBatchResponse>,
{
    loop {
        if let Err(e) = pump_once(&sqs, &queue_url, &queue_arn, &handler).await {
            tracing::error!(error = %e, queue_url, "receive failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
