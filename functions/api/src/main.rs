//! Lambda wiring for the api function: configuration and clients once per cold start, then
//! the Router under `lambda_http`.

use hookline_api::{AwsApp, router};
use hookline_shared::adapters::sdk;
use hookline_shared::config::ApiConfig;
use hookline_shared::telemetry;

// One thread, as the other functions: a Lambda instance serves one request at a time, and on
// the multi-thread runtime every AWS call hopped between threads (about a third more CPU per
// call, measured: decision 47).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(true);
    let config = ApiConfig::from_env().inspect_err(|e| tracing::error!("configuration: {e}"))?;
    let sdk = sdk::load_sdk_config().await;
    lambda_http::run(router(AwsApp::from_config(&sdk, &config))).await
}
