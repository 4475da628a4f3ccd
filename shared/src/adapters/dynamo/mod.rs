//! `Store` on one DynamoDB table (single-table design). Keys, in docs/data-model.md:
//!
//! | item     | pk                           | sk               | gsi1pk / gsi1sk                  |
//! |----------|------------------------------|------------------|----------------------------------|
//! | tenant   | `TENANT#{tenant}`            | `#TENANT`        |                                  |
//! | quota    | `QUOTA#{tenant}#{kind}#{window}` | `QUOTA`      |                                  |
//! | webhook  | `TENANT#{tenant}`            | `WEBHOOK#{id}`   |                                  |
//! | event    | `EVENT#{tenant}#{event}`     | `EVENT`          |                                  |
//! | call's events | `INGEST#{tenant}#{ingest}` | `EVENTS`  |                                  |
//! | delivery | `WEBHOOK#{tenant}#{webhook}` | `{id}`           |                                  |
//! | attempt  | `DELIVERY#{tenant}#{id}`     | `ATTEMPT#{uuidv7}` |                                |
//! | api key  | `APIKEY#{sha256}`            | `APIKEY`         |                                  |
//!
//! A tenant's partition holds only its marker and its webhooks, so fan-out is one Query.
//! Webhooks' secrets are sealed for their item with a KMS data key (`sealing`).
//! Events get a partition each; a webhook's delivery records share its log partition, keyed
//! by delivery id (listed without an index); later attempts go in the delivery's own.

mod alert_state;
mod api_keys;
mod console;
mod deliveries;
mod events;
mod gates;
mod items;
mod keys;
mod log_pages;
mod quotas;
mod recipients;
mod sealing;
mod tenants;
mod webhooks;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;

use super::kms::KmsDataKeys;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Seal and open webhooks' secrets (see `sealing`).
    data_keys: Arc<KmsDataKeys>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, data_keys: Arc<KmsDataKeys>) -> Self {
        Self { client, table: table.into(), data_keys }
    }

    /// The store a function uses: `table`, its webhooks' secrets sealed with data keys of the
    /// KMS key `secrets_key`.
    pub fn connect(sdk: &crate::adapters::sdk::SdkConfig, table: impl Into<String>, secrets_key: &str) -> Self {
        let data_keys = KmsDataKeys::new(aws_sdk_kms::Client::new(sdk), secrets_key);
        Self::new(crate::adapters::sdk::dynamodb_client(sdk), table, Arc::new(data_keys))
    }
}
