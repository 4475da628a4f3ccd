//! Hookline's shared library: the domain model and its rules (validation, fan-out, ingest),
//! and the adapters to the AWS services every function talks to.
//!
//! Business rules live here so the Lambda handlers stay thin adapters and the rules can be
//! tested without AWS; the adapters (`store`, `queue`) are the only modules that know the
//! wire formats of DynamoDB and SQS.

pub mod alerts;
pub mod api_key;
pub mod aws;
pub mod catalog;
pub mod config;
pub mod deliveries;
pub mod delivery;
pub mod dispatch;
pub mod endpoint_auth;
pub mod error;
pub mod event;
pub mod filter;
pub mod ids;
pub mod ingest;
pub mod limits;
pub mod mailer;
pub mod net_policy;
pub mod outbound;
pub mod outcome;
pub mod queue;
pub mod render;
pub mod retry;
pub mod secret;
pub mod signatures;
pub mod sqs_batch;
pub mod store;
pub mod task;
pub mod telemetry;
pub mod test_send;
pub mod time_fmt;
pub mod topic;
pub mod webhook;
pub mod webhooks;

pub use error::{DomainError, ErrorKind};
