//! The use-cases: what the functions do, over the ports, testable without AWS.

pub mod access;
pub mod alert_mail;
pub mod alerts;
pub mod dispatch;
pub mod ingest;
pub mod manage_deliveries;
pub mod manage_webhooks;
pub mod pagination;
pub mod quota;
pub mod recipients;
pub mod send_test;
#[cfg(test)]
pub mod test_doubles;
