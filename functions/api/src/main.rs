//! Lambda wiring for the api function: configuration and clients once per cold start, then
//! the Router under `lambda_http`.

use hookline_api::{AwsApp, router};
use hookline_shared::{aws, config::ApiConfig, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(true);
    let config = ApiConfig::from_env().inspect_err(|e| tracing::error!("configuration: {e}"))?;
    let sdk = aws::load_sdk_config().await;
    lambda_http::run(router(AwsApp::from_config(&sdk, &config))).await
}
