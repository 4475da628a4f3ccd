//! Lambda wiring for the delivery function: configuration, clients and the HTTP client once
//! per cold start (connections are reused across warm invocations), then the SQS handler.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use hookline_delivery::DeliveryFunction;
use hookline_shared::adapters::sdk;
use hookline_shared::config::DeliveryConfig;
use hookline_shared::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(true);
    let config = DeliveryConfig::from_env().inspect_err(|e| tracing::error!("configuration: {e}"))?;
    let sdk = sdk::load_sdk_config().await;
    let function = DeliveryFunction::from_config(&sdk, &config)?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(function.handle(event.payload).await)
    }))
    .await
}
