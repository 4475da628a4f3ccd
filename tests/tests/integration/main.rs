//! Integration tests: the real api Router over HTTP against a real moto server (DynamoDB,
//! SQS), with the stack created from template.yaml. One test binary, so one moto server.

mod access;
mod alerts;
mod bad_input;
mod batch_ingest;
mod console;
mod contract;
mod crud;
mod delivery;
mod delivery_log;
mod egress;
mod gates;
mod harness;
mod iam;
mod ingest;
mod integrations;
mod lambda_events;
mod limits;
mod mail;
mod openapi;
mod opt_in;
mod options;
mod outbound_policy;
mod receiver;
mod requeue;
mod secrets;
mod stack;
mod store;
mod unreadable;
mod webdriver;
