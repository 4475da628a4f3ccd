//! Lambda wiring for the alert function: configuration and clients once per cold start.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use hookline_alert::AlertFunction;
use hookline_shared::adapters::sdk;
use hookline_shared::config::AlertConfig;
use hookline_shared::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(true);
    let config = AlertConfig::from_env().inspect_err(|e| tracing::error!("configuration: {e}"))?;
    let sdk = sdk::load_sdk_config().await;
    let function = AlertFunction::from_config(&sdk, &config);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(function.handle(event.payload).await)
    }))
    .await
}
