//! Loading the AWS SDK configuration. In Lambda this is the default chain; locally and in
//! tests the same chain honours `AWS_ENDPOINT_URL` (the moto server) and dummy credentials.

use std::time::Duration;

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;

/// A connection to an AWS endpoint that takes longer than this is given up (and retried).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// One attempt of an AWS call: every call Hookline makes answers in milliseconds, so one that
/// hangs this long is cut and retried. It stands in for the SDK's stalled-stream protection,
/// which is off: its timer woke another thread on every call (decision 47).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
        .load()
        .await
}
