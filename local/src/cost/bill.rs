//! One recorded AWS call priced: the units it is billed as, by service and operation. An
//! operation without a rule here is an error, so a new kind of call cannot go unpriced.

use serde_json::Value;

use super::dynamo::{self, Item, TableModel};
use super::meter::{self, Component, Usage};
use crate::aws_proxy::AwsCall;

/// The DynamoDB operations that write items, whose items the recording proxy reads before
/// and after (`AwsCall::before`, `AwsCall::after`) so they can be billed by size.
pub const DYNAMO_WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

/// One item a write names: its table, its key, and whether it is written transactionally
/// (`check`: a transaction's ConditionCheck, which reads it but writes nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub table: String,
    pub key: Item,
    pub transactional: bool,
    pub check: bool,
}

/// The items a DynamoDB write request names, in order. `keys` are the table's key attributes
/// (to take the key out of a PutItem's item).
pub fn written_items(operation: &str, request: &Value, keys: &[String]) -> Vec<Written> {
    let key_of =
        |item: &Value| -> Item { keys.iter().filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone()))).collect() };
    let table = |v: &Value| v["TableName"].as_str().unwrap_or_default().to_string();
    let one = |key: Item| vec![Written { table: table(request), key, transactional: false, check: false }];
    match operation {
        "PutItem" => one(key_of(&request["Item"])),
        "UpdateItem" | "DeleteItem" => one(key_of(&request["Key"])),
        "BatchWriteItem" => request["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(name, writes)| {
                writes.as_array().into_iter().flatten().map(move |w| {
                    let key = if w.get("PutRequest").is_some() {
                        &w["PutRequest"]["Item"]
                    } else {
                        &w["DeleteRequest"]["Key"]
                    };
                    (name.clone(), key)
                })
            })
            .map(|(table, key)| Written { table, key: key_of(key), transactional: false, check: false })
            .collect(),
        "TransactWriteItems" => request["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_object()?.iter().next())
            .map(|(kind, op)| {
                let key = if kind == "Put" { &op["Item"] } else { &op["Key"] };
                Written { table: table(op), key: key_of(key), transactional: true, check: kind == "ConditionCheck" }
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn object(v: Option<&Value>) -> Option<&Item> {
    v.and_then(Value::as_object)
}

/// The units one recorded call is billed as.
pub fn price_call(call: &AwsCall, table: &TableModel) -> Result<Usage, String> {
    let (service, operation) = call.operation.split_once(':').unwrap_or(("unknown", "unknown"));
    let json = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null);
    match service {
        "dynamodb" => dynamo_units(operation, &json(&call.body), &json(&call.response), call, table),
        "sqs" => meter::sqs_requests(operation, &json(&call.body), &json(&call.response))
            .map(|n| Usage::of(Component::Sqs, n)),
        "ses" => {
            meter::ses_emails(operation, &String::from_utf8_lossy(&call.body)).map(|n| Usage::of(Component::Ses, n))
        }
        "kms" => match operation {
            "Decrypt" | "Encrypt" | "GenerateDataKey" => Ok(Usage::of(Component::Kms, 1.0)),
            other => Err(format!("kms:{other} has no billing rule")),
        },
        _ => Err(format!("{} has no billing rule", call.operation)),
    }
}

fn dynamo_units(
    operation: &str,
    request: &Value,
    response: &Value,
    call: &AwsCall,
    table: &TableModel,
) -> Result<Usage, String> {
    let reads = |units: f64| Ok(Usage::of(Component::DynamoReads, units));
    let consistent = |v: &Value| v["ConsistentRead"].as_bool().unwrap_or(false);
    let size = |v: &Value| object(Some(v)).map_or(0, dynamo::item_size);
    match operation {
        _ if DYNAMO_WRITES.contains(&operation) => {
            let written = written_items(operation, request, &table.keys);
            if call.before.len() != written.len() || call.after.len() != written.len() {
                return Err(format!("dynamodb:{operation} was recorded without its items before and after"));
            }
            let units: u64 = written
                .iter()
                .zip(call.before.iter().zip(&call.after))
                .map(|(w, (before, after))| {
                    let (before, after) = (object(before.as_ref()), object(after.as_ref()));
                    if w.check {
                        2 * dynamo::write_units(before.map_or(0, dynamo::item_size))
                    } else {
                        table.item_write_units(before, after, w.transactional)
                    }
                })
                .sum();
            Ok(Usage::of(Component::DynamoWrites, units as f64))
        }
        "GetItem" => reads(dynamo::read_units(size(&response["Item"]), consistent(request))),
        "BatchGetItem" => {
            // Each requested item is a read of its own, found or not.
            let mut units = 0.0;
            for (name, asked) in request["RequestItems"].as_object().into_iter().flatten() {
                let found = response["Responses"][name].as_array().cloned().unwrap_or_default();
                let requested = asked["Keys"].as_array().map_or(0, Vec::len).max(found.len());
                units += found.iter().map(|i| dynamo::read_units(size(i), consistent(asked))).sum::<f64>();
                units += (requested - found.len()) as f64 * dynamo::read_units(0, consistent(asked));
            }
            reads(units)
        }
        "Query" | "Scan" => {
            // Billed by the items read before any filter: the returned ones, scaled by
            // ScannedCount / Count (an estimate from the answer: a projection or a filter
            // hides the size of what was read).
            let items = response["Items"].as_array().cloned().unwrap_or_default();
            let returned: u64 = items.iter().map(size).sum();
            let count = response["Count"].as_u64().unwrap_or(items.len() as u64);
            let scanned = response["ScannedCount"].as_u64().unwrap_or(count);
            let bytes = (returned * scanned).checked_div(count).unwrap_or(0);
            reads(dynamo::read_units(bytes, consistent(request) && request.get("IndexName").is_none()))
        }
        "TransactGetItems" => {
            let items = response["Responses"].as_array().cloned().unwrap_or_default();
            reads(items.iter().map(|r| 2.0 * dynamo::read_units(size(&r["Item"]), true)).sum())
        }
        other => Err(format!("dynamodb:{other} has no billing rule")),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use serde_json::json;

    use super::*;
    use crate::cost::dynamo::Index;
    use crate::cost::dynamo::Projection;

    fn table() -> TableModel {
        let index =
            Index { name: "gsi1".into(), keys: vec!["gsi1pk".into(), "gsi1sk".into()], projection: Projection::All };
        TableModel { keys: vec!["pk".into(), "sk".into()], indexes: vec![index] }
    }

    fn call(
        operation: &str,
        body: Value,
        response: Value,
        before: Vec<Option<Value>>,
        after: Vec<Option<Value>>,
    ) -> AwsCall {
        AwsCall {
            operation: operation.into(),
            body: Bytes::from(body.to_string()),
            status: 200,
            response: Bytes::from(response.to_string()),
            before,
            after,
            overhead: std::time::Duration::ZERO,
        }
    }

    fn kb(n: usize) -> Value {
        json!({"pk": {"S": "p"}, "sk": {"S": "s"}, "d": {"S": "x".repeat(n * 1024 - 7)}})
    }

    #[test]
    fn a_put_of_a_new_item_is_billed_by_its_size() {
        // GIVEN a PutItem of a 1.2 KB item recorded with nothing before it
        let mut item = kb(1);
        item["e"] = json!({"S": "x".repeat(200)});
        let c = call(
            "dynamodb:PutItem",
            json!({"TableName": "t", "Item": item}),
            json!({}),
            vec![None],
            vec![Some(item.clone())],
        );
        // THEN 2 write units
        assert_eq!(price_call(&c, &table()).expect("priced").get(Component::DynamoWrites), 2.0);
    }

    #[test]
    fn a_transaction_doubles_each_write_and_a_batch_bills_each_item() {
        // GIVEN a transaction putting a 1 KB item and checking another
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": kb(1)}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "q"}, "sk": {"S": "s"}}}}
        ]});
        let c = call(
            "dynamodb:TransactWriteItems",
            body,
            json!({}),
            vec![None, Some(kb(1))],
            vec![Some(kb(1)), Some(kb(1))],
        );
        // THEN 2 + 2 write units
        assert_eq!(price_call(&c, &table()).expect("priced").get(Component::DynamoWrites), 4.0);
        // AND a batch of two 1 KB puts and a delete of a 2 KB item is 1 + 1 + 2
        let body = json!({"RequestItems": {"t": [
            {"PutRequest": {"Item": kb(1)}}, {"PutRequest": {"Item": kb(1)}},
            {"DeleteRequest": {"Key": {"pk": {"S": "p"}, "sk": {"S": "s"}}}}
        ]}});
        let c = call(
            "dynamodb:BatchWriteItem",
            body,
            json!({}),
            vec![None, None, Some(kb(2))],
            vec![Some(kb(1)), Some(kb(1)), None],
        );
        assert_eq!(price_call(&c, &table()).expect("priced").get(Component::DynamoWrites), 4.0);
    }

    #[test]
    fn a_write_recorded_without_its_items_is_an_error() {
        let c = call("dynamodb:UpdateItem", json!({"Key": {}}), json!({}), vec![], vec![]);
        assert!(price_call(&c, &table()).is_err());
    }

    #[test]
    fn reads_are_billed_from_the_answer() {
        // GIVEN an eventually consistent GetItem of a 5 KB item, and a consistent one of nothing
        let c = call("dynamodb:GetItem", json!({}), json!({"Item": kb(5)}), vec![], vec![]);
        assert_eq!(price_call(&c, &table()).expect("priced").get(Component::DynamoReads), 1.0);
        let c = call("dynamodb:GetItem", json!({"ConsistentRead": true}), json!({}), vec![], vec![]);
        assert_eq!(price_call(&c, &table()).expect("priced").get(Component::DynamoReads), 1.0);
        // AND a BatchGetItem of three keys finding two 1 KB items: three half units
        let body = json!({"RequestItems": {"t": {"Keys": [{}, {}, {}]}}});
        let c = call("dynamodb:BatchGetItem", body, json!({"Responses": {"t": [kb(1), kb(1)]}}), vec![], vec![]);
        assert_eq!(price_call(&c, &table()).expect("priced").get(Component::DynamoReads), 1.5);
        // AND a Query on the index returning three 2 KB items: 6 KB in 4 KB units, halved
        let c = call(
            "dynamodb:Query",
            json!({"IndexName": "gsi1", "ConsistentRead": true}),
            json!({"Items": [kb(2), kb(2), kb(2)], "Count": 3, "ScannedCount": 3}),
            vec![],
            vec![],
        );
        assert_eq!(price_call(&c, &table()).expect("priced").get(Component::DynamoReads), 1.0);
    }

    #[test]
    fn every_service_call_is_priced_or_refused() {
        let sqs = call("sqs:SendMessage", json!({"MessageBody": "x".repeat(70 * 1024)}), json!({}), vec![], vec![]);
        assert_eq!(price_call(&sqs, &table()).expect("priced").get(Component::Sqs), 2.0);
        let kms = call("kms:Decrypt", json!({}), json!({}), vec![], vec![]);
        assert_eq!(price_call(&kms, &table()).expect("priced").get(Component::Kms), 1.0);
        for unknown in ["dynamodb:DescribeTable", "sns:Publish", "kms:CreateKey", "unknown:unknown"] {
            assert!(price_call(&call(unknown, json!({}), json!({}), vec![], vec![]), &table()).is_err(), "{unknown}");
        }
    }

    #[test]
    fn the_items_a_write_names_come_with_their_keys() {
        let keys = vec!["pk".to_string(), "sk".to_string()];
        let w = written_items("PutItem", &json!({"TableName": "t", "Item": kb(1)}), &keys);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key.len(), 2, "pk and sk only");
        assert_eq!(w[0].table, "t");
        assert!(written_items("GetItem", &json!({}), &keys).is_empty());
    }
}
