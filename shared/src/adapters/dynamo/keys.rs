//! The table's key attributes and how each item's keys are made (see the table in `mod.rs`).

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

pub const TENANT_PK_PREFIX: &str = "TENANT#";
pub const TENANT_SK: &str = "#TENANT";
pub const WEBHOOK_SK_PREFIX: &str = "WEBHOOK#";
pub const EVENT_SK: &str = "EVENT";
pub const INGEST_SK: &str = "INGEST";
/// An ingest call's list of its events, beside its marker.
pub const CALL_EVENTS_SK: &str = "EVENTS";
pub const DELIVERY_SK: &str = "DELIVERY";
pub const API_KEY_SK: &str = "APIKEY";
/// Every API key is also in this index partition (sorted by id), so keys can be listed.
pub const API_KEYS_GSI_PK: &str = "APIKEYS";
pub const CONSOLE_LINK_SK: &str = "CONSOLELINK";
pub const CONSOLE_SESSION_SK: &str = "CONSOLESESSION";
pub const ATTEMPT_SK_PREFIX: &str = "ATTEMPT#";
pub const QUOTA_SK: &str = "QUOTA";

pub fn tenant_pk(tenant: &str) -> String {
    format!("{TENANT_PK_PREFIX}{tenant}")
}
pub fn webhook_sk(id: &str) -> String {
    format!("{WEBHOOK_SK_PREFIX}{id}")
}
pub fn event_pk(tenant: &str, event: &str) -> String {
    format!("EVENT#{tenant}#{event}")
}
pub fn ingest_pk(tenant: &str, ingest: &str) -> String {
    format!("INGEST#{tenant}#{ingest}")
}
/// A delivery's own partition: its attempts after the first, and a record only where nothing
/// else leads its id to its webhook (see `items::own_pending_item`) or from before decision 45.
pub fn delivery_pk(tenant: &str, delivery: &str) -> String {
    format!("DELIVERY#{tenant}#{delivery}")
}
/// A webhook's delivery log: its deliveries' records, keyed by delivery id (decision 45); the
/// same value is the index partition that listed records from before.
pub fn webhook_deliveries_pk(tenant: &str, webhook: &str) -> String {
    format!("WEBHOOK#{tenant}#{webhook}")
}
pub fn api_key_pk(hash: &str) -> String {
    format!("APIKEY#{hash}")
}
pub fn console_link_pk(hash: &str) -> String {
    format!("CONSOLELINK#{hash}")
}
pub fn console_session_pk(hash: &str) -> String {
    format!("CONSOLESESSION#{hash}")
}
/// Outside the tenant's partition, so fan-out's Query of it never reads counters.
pub fn quota_pk(tenant: &str, kind: &str, window: u64) -> String {
    format!("QUOTA#{tenant}#{kind}#{window}")
}

/// A webhook's rate log and an endpoint's circuit (see `gates`): outside the tenant's
/// partition too.
pub const RATE_SK: &str = "RATE";
pub const CIRCUIT_SK: &str = "CIRCUIT";

pub fn rate_pk(tenant: &str, webhook: &str) -> String {
    format!("RATE#{tenant}#{webhook}")
}
pub fn circuit_pk(tenant: &str, origin: &str) -> String {
    format!("CIRCUIT#{tenant}#{origin}")
}

/// Alert recipients: one partition per tenant, one item per address (see `recipients`).
pub const RECIPIENT_SK_PREFIX: &str = "EMAIL#";
pub const RECIPIENT_TOKEN_SK: &str = "RECIPIENTTOKEN";

pub fn recipients_pk(tenant: &str) -> String {
    format!("RECIPIENTS#{tenant}")
}
pub fn recipient_sk(email: &str) -> String {
    format!("{RECIPIENT_SK_PREFIX}{email}")
}
pub fn recipient_token_pk(hash: &str) -> String {
    format!("RECIPIENTTOKEN#{hash}")
}
