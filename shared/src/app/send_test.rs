//! Test sends (pages 000, 004): one signed request to a webhook, now, without retries, and
//! the receiver's answer reported back. Also what `?require_ok=true` runs before saving a
//! webhook (page 004: "the test must return HTTP 200").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::domain::catalog::TopicCatalog;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::event::EventPayload;
use crate::domain::integration::Integration;
use crate::domain::quota::RateQuota;
use crate::domain::webhook::Webhook;
use crate::domain::{ids, secret, timestamp, topic};
use crate::outbound::render::EventView;
use crate::outbound::request::{OutboundRequest, SigningSettings, build_request};
use crate::outbound::verdict::{self, describe_answer};
use crate::ports::sender::Sender;

pub const TEST_DELIVERY_PREFIX: &str = "test_";

/// `POST .../webhooks/{id}/test`: both optional.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSendRequest {
    /// Default: the webhook's first topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// `{"context"?: {...}, "data": {...}}`; default: the topic's sample from the catalog.
    #[serde(default)]
    pub payload: Option<Value>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSendResult {
    /// The receiver answered 2xx.
    pub ok: bool,
    pub delivery_id: String,
    pub topic: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub response_excerpt: String,
    /// The request as sent (credentials as hints); absent when the event made none (`error`
    /// says why, e.g. a template whose output is not JSON).
    pub request: Option<SentRequest>,
}

/// What a test send sent: the exact request, but credentials (auth and custom header values,
/// a URL that is itself a secret) shown as hints.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl SentRequest {
    fn of(webhook: &Webhook, request: &OutboundRequest) -> Self {
        let url = match &webhook.integration {
            Some(i @ (Integration::Slack { .. } | Integration::Discord { .. })) => format!("{}…", i.display_url()),
            _ => request.url.clone(),
        };
        let headers = request
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if request.secret_headers.contains(k) { secret::hint(v) } else { v.clone() };
                (k.clone(), v)
            })
            .collect();
        Self { method: "POST".into(), url, headers, body: String::from_utf8_lossy(&request.body.bytes).into_owned() }
    }
}

fn payload_from(value: Value) -> DomainResult<EventPayload> {
    let invalid =
        || DomainError::invalid("invalid_payload", "payload must be {\"context\"?: object, \"data\": object}");
    let Value::Object(mut map) = value else { return Err(invalid()) };
    let (context, data) = (map.remove("context"), map.remove("data").unwrap_or(Value::Null));
    if !map.is_empty() {
        return Err(invalid());
    }
    let payload = EventPayload::from_parts(context, data).map_err(|_| invalid())?;
    // Held to the events' depth limit, so a test shows what a real event of it would do.
    payload.check_depth()?;
    Ok(payload)
}

/// Sends one test request for `webhook` and reports what the receiver answered.
pub async fn test_send(
    sender: &dyn Sender,
    signing: &SigningSettings,
    catalog: Option<&TopicCatalog>,
    webhook: &Webhook,
    request: TestSendRequest,
) -> DomainResult<TestSendResult> {
    let topic = request.topic.or_else(|| webhook.topics.first().cloned()).unwrap_or_default();
    topic::validate_topic(&topic)?;
    let payload = match request.payload {
        Some(p) => payload_from(p)?,
        None => match catalog.and_then(|c| c.get(&topic)) {
            Some(t) => t.sample.clone(),
            None => EventPayload {
                context: Map::new(),
                data: json!({"test": true, "message": "A test webhook from Hookline"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
        },
    };
    let delivery_id = ids::new_id(TEST_DELIVERY_PREFIX);
    let now = timestamp::now();
    let occurred_at = timestamp::format(now);
    let event = EventView { topic: &topic, occurred_at: &occurred_at, payload: &payload };
    let request = match build_request(webhook, &[event], &[&delivery_id], signing, now) {
        Ok(request) => request,
        Err(reason) => {
            tracing::info!(webhook_id = %webhook.id, "test send made no request");
            return Ok(TestSendResult {
                ok: false,
                delivery_id,
                topic,
                status_code: None,
                error: Some(reason),
                latency_ms: 0,
                response_excerpt: String::new(),
                request: None,
            });
        }
    };
    let sent = SentRequest::of(webhook, &request);
    let outcome = sender.send(&request.url, &request.headers, request.body.bytes).await;
    tracing::info!(webhook_id = %webhook.id, status = outcome.status, "test send");
    Ok(TestSendResult {
        ok: verdict::is_success(outcome.status),
        delivery_id,
        topic,
        status_code: outcome.status,
        error: outcome.error.map(|e| e.to_string()),
        latency_ms: timestamp::millis(outcome.latency),
        response_excerpt: outcome.body_excerpt,
        request: Some(sent),
    })
}

/// What test sends need, bundled: the handlers pass one of these.
pub struct Tester<'a> {
    pub sender: &'a dyn Sender,
    pub signing: &'a SigningSettings,
    pub catalog: Option<&'a TopicCatalog>,
    /// The deployment's test sends quota per tenant (taken by the use-cases that send).
    pub quota: Option<&'a RateQuota>,
}

impl Tester<'_> {
    pub async fn send(&self, webhook: &Webhook, request: TestSendRequest) -> DomainResult<TestSendResult> {
        test_send(self.sender, self.signing, self.catalog, webhook, request).await
    }

    /// `?require_ok=true`: a default test send must answer 2xx, or the webhook is not saved.
    pub async fn require_ok(&self, webhook: &Webhook) -> DomainResult<()> {
        let result = self.send(webhook, TestSendRequest::default()).await?;
        if result.ok {
            return Ok(());
        }
        let answer = describe_answer(result.status_code, result.error.as_deref());
        Err(DomainError::Unprocessable {
            code: "test_failed",
            message: format!("the test send did not answer 2xx ({answer}); the webhook was not saved"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::json_depth::tests::nested;
    use crate::domain::limits::MAX_PAYLOAD_DEPTH;

    #[test]
    fn a_test_payload_is_held_to_the_events_depth_limit() {
        // GIVEN test payloads whose data nests at the limit and one past it
        let at = json!({"data": nested(MAX_PAYLOAD_DEPTH)});
        let over = json!({"context": nested(MAX_PAYLOAD_DEPTH + 1), "data": {}});
        // THEN the first is a payload and the second an `invalid_payload` naming the limit
        assert!(payload_from(at).is_ok());
        let e = payload_from(over).expect_err("too deep");
        assert_eq!(e.code(), "invalid_payload");
        assert!(e.to_string().contains(&format!("at most {MAX_PAYLOAD_DEPTH}")), "{e}");
    }
}
