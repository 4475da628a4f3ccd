//! Lambda wiring for the alert function: configuration and clients once per cold start. It
//! has two triggers (the DLQ, and the SNS topic of SES's notifications); `handle_event` tells
//! them apart.

use hookline_alert::AlertFunction;
use hookline_shared::adapters::sdk;
use hookline_shared::config::AlertConfig;
use hookline_shared::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init(true);
    let config = AlertConfig::from_env().inspect_err(|e| tracing::error!("configuration: {e}"))?;
    let sdk = sdk::load_sdk_config().await;
    let function = AlertFunction::from_config(&sdk, &config);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle_event(event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
