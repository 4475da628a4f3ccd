//! The moto server the tests run (`local/src/moto_server.py`) answers as moto does where it
//! was made faster: a Query on a key reads exactly its partition in order, and a cancelled
//! transaction leaves every item it named as it was; and where it was made to hold a lock, SQS
//! keeps every message it accepted while sends, receives, redrives and deletes run at once.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem, Update,
};
use hookline_local::moto::MotoServer;
use hookline_local::sdk;

const TABLE: &str = "t";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

async fn table(client: &Client) {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attr")
    };
    let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key");
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("create table");
}

async fn put(client: &Client, pk: &str, sk: &str, v: &str) {
    client.put_item().table_name(TABLE).item("pk", s(pk)).item("sk", s(sk)).item("v", s(v)).send().await.expect("put");
}

async fn value(client: &Client, pk: &str, sk: &str) -> Option<String> {
    let out = client.get_item().table_name(TABLE).key("pk", s(pk)).key("sk", s(sk)).send().await.expect("get");
    out.item.and_then(|i| i.get("v").and_then(|v| v.as_s().ok()).cloned())
}

#[tokio::test]
async fn queries_read_their_partition_in_order_and_cancelled_transactions_restore_what_they_named() {
    // GIVEN a table with two partitions, written out of order
    let moto = MotoServer::start(0).expect("moto");
    let client = Client::new(&sdk::for_endpoint(&moto.endpoint()).await);
    table(&client).await;
    for (pk, sk) in [("a", "3"), ("b", "1"), ("a", "1"), ("a", "2"), ("b", "0")] {
        put(&client, pk, sk, &format!("{pk}{sk}")).await;
    }

    // WHEN partition a is queried, forwards, backwards and a page at a time
    let query = |forward: bool, limit: i32, start: Option<&str>| {
        let mut q = client
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("a"))
            .scan_index_forward(forward)
            .limit(limit);
        if let Some(sk) = start {
            q = q.exclusive_start_key("pk", s("a")).exclusive_start_key("sk", s(sk));
        }
        q.send()
    };
    let sks = |out: aws_sdk_dynamodb::operation::query::QueryOutput| -> Vec<String> {
        out.items().iter().map(|i| i["sk"].as_s().expect("sk").clone()).collect()
    };
    // THEN only its items, in order either way, and pages continue where they left off
    assert_eq!(sks(query(true, 10, None).await.expect("query")), ["1", "2", "3"]);
    assert_eq!(sks(query(false, 10, None).await.expect("query")), ["3", "2", "1"]);
    let first = query(true, 2, None).await.expect("page 1");
    assert_eq!(first.last_evaluated_key().and_then(|k| k["sk"].as_s().ok()).map(String::as_str), Some("2"));
    assert_eq!(sks(first), ["1", "2"]);
    assert_eq!(sks(query(true, 2, Some("2")).await.expect("page 2")), ["3"]);

    // WHEN a transaction puts a new item, updates one and replaces another, then fails its check
    let update = Update::builder()
        .table_name(TABLE)
        .key("pk", s("a"))
        .key("sk", s("1"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("changed"))
        .build()
        .expect("update");
    let new = Put::builder().table_name(TABLE).item("pk", s("c")).item("sk", s("9")).item("v", s("new")).build();
    let replace =
        Put::builder().table_name(TABLE).item("pk", s("b")).item("sk", s("0")).item("v", s("replaced")).build();
    let check = ConditionCheck::builder()
        .table_name(TABLE)
        .key("pk", s("b"))
        .key("sk", s("1"))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("check");
    let cancelled = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(new.expect("put")).build())
        .transact_items(TransactWriteItem::builder().update(update.clone()).build())
        .transact_items(TransactWriteItem::builder().put(replace.expect("put")).build())
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .send()
        .await;
    // THEN it is cancelled and every item is as before
    assert!(cancelled.is_err(), "{cancelled:?}");
    assert_eq!(value(&client, "c", "9").await, None);
    assert_eq!(value(&client, "a", "1").await.as_deref(), Some("a1"));
    assert_eq!(value(&client, "b", "0").await.as_deref(), Some("b0"));
    // AND items it did not name, and the partitions' queries, are untouched
    assert_eq!(value(&client, "a", "3").await.as_deref(), Some("a3"));
    assert_eq!(sks(query(true, 10, None).await.expect("query")), ["1", "2", "3"]);

    // WHEN the same update goes alone in a transaction that holds
    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().update(update).build())
        .send()
        .await
        .expect("transaction");
    // THEN it lands
    assert_eq!(value(&client, "a", "1").await.as_deref(), Some("changed"));
}

#[tokio::test]
async fn messages_sent_while_others_are_deleted_are_all_received() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
    // GIVEN a queue
    let moto = MotoServer::start(0).expect("moto");
    let sqs = aws_sdk_sqs::Client::new(&sdk::for_endpoint(&moto.endpoint()).await);
    let url = sqs.create_queue().queue_name("q").send().await.expect("queue").queue_url.expect("url");
    const SENDERS: usize = 4;
    const BATCHES: usize = 40;
    // AND a backlog of 3000 messages delayed past the test (so each delete walks a long list,
    // as in a chaos run's backlog)
    for b in 0..300 {
        let entries = (0..10).map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(format!("later-{b}-{i}"))
                .delay_seconds(900)
                .build()
                .expect("entry")
        });
        sqs.send_message_batch().queue_url(&url).set_entries(Some(entries.collect())).send().await.expect("backlog");
    }
    let received: Arc<Mutex<HashSet<String>>> = Arc::default();
    let done_sending = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // WHEN four senders send 1600 messages more while four consumers receive and delete them
    let consume = |sqs: aws_sdk_sqs::Client, url: String| {
        let (received, done_sending) = (received.clone(), done_sending.clone());
        tokio::spawn(async move {
            let mut empty_after_sending = 0;
            while empty_after_sending < 3 {
                let out =
                    sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.expect("receive");
                let messages = out.messages.unwrap_or_default();
                if messages.is_empty() {
                    if done_sending.load(std::sync::atomic::Ordering::SeqCst) {
                        empty_after_sending += 1;
                    }
                    continue;
                }
                let entries: Vec<DeleteMessageBatchRequestEntry> = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(m.receipt_handle.clone().expect("receipt"))
                            .build()
                            .expect("entry")
                    })
                    .collect();
                received.lock().expect("lock").extend(messages.iter().filter_map(|m| m.body.clone()));
                sqs.delete_message_batch().queue_url(&url).set_entries(Some(entries)).send().await.expect("delete");
            }
        })
    };
    let consumers: Vec<_> = (0..4).map(|_| consume(sqs.clone(), url.clone())).collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (sqs, url) = (sqs.clone(), url.clone());
            tokio::spawn(async move {
                for b in 0..BATCHES {
                    let entries = (0..10).map(|i| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(format!("{s}-{b}-{i}"))
                            .build()
                            .expect("entry")
                    });
                    let out =
                        sqs.send_message_batch().queue_url(&url).set_entries(Some(entries.collect())).send().await;
                    assert!(out.expect("send").failed().is_empty());
                }
            })
        })
        .collect();
    for s in senders {
        s.await.expect("sender");
    }
    done_sending.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in consumers {
        c.await.expect("consumer");
    }

    // THEN every message sent was received
    let received = received.lock().expect("lock");
    let missing: Vec<String> = (0..SENDERS)
        .flat_map(|s| (0..BATCHES).flat_map(move |b| (0..10).map(move |i| format!("{s}-{b}-{i}"))))
        .filter(|body| !received.contains(body))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} never received: {:?}",
        missing.len(),
        SENDERS * BATCHES * 10,
        &missing[..missing.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_redriven_while_others_are_deleted_are_all_kept() {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
    const LIVE: usize = 1000;
    const BACKLOG: usize = 6000;
    // GIVEN a queue whose messages go to a dead-letter queue on their second receive
    let moto = MotoServer::start(0).expect("moto");
    let sqs = aws_sdk_sqs::Client::new(&sdk::for_endpoint(&moto.endpoint()).await);
    let dlq = sqs.create_queue().queue_name("dlq").send().await.expect("dlq").queue_url.expect("url");
    let attribute = |url: String, name: QueueAttributeName| {
        let sqs = sqs.clone();
        async move {
            let out = sqs.get_queue_attributes().queue_url(url).attribute_names(name.clone()).send().await;
            out.expect("attributes").attributes.and_then(|mut a| a.remove(&name)).expect("attribute")
        }
    };
    let dlq_arn = attribute(dlq.clone(), QueueAttributeName::QueueArn).await;
    let url = sqs
        .create_queue()
        .queue_name("q")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}"#),
        )
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let send = |sqs: aws_sdk_sqs::Client, url: String, prefix: &'static str, batches: usize, delay: i32| async move {
        for b in 0..batches {
            let entries = (0..10).map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!("{prefix}-{b}-{i}"))
                    .delay_seconds(delay)
                    .build()
                    .expect("entry")
            });
            let out = sqs.send_message_batch().queue_url(&url).set_entries(Some(entries.collect())).send().await;
            assert!(out.expect("send").failed().is_empty());
        }
    };
    // AND 1000 messages at the head of its list, then a backlog of 3000 delayed past the test
    // (so each delete walks a long list while messages ahead of it are redriven)
    send(sqs.clone(), url.clone(), "live", LIVE / 10, 0).await;
    send(sqs.clone(), url.clone(), "later", BACKLOG / 10, 900).await;

    // WHEN four consumers receive them without hiding them and never delete (so a second
    // receive redrives them), while four others hide what they receive and delete it, one
    // message a call (each delete walks the whole list)
    let deleted: Arc<Mutex<HashSet<String>>> = Arc::default();
    let empty = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..8)
        .map(|c| {
            let (sqs, url, deleted, empty) = (sqs.clone(), url.clone(), deleted.clone(), empty.clone());
            let deletes = c % 4 != 0;
            tokio::spawn(async move {
                while empty.load(Ordering::SeqCst) < 16 {
                    let out = sqs
                        .receive_message()
                        .queue_url(&url)
                        .max_number_of_messages(10)
                        .visibility_timeout(if deletes { 60 } else { 0 })
                        .send()
                        .await
                        .expect("receive");
                    let messages = out.messages.unwrap_or_default();
                    if messages.is_empty() {
                        empty.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    for m in messages.iter().filter(|_| deletes) {
                        let receipt = m.receipt_handle.clone().expect("receipt");
                        let out = sqs.delete_message().queue_url(&url).receipt_handle(receipt).send().await;
                        // A message redriven meanwhile is on the dead-letter queue instead.
                        if out.is_ok() {
                            deleted.lock().expect("lock").extend(m.body.clone());
                        }
                    }
                }
            })
        })
        .collect();
    for c in consumers {
        c.await.expect("consumer");
    }

    // THEN each of the 1000 was deleted or is on the dead-letter queue
    let mut accounted = deleted.lock().expect("lock").clone();
    loop {
        let out = sqs.receive_message().queue_url(&dlq).max_number_of_messages(10).send().await.expect("dlq");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in &messages {
            accounted.extend(m.body.clone());
            sqs.delete_message()
                .queue_url(&dlq)
                .receipt_handle(m.receipt_handle.clone().expect("r"))
                .send()
                .await
                .expect("d");
        }
    }
    let missing: Vec<String> = (0..LIVE / 10)
        .flat_map(|b| (0..10).map(move |i| format!("live-{b}-{i}")))
        .filter(|body| !accounted.contains(body))
        .collect();
    assert!(missing.is_empty(), "{} of {LIVE} lost: {:?}", missing.len(), &missing[..missing.len().min(10)]);
    // AND the backlog is whole
    let delayed = attribute(url.clone(), QueueAttributeName::ApproximateNumberOfMessagesDelayed).await;
    assert_eq!(delayed, BACKLOG.to_string(), "the delayed backlog lost messages");
}
