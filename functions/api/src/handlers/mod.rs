//! Route handlers: each parses its input, calls one domain function and maps the result.

pub mod access;
pub mod deliveries;
pub mod egress;
pub mod events;
pub mod health;
pub mod integrations;
pub mod recipients;
pub mod topics;
pub mod webhooks;
