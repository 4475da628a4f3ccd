//! Least privilege that still works: every AWS call each function makes on its real paths
//! (through a recording proxy in front of moto, which itself enforces no IAM) must be allowed,
//! on the right resource, by the policy template.yaml gives that function. Moto would run a
//! function whose policy lacks an action; AWS would refuse every such call.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use hookline_local::aws_proxy::AwsCall;
use hookline_local::stack::{self, Template};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

/// The IAM actions one call needs. Batch calls are authorised as their single actions, and a
/// transaction as the action of each of its items.
fn iam_actions(call: &AwsCall) -> Vec<String> {
    let body: Value = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
    match call.operation.as_str() {
        "sqs:SendMessageBatch" => vec!["sqs:SendMessage".into()],
        "sqs:DeleteMessageBatch" => vec!["sqs:DeleteMessage".into()],
        "sqs:ChangeMessageVisibilityBatch" => vec!["sqs:ChangeMessageVisibility".into()],
        "dynamodb:TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object()?.keys().next().cloned())
            .map(|kind| format!("dynamodb:{kind}Item"))
            .collect(),
        other => vec![other.to_string()],
    }
}

/// The template resource a call acts on: the table (or its indexes), the queue or the KMS key it names.
fn resource_of(h: &Harness, call: &AwsCall) -> Option<String> {
    let body: Value = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
    let service = call.operation.split(':').next().unwrap_or_default();
    match service {
        "dynamodb" if body.get("IndexName").is_some() => Some("HooklineTable.Arn/index/*".into()),
        "dynamodb" => Some("HooklineTable.Arn".into()),
        // The key a KMS call names must be the stack's own: the policies grant only that one.
        "kms" => {
            let key = body["KeyId"].as_str()?;
            h.stack.keys.iter().find(|(_, arn)| arn.as_str() == key).map(|(id, _)| format!("{id}.Arn"))
        }
        "sqs" => {
            let url = body["QueueUrl"].as_str()?;
            ["DeliveryQueue", "DeliveryDeadLetterQueue"]
                .into_iter()
                .find(|id| h.stack.queue(id).is_ok_and(|q| q.url == url))
                .map(|id| format!("{id}.Arn"))
        }
        _ => None,
    }
}

/// A policy resource as the name `resource_of` gives: `!GetAtt X.Arn` is `X.Arn`, and
/// `!Sub ${X.Arn}/index/*` is `X.Arn/index/*`.
fn resource_name(text: &str) -> String {
    text.trim_start_matches("!GetAtt ").trim_start_matches("!Sub ").replace("${", "").replace('}', "")
}

fn allowed(policy: &[(Vec<String>, Vec<String>)], action: &str, resource: Option<&str>) -> bool {
    policy.iter().any(|(actions, resources)| {
        actions.iter().any(|a| a == action)
            && resource.is_none_or(|wanted| resources.iter().any(|r| resource_name(r) == wanted))
    })
}

#[tokio::test]
async fn every_call_of_every_function_is_allowed_by_its_template_policy() {
    // GIVEN a stack recording each function's AWS calls, 2 attempts a delivery, short alert minutes
    let overrides = HashMap::from([("MaxReceiveCount".to_string(), "2".to_string())]);
    let h = Harness::start_recording(overrides).await;
    h.start_delivery(&[
        ("HOOKLINE_MAX_ATTEMPTS", "2"),
        ("HOOKLINE_RETRY_SCHEDULE", "1s"),
        ("HOOKLINE_RETRY_JITTER", "0"),
    ]);
    h.start_alerts(&[("HOOKLINE_ALERT_MINUTE_MS", "3000")]).await;
    let ok = Receiver::start(vec![Answer::status(200)]).await;
    let failing = Receiver::start(vec![Answer::status(500)]).await;

    // WHEN the API, delivery and alert paths all run: CRUD, ingest, a delivery that succeeds,
    // one that fails into the DLQ and an alert, a 410 that disables, the log, retry and recover
    let t = "/v1/tenants/iam";
    let good = h.create_webhook_to("iam", &ok.url, &["order_create"], None).await;
    let bad = h
        .post(
            &format!("{t}/webhooks"),
            json!({"name": "bad", "url": failing.url, "topics": ["order_create"],
                   "alert_emails": ["ops@iam.test"], "disable_after_failures": 1}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::CREATED, "{}", bad.body);
    // The opt-in paths: the confirmation sent (api), the link's page and its button.
    h.confirm_recipient("ops@iam.test").await;
    let recipients = h.get(&format!("{t}/alert-recipients")).await;
    assert_eq!(recipients.body["data"][0]["state"], "confirmed", "{}", recipients.body);
    let (good_id, bad_id) = (good["id"].as_str().expect("id"), bad.body["id"].as_str().expect("id"));
    // A rate-limited webhook sent two events at once: its rate log read and written, the one
    // over the limit carried on as a new, delayed message.
    let limited = h
        .post(
            &format!("{t}/webhooks"),
            json!({"name": "limited", "url": ok.url, "topics": ["order_update"], "max_per_second": 1}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::CREATED, "{}", limited.body);
    let mut limited_deliveries = Vec::new();
    for n in 0..2 {
        let sent = h.post(&format!("{t}/events"), json!({"topic": "order_update", "data": {"n": n}})).await;
        limited_deliveries.push(sent.body["deliveries"][0]["id"].as_str().expect("delivery").to_string());
    }
    for id in &limited_deliveries {
        h.delivery_with_status("iam", id, "delivered", Duration::from_secs(30)).await;
    }
    let sent = h.post(&format!("{t}/events"), json!({"topic": "order_create", "data": {"n": 1}})).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let deliveries = sent.body["deliveries"].as_array().expect("deliveries").clone();
    let delivery_to = |webhook: &str| {
        deliveries.iter().find(|d| d["webhook_id"] == webhook).and_then(|d| d["id"].as_str()).expect("delivery")
    };
    let failed = delivery_to(bad_id).to_string();
    h.delivery_with_status("iam", delivery_to(good_id), "delivered", Duration::from_secs(30)).await;
    h.delivery_with_status("iam", &failed, "failed", Duration::from_secs(30)).await;
    h.eventually("the alert e-mail", Duration::from_secs(30), || async {
        (!h.emails_to("ops@iam.test").await.is_empty()).then_some(())
    })
    .await;
    let gone = Receiver::start(vec![Answer::status(410)]).await;
    let patched = h.call("PATCH", &format!("{t}/webhooks/{good_id}"), Some(json!({"url": gone.url}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    h.post(&format!("{t}/events"), json!({"topic": "order_create", "data": {"n": 2}})).await;
    h.eventually("410 to disable the webhook", Duration::from_secs(30), || async {
        (h.get(&format!("{t}/webhooks/{good_id}")).await.body["enabled"] == false).then_some(())
    })
    .await;
    for path in [format!("{t}/webhooks"), format!("{t}/webhooks/{bad_id}/deliveries"), "/v1/topics".to_string()] {
        assert_eq!(h.get(&path).await.status, StatusCode::OK, "GET {path}");
    }
    let enabled = h.call("PATCH", &format!("{t}/webhooks/{bad_id}"), Some(json!({"enabled": true}))).await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    let retried = h.post(&format!("{t}/deliveries/{failed}/retry"), json!({})).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    let recovered = h.post(&format!("{t}/webhooks/{bad_id}/recover?since=2000-01-01T00:00:00Z"), json!({})).await;
    assert_eq!(recovered.status, StatusCode::ACCEPTED, "{}", recovered.body);
    let tested = h.post(&format!("{t}/webhooks/{bad_id}/test"), json!({})).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    assert_eq!(h.call("DELETE", &format!("{t}/webhooks/{good_id}"), None).await.status, StatusCode::NO_CONTENT);
    // The access paths: a tenant key listed, a console link opened, its session used and
    // closed, the key revoked.
    let key = h.post("/v1/api-keys", json!({"name": "iam", "tenant_id": "iam"})).await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    assert_eq!(h.get("/v1/api-keys").await.status, StatusCode::OK);
    let link = h.post(&format!("{t}/console-sessions"), json!(null)).await;
    let (_, _, cookie) = crate::access::open(link.body["url"].as_str().expect("url")).await;
    let cookie = cookie.expect("session cookie");
    let cookie = cookie.split(';').next().expect("cookie");
    let session = h.raw("GET", "/v1/console/session", &[("cookie", cookie)], vec![]).await;
    assert_eq!(session.status, StatusCode::OK);
    let csrf = session.body["csrf_token"].as_str().expect("csrf");
    let out = h.raw("POST", "/v1/console/logout", &[("cookie", cookie), ("x-csrf-token", csrf)], vec![]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let revoked = h.call("DELETE", &format!("/v1/api-keys/{}", key.body["id"].as_str().expect("id")), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);

    // THEN each function's every call is allowed by its own policy, on the resource it touched
    let template = Template::load(&stack::template_path()).expect("template");
    for (function, logical_id) in [("api", "ApiFunction"), ("delivery", "DeliveryFunction"), ("alert", "AlertFunction")]
    {
        let policy = template.function_policy(logical_id);
        assert!(!policy.is_empty(), "{logical_id} has a policy");
        let calls = h.calls[function].calls();
        assert!(!calls.is_empty(), "{function} made AWS calls");
        let mut refused = BTreeSet::new();
        for call in &calls {
            let resource = resource_of(&h, call);
            for action in iam_actions(call) {
                if !allowed(&policy, &action, resource.as_deref()) {
                    refused.insert(format!("{action} on {}", resource.clone().unwrap_or("*".into())));
                }
            }
        }
        assert!(
            refused.is_empty(),
            "{logical_id}'s policy lacks: {refused:?} (it made {:?})",
            h.calls[function].counts()
        );
    }
}

#[test]
fn a_policy_without_the_action_or_resource_refuses() {
    let policy = vec![(
        vec!["dynamodb:Query".to_string()],
        vec!["!GetAtt HooklineTable.Arn".to_string(), "!Sub ${HooklineTable.Arn}/index/*".to_string()],
    )];
    assert!(allowed(&policy, "dynamodb:Query", Some("HooklineTable.Arn")));
    assert!(allowed(&policy, "dynamodb:Query", Some("HooklineTable.Arn/index/*")));
    assert!(!allowed(&policy, "dynamodb:BatchWriteItem", Some("HooklineTable.Arn")));
    let table_only = vec![(vec!["dynamodb:Query".to_string()], vec!["!GetAtt HooklineTable.Arn".to_string()])];
    assert!(!allowed(&table_only, "dynamodb:Query", Some("HooklineTable.Arn/index/*")));
    let queue = vec![(vec!["sqs:SendMessage".to_string()], vec!["!GetAtt DeliveryQueue.Arn".to_string()])];
    assert!(!allowed(&queue, "sqs:SendMessage", Some("DeliveryDeadLetterQueue.Arn")));
}

#[test]
fn each_event_source_reads_its_queue_with_its_functions_own_policy() {
    // GIVEN the template's event source mappings (no SAM SQS events: those attach an
    // account-wide managed policy, which the local stack refuses)
    let template = Template::load(&stack::template_path()).expect("template");
    let mappings = template.event_source_mappings().expect("mappings");
    assert_eq!(mappings.len(), 2, "{mappings:?}");
    for (function, queue) in mappings {
        // THEN the function's inline policy allows what Lambda's poller does, on that queue only
        let policy = template.function_policy(&function);
        let queue_arn = format!("{queue}.Arn");
        for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"] {
            assert!(allowed(&policy, action, Some(&queue_arn)), "{function} may not {action} on {queue}");
        }
        let everywhere = policy.iter().any(|(actions, resources)| {
            actions.iter().any(|a| a.starts_with("sqs:")) && resources.iter().any(|r| r.contains('*'))
        });
        assert!(!everywhere, "{function} may use any queue");
    }
}

#[test]
fn mail_goes_only_from_the_configured_sender_identity() {
    // GIVEN the alert function's policy
    let template = Template::load(&stack::template_path()).expect("template");
    let ses: Vec<String> = template
        .function_policy("AlertFunction")
        .into_iter()
        .filter(|(actions, _)| actions.iter().any(|a| a.starts_with("ses:")))
        .flat_map(|(_, resources)| resources)
        .collect();
    // THEN it may send only as the sender's address or its domain, never as any identity
    assert!(!ses.is_empty(), "the alert function sends mail");
    assert!(ses.iter().all(|r| !r.contains("identity/*")), "{ses:?}");
    assert!(ses.iter().any(|r| r.contains("identity/${AlertSenderEmail}")), "{ses:?}");
}
