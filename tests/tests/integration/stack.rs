//! The local stack is built from template.yaml's own definitions.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use hookline_shared::domain::settings::Settings;

use crate::harness::Harness;

#[tokio::test]
async fn table_and_queues_follow_the_template() {
    // GIVEN a stack provisioned from template.yaml
    let h = Harness::start().await;

    // THEN the table has the template's keys, index and TTL attribute
    let table = h.dynamodb().describe_table().table_name(&h.config.table_name).send().await.expect("describe");
    let table = table.table.expect("table");
    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string()))
        .collect();
    assert_eq!(keys, [("pk".to_string(), "HASH".to_string()), ("sk".to_string(), "RANGE".to_string())]);
    let gsis: Vec<&str> = table.global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
    assert_eq!(gsis, ["gsi1"]);
    let ttl = h.dynamodb().describe_time_to_live().table_name(&h.config.table_name).send().await.expect("ttl");
    assert_eq!(ttl.time_to_live_description().and_then(|t| t.attribute_name()), Some("expires_at"));

    // AND the delivery queue redrives to the DLQ after the template's default 6 receives
    let redrive: serde_json::Value =
        serde_json::from_str(&h.queue_attribute("DeliveryQueue", QueueAttributeName::RedrivePolicy).await)
            .expect("json");
    assert_eq!(redrive["maxReceiveCount"], 6);
    assert_eq!(redrive["deadLetterTargetArn"], h.stack.queue("DeliveryDeadLetterQueue").expect("dlq").arn);
    assert_eq!(h.queue_attribute("DeliveryQueue", QueueAttributeName::VisibilityTimeout).await, "60");
    assert_eq!(
        h.queue_attribute("DeliveryDeadLetterQueue", QueueAttributeName::MessageRetentionPeriod).await,
        "1209600"
    );
}

#[tokio::test]
async fn parameters_can_be_overridden() {
    let overrides = HashMap::from([("MaxReceiveCount".to_string(), "2".to_string())]);
    let h = Harness::start_with(Settings::default(), overrides, |sdk, config| {
        hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
    })
    .await;
    let redrive: serde_json::Value =
        serde_json::from_str(&h.queue_attribute("DeliveryQueue", QueueAttributeName::RedrivePolicy).await)
            .expect("json");
    assert_eq!(redrive["maxReceiveCount"], 2);
}
