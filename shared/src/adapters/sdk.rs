//! Loading the AWS SDK configuration. In Lambda this is the default chain; locally and in
//! tests the same chain honours `AWS_ENDPOINT_URL` (the moto server) and dummy credentials.

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;

pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
