//! The only AWS and HTTP code: the ports implemented on DynamoDB, SQS, SES and an SSRF-safe
//! HTTP client, KMS data keys for the secrets the store seals, the SQS batch shape of the
//! queue-triggered functions, metrics (CloudWatch EMF log lines), and the SDK's loading.

pub mod dynamo;
pub mod http_sender;
pub mod kms;
pub mod metrics;
pub mod sdk;
pub mod ses;
pub mod sqs;
pub mod sqs_batch;
