//! SDK configuration for a local endpoint: fixed region and dummy credentials (without them
//! the SDK would go looking for instance metadata and fail).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

pub const LOCAL_REGION: &str = "us-east-1";

pub async fn for_endpoint(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "hookline-local"))
        .load()
        .await
}
