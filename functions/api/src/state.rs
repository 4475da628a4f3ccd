//! What every handler shares: the store, the queue and the deployment's settings, built once
//! per cold start.

use std::sync::Arc;

use hookline_shared::aws::SdkConfig;
use hookline_shared::config::{ApiConfig, Settings};
use hookline_shared::queue::{SqsQueue, TaskQueue};
use hookline_shared::store::{DynamoStore, Store};

pub struct App<S, Q> {
    pub store: S,
    pub queue: Q,
    pub settings: Settings,
}

/// The app as deployed: DynamoDB and SQS.
pub type AwsApp = App<DynamoStore, SqsQueue>;

impl<S: Store, Q: TaskQueue> App<S, Q> {
    pub fn new(store: S, queue: Q, settings: Settings) -> Arc<Self> {
        Arc::new(Self { store, queue, settings })
    }
}

impl AwsApp {
    pub fn from_config(sdk: &SdkConfig, config: &ApiConfig) -> Arc<Self> {
        App::new(
            DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
            SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.delivery_queue_url),
            config.settings.clone(),
        )
    }
}
