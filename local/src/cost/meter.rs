//! What AWS bills, as units: the components of the cost table, a bag of units per component
//! (`Usage`), and the billing rules of every service but DynamoDB (which has `dynamo`):
//! SQS per 64 KB chunk, API Gateway per 512 KB, Lambda per invocation and per GB-second of
//! duration rounded up to 1 ms, SES per recipient, CloudWatch Logs per GB ingested.

use std::ops::{Add, AddAssign, Mul};

use serde_json::Value;

/// One line of the cost table: a billed meter of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    DynamoWrites,
    DynamoReads,
    Sqs,
    ApiGateway,
    LambdaRequests,
    LambdaCompute,
    Ses,
    Logs,
    Kms,
}

impl Component {
    pub const ALL: [Component; 9] = [
        Component::DynamoWrites,
        Component::DynamoReads,
        Component::Sqs,
        Component::ApiGateway,
        Component::LambdaRequests,
        Component::LambdaCompute,
        Component::Ses,
        Component::Logs,
        Component::Kms,
    ];

    /// Its name in the price table.
    pub fn key(self) -> &'static str {
        match self {
            Component::DynamoWrites => "dynamodb_write",
            Component::DynamoReads => "dynamodb_read",
            Component::Sqs => "sqs",
            Component::ApiGateway => "apigw",
            Component::LambdaRequests => "lambda_requests",
            Component::LambdaCompute => "lambda_compute",
            Component::Ses => "ses",
            Component::Logs => "logs",
            Component::Kms => "kms",
        }
    }

    /// Its name in the printed table.
    pub fn label(self) -> &'static str {
        match self {
            Component::DynamoWrites => "dynamodb writes",
            Component::DynamoReads => "dynamodb reads",
            Component::Sqs => "sqs",
            Component::ApiGateway => "apigw",
            Component::LambdaRequests => "lambda requests",
            Component::LambdaCompute => "lambda compute",
            Component::Ses => "ses",
            Component::Logs => "logs",
            Component::Kms => "kms",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Billed units per component (write units, requests, GB-seconds, GB, ...). Fractions occur
/// when a shared cost (one batch's calls) is split over the deliveries in it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage([f64; Component::ALL.len()]);

impl Usage {
    pub fn of(component: Component, units: f64) -> Self {
        let mut usage = Self::default();
        usage.0[component.index()] = units;
        usage
    }

    pub fn get(&self, component: Component) -> f64 {
        self.0[component.index()]
    }

    /// Dollars, with `unit_price` giving dollars per unit of each component.
    pub fn dollars(&self, component: Component, unit_price: impl Fn(Component) -> f64) -> f64 {
        self.get(component) * unit_price(component)
    }
}

impl Add for Usage {
    type Output = Usage;
    fn add(mut self, other: Usage) -> Usage {
        self += other;
        self
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

impl Mul<f64> for Usage {
    type Output = Usage;
    fn mul(mut self, factor: f64) -> Usage {
        for a in &mut self.0 {
            *a *= factor;
        }
        self
    }
}

/// SQS bills each 64 KB chunk of a request's payload as one request.
pub const SQS_CHUNK: u64 = 64 * 1024;
/// API Gateway HTTP APIs meter requests in 512 KB increments.
pub const APIGW_CHUNK: u64 = 512 * 1024;
/// CloudWatch Logs bills per GB of 2^30 bytes.
pub const BYTES_PER_GB: f64 = (1u64 << 30) as f64;

/// `bytes` in chunks of `chunk`, rounded up; an empty payload is still one.
pub fn chunks(bytes: u64, chunk: u64) -> u64 {
    bytes.div_ceil(chunk).max(1)
}

/// The SQS requests one call is billed as: its payload (message bodies sent or received, with
/// their message attributes) in 64 KB chunks. `response` is the answer's JSON body.
pub fn sqs_requests(operation: &str, request: &Value, response: &Value) -> Result<f64, String> {
    let bodies = |messages: &Value| -> u64 { messages.as_array().into_iter().flatten().map(message_payload).sum() };
    let payload = match operation {
        "SendMessage" => message_payload(request),
        "SendMessageBatch" => bodies(&request["Entries"]),
        "ReceiveMessage" => bodies(&response["Messages"]),
        "DeleteMessage"
        | "DeleteMessageBatch"
        | "ChangeMessageVisibility"
        | "ChangeMessageVisibilityBatch"
        | "GetQueueAttributes"
        | "GetQueueUrl" => 0,
        other => return Err(format!("sqs:{other} has no billing rule")),
    };
    Ok(chunks(payload, SQS_CHUNK) as f64)
}

/// A message's billed payload: its body and its message attributes (names, types, values).
fn message_payload(message: &Value) -> u64 {
    let body = message["MessageBody"].as_str().or_else(|| message["Body"].as_str()).unwrap_or_default().len();
    let attributes: usize = message["MessageAttributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, v)| {
            let text = |k: &str| v[k].as_str().map_or(0, str::len);
            name.len() + text("DataType") + text("StringValue") + text("BinaryValue")
        })
        .sum();
    (body + attributes) as u64
}

/// SES bills every recipient of a message as one e-mail. `form` is the query-protocol body.
pub fn ses_emails(operation: &str, form: &str) -> Result<f64, String> {
    match operation {
        "SendRawEmail" | "SendEmail" => {
            let recipients = form
                .split('&')
                .filter(|pair| {
                    pair.split_once('=').is_some_and(|(name, _)| {
                        name.starts_with("Destinations.member.") || name.starts_with("Destination.")
                    })
                })
                .count();
            Ok(recipients.max(1) as f64)
        }
        "VerifyEmailIdentity" => Ok(0.0),
        other => Err(format!("ses:{other} has no billing rule")),
    }
}

/// Lambda's GB-seconds for one invocation: the duration rounded up to the next millisecond
/// (Lambda bills per 1 ms) times the configured memory.
pub fn lambda_gb_seconds(duration_ns: u128, memory_mb: u32) -> f64 {
    let billed_ms = duration_ns.div_ceil(1_000_000).max(1);
    billed_ms as f64 / 1000.0 * f64::from(memory_mb) / 1024.0
}

/// One Lambda invocation: the request, its compute, and what it logged (the function's own
/// bytes plus Lambda's platform records).
pub fn lambda_invocation(duration_ns: u128, memory_mb: u32, logged_bytes: u64, platform_log_bytes: f64) -> Usage {
    Usage::of(Component::LambdaRequests, 1.0)
        + Usage::of(Component::LambdaCompute, lambda_gb_seconds(duration_ns, memory_mb))
        + Usage::of(Component::Logs, (logged_bytes as f64 + platform_log_bytes) / BYTES_PER_GB)
}

/// One API Gateway HTTP API request of `bytes` (request line, headers and body).
pub fn api_request(bytes: u64) -> Usage {
    Usage::of(Component::ApiGateway, chunks(bytes, APIGW_CHUNK) as f64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sqs_bills_each_64_kb_chunk_of_a_payload() {
        // GIVEN messages of 70 KB, 1 KB and ten of 1 KB in a batch
        let big = json!({"MessageBody": "x".repeat(70 * 1024)});
        let small = json!({"MessageBody": "x".repeat(1024)});
        let batch = json!({"Entries": vec![small.clone(); 10]});
        // THEN 70 KB is 2 requests, 1 KB one, and a batch of ten 1 KB messages one
        assert_eq!(sqs_requests("SendMessage", &big, &Value::Null), Ok(2.0));
        assert_eq!(sqs_requests("SendMessage", &small, &Value::Null), Ok(1.0));
        assert_eq!(sqs_requests("SendMessageBatch", &batch, &Value::Null), Ok(1.0));
        // AND a receive is billed by what it got: an empty one is still a request
        let received = json!({"Messages": vec![json!({"Body": "x".repeat(40 * 1024)}); 2]});
        assert_eq!(sqs_requests("ReceiveMessage", &json!({}), &received), Ok(2.0));
        assert_eq!(sqs_requests("ReceiveMessage", &json!({}), &json!({})), Ok(1.0));
        assert_eq!(sqs_requests("DeleteMessageBatch", &json!({}), &json!({})), Ok(1.0));
        assert!(sqs_requests("PurgeQueue", &json!({}), &json!({})).is_err());
    }

    #[test]
    fn message_attributes_count_toward_the_payload() {
        // GIVEN a 64 KB body with one attribute
        let m = json!({"MessageBody": "x".repeat(64 * 1024),
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}});
        // THEN it spills into a second chunk
        assert_eq!(sqs_requests("SendMessage", &m, &Value::Null), Ok(2.0));
    }

    #[test]
    fn lambda_duration_is_rounded_up_to_the_millisecond_at_the_memory_size() {
        // GIVEN 1.2 ms at 128 MB
        // THEN 2 ms are billed: 0.002 s * 0.125 GB
        assert!((lambda_gb_seconds(1_200_000, 128) - 0.00025).abs() < 1e-12);
        // AND a zero-length invocation is billed 1 ms
        assert!((lambda_gb_seconds(0, 1024) - 0.001).abs() < 1e-12);
        let usage = lambda_invocation(1_000_000, 128, 610, 390.0);
        assert_eq!(usage.get(Component::LambdaRequests), 1.0);
        assert!((usage.get(Component::Logs) * BYTES_PER_GB - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn api_gateway_meters_512_kb_increments_and_ses_each_recipient() {
        assert_eq!(api_request(1200).get(Component::ApiGateway), 1.0);
        assert_eq!(api_request(512 * 1024 + 1).get(Component::ApiGateway), 2.0);
        let form = "Action=SendRawEmail&Destinations.member.1=a%40x.com&Destinations.member.2=b%40x.com&Source=s";
        assert_eq!(ses_emails("SendRawEmail", form), Ok(2.0));
        assert_eq!(ses_emails("VerifyEmailIdentity", "Action=VerifyEmailIdentity"), Ok(0.0));
    }

    #[test]
    fn usage_adds_and_scales_per_component() {
        let u = (Usage::of(Component::Sqs, 2.0) + Usage::of(Component::Sqs, 1.0)) * 0.5;
        assert_eq!(u.get(Component::Sqs), 1.5);
        assert_eq!(u.get(Component::Ses), 0.0);
        assert_eq!(u.dollars(Component::Sqs, |_| 0.4e-6), 0.6e-6);
    }
}
