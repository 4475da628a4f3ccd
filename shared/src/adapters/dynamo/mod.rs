//! `Store` on one DynamoDB table (single-table design). Keys, in docs/data-model.md:
//!
//! | item     | pk                           | sk               | gsi1pk / gsi1sk                  |
//! |----------|------------------------------|------------------|----------------------------------|
//! | tenant   | `TENANT#{tenant}`            | `#TENANT`        |                                  |
//! | webhook  | `TENANT#{tenant}`            | `WEBHOOK#{id}`   |                                  |
//! | event    | `EVENT#{tenant}#{event}`     | `EVENT`          |                                  |
//! | delivery | `DELIVERY#{tenant}#{id}`     | `DELIVERY`       | `WEBHOOK#{tenant}#{webhook}` / id |
//! | attempt  | `DELIVERY#{tenant}#{id}`     | `ATTEMPT#{uuidv7}` |                                |
//! | api key  | `APIKEY#{sha256}`            | `APIKEY`         |                                  |
//!
//! A tenant's partition holds only its marker and its webhooks, so fan-out is one Query.
//! Events and deliveries get a partition each: they are written at event rate and read by key.

mod alert_state;
mod api_keys;
mod console;
mod deliveries;
mod events;
mod items;
mod keys;
mod recipients;
mod webhooks;

use aws_sdk_dynamodb::Client;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}
