//! Loading the AWS SDK configuration and making the clients of the hot path. In Lambda this is
//! the default chain; locally and in tests the same chain honours `AWS_ENDPOINT_URL` (the moto
//! server) and dummy credentials.

use std::time::Duration;

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_runtime::invocation_id::InvocationIdInterceptor;
use aws_runtime::request_info::RequestInfoInterceptor;
use aws_runtime::service_clock_skew::ServiceClockSkewInterceptor;
use aws_runtime::user_agent::UserAgentInterceptor;
use aws_sdk_dynamodb::config::ConfigBag;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, disable_interceptor};

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

/// The DynamoDB client every function uses: the SDK's, without its telemetry interceptors.
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(WithoutTelemetryHeaders).build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The SQS client every function uses: the SDK's, without its telemetry interceptors.
pub fn sqs_client(sdk: &SdkConfig) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(sdk).interceptor(WithoutTelemetryHeaders).build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Switches off, for each call, four interceptors the SDK runs on every call of the hot path
/// (decision 50): the `User-Agent`/`x-amz-user-agent` headers (built anew per call: about a
/// tenth of a `PutItem`'s instructions), the `amz-sdk-invocation-id` and `amz-sdk-request`
/// headers (retry telemetry), and the clock-skew correction (a Lambda's clock is kept by NTP;
/// with a clock five minutes off, every call would be refused and show as the function's
/// errors, not be corrected). None of these headers is signed or needed by DynamoDB or SQS.
/// The SDK reads a `DisableInterceptor` from the call's config bag before each hook, so
/// storing them first thing disables them for the call.
#[derive(Debug)]
struct WithoutTelemetryHeaders;

impl Intercept for WithoutTelemetryHeaders {
    fn name(&self) -> &'static str {
        "WithoutTelemetryHeaders"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        const WHY: &str = "CPU per call (decision 50)";
        let layer = cfg.interceptor_state();
        layer.store_put(disable_interceptor::<UserAgentInterceptor>(WHY));
        layer.store_put(disable_interceptor::<RequestInfoInterceptor>(WHY));
        layer.store_put(disable_interceptor::<InvocationIdInterceptor>(WHY));
        layer.store_put(disable_interceptor::<ServiceClockSkewInterceptor>(WHY));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// The head of the first request a loopback server reads, answered with an empty JSON 200.
    async fn first_request_head(listener: TcpListener) -> String {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut read = Vec::new();
        let mut buf = [0u8; 4096];
        while !read.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "the client closed before its request's head");
            read.extend_from_slice(&buf[..n]);
        }
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}";
        socket.write_all(answer.as_bytes()).await.expect("write");
        String::from_utf8_lossy(&read).to_ascii_lowercase()
    }

    #[tokio::test]
    async fn hot_path_calls_are_signed_and_carry_no_telemetry_headers() {
        // GIVEN a DynamoDB client made as every function makes it, pointed at a loopback server
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            )))
            .build();
        let client = dynamodb_client(&sdk);
        // WHEN it makes a call
        let (head, answer) = tokio::join!(
            first_request_head(listener),
            client.get_item().table_name("t").key("pk", aws_sdk_dynamodb::types::AttributeValue::S("k".into())).send()
        );
        // THEN the call works and is signed, without the four interceptors' headers
        answer.expect("the call succeeds");
        assert!(head.contains("\r\nauthorization: aws4-hmac-sha256 "), "{head}");
        assert!(head.contains("\r\nx-amz-target: dynamodb_20120810.getitem"), "{head}");
        for absent in ["user-agent:", "x-amz-user-agent:", "amz-sdk-invocation-id:", "amz-sdk-request:"] {
            assert!(!head.contains(&format!("\r\n{absent}")), "{absent} in {head}");
        }
    }
}
