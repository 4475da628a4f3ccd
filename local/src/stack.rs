//! Creates the DynamoDB tables and SQS queues that `template.yaml` declares, from the
//! template's own definitions (keys, indexes, TTL, queue attributes, redrive), and reads how
//! the functions' SQS event sources batch each queue, so the local stack and the cloud cannot
//! drift. A property this module does not know is an error rather than silently skipped: a
//! template change must be reflected here, not lost.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;

use crate::pump::Batching;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot read the template {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("template: {0}")]
    Template(String),
    #[error("{operation} failed: {message}")]
    Aws { operation: &'static str, message: String },
}

/// Table properties that only matter in the cloud (moto has no backups or encryption).
const CLOUD_ONLY_TABLE_PROPERTIES: &[&str] =
    &["PointInTimeRecoverySpecification", "SSESpecification", "DeletionProtectionEnabled", "Tags", "TableName"];
/// KMS key properties: the policy only matters in the cloud (moto enforces no IAM); rotation
/// is turned on when asked.
const KMS_KEY_PROPERTIES: &[&str] = &["Description", "EnableKeyRotation", "KeyPolicy", "Tags"];
/// Queue properties that are not queue attributes.
const NON_ATTRIBUTE_QUEUE_PROPERTIES: &[&str] = &["QueueName", "Tags"];
/// The event source mapping properties the local pump follows. `FunctionResponseTypes` is
/// known: the pump always honours a partial batch response, as `ReportBatchItemFailures` asks;
/// `FunctionName` is wired by the local runner itself.
/// `ScalingConfig` caps concurrent batches: the local pump runs one at a time, under any cap.
const SQS_EVENT_PROPERTIES: &[&str] = &[
    "FunctionName",
    "EventSourceArn",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
];

/// The template's path in this repository.
pub fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("template.yaml")
}

#[derive(Debug, Clone)]
pub struct QueueRef {
    pub url: String,
    pub arn: String,
}

/// What was created, by the template's logical ids.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub tables: HashMap<String, String>,
    pub queues: HashMap<String, QueueRef>,
    /// How a function's SQS event source batches each queue it reads, by queue logical id.
    pub batching: HashMap<String, Batching>,
    /// KMS keys by logical id: their ARNs.
    pub keys: HashMap<String, String>,
}

impl Stack {
    pub fn table(&self, logical_id: &str) -> Result<&str, StackError> {
        self.tables
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| StackError::Template(format!("no table {logical_id} in the template")))
    }

    pub fn key(&self, logical_id: &str) -> Result<&str, StackError> {
        self.keys
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| StackError::Template(format!("no KMS key {logical_id} in the template")))
    }

    pub fn queue(&self, logical_id: &str) -> Result<&QueueRef, StackError> {
        self.queues
            .get(logical_id)
            .ok_or_else(|| StackError::Template(format!("no queue {logical_id} in the template")))
    }

    /// How the pump should batch a queue: as its event source in the template does, else as
    /// Lambda does by default.
    pub fn batching(&self, queue_logical_id: &str) -> Batching {
        self.batching.get(queue_logical_id).copied().unwrap_or_default()
    }
}

pub struct Template {
    resources: Vec<(String, Value)>,
    parameters: HashMap<String, String>,
    /// `Globals.Function`: what every function has unless it says otherwise.
    function_globals: Value,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, StackError> {
        let read_err = |reason: String| StackError::Read { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| read_err(e.to_string()))?;
        Self::parse(&text).map_err(|e| read_err(e.to_string()))
    }

    pub fn parse(text: &str) -> Result<Self, StackError> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| StackError::Template(e.to_string()))?;
        let mut parameters = HashMap::new();
        if let Some(Value::Mapping(params)) = doc.get("Parameters") {
            for (name, def) in params {
                if let (Some(name), Some(default)) = (name.as_str(), def.get("Default").and_then(scalar)) {
                    parameters.insert(name.to_string(), default);
                }
            }
        }
        let resources = match doc.get("Resources") {
            Some(Value::Mapping(r)) => {
                r.iter().filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v.clone()))).collect()
            }
            _ => return Err(StackError::Template("no Resources".into())),
        };
        let function_globals = doc.get("Globals").and_then(|g| g.get("Function")).cloned().unwrap_or(Value::Null);
        Ok(Self { resources, parameters, function_globals })
    }

    /// A resource's `Properties`.
    pub fn properties(&self, logical_id: &str) -> Option<&Value> {
        self.resources.iter().find(|(id, _)| id == logical_id).and_then(|(_, r)| r.get("Properties"))
    }

    /// A function's `MemorySize` in MB: its own, or the template's global one.
    pub fn function_memory_mb(&self, logical_id: &str) -> Option<u32> {
        let own = self.properties(logical_id).and_then(|p| p.get("MemorySize"));
        own.or_else(|| self.function_globals.get("MemorySize"))
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok())
    }

    /// Whether Lambda writes its own per-invocation log records (platform.start, platform.report:
    /// INFO) for the functions: not when the global `LoggingConfig` sets `SystemLogLevel` to
    /// WARN or ERROR.
    pub fn platform_logs_info(&self) -> bool {
        let level = self.function_globals.get("LoggingConfig").and_then(|l| l.get("SystemLogLevel"));
        !matches!(level.and_then(Value::as_str), Some("WARN" | "ERROR"))
    }

    /// A parameter's default value.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// The `Allow` statements of a function's inline policies, as (actions, resources); a
    /// resource is its text with intrinsics kept readable (`!GetAtt HooklineTable.Arn`,
    /// `!Sub ${HooklineTable.Arn}/index/*`), enough to tell which resource it names.
    pub fn function_policy(&self, logical_id: &str) -> Vec<(Vec<String>, Vec<String>)> {
        fn one(v: &Value) -> String {
            match v {
                // `!If [condition, then, else]`: the `then` branch, which is what the local
                // stack builds (it creates what the template creates when nothing is named).
                Value::Tagged(t) if t.tag == "!If" => {
                    t.value.as_sequence().and_then(|branches| branches.get(1)).map(one).unwrap_or_default()
                }
                Value::Tagged(t) => format!("{} {}", t.tag, t.value.as_str().unwrap_or_default()),
                other => scalar(other).unwrap_or_default(),
            }
        }
        fn texts(v: Option<&Value>) -> Vec<String> {
            match v {
                Some(Value::Sequence(items)) => items.iter().map(one).collect(),
                Some(v) => vec![one(v)],
                None => Vec::new(),
            }
        }
        let Some((_, function)) = self.resources.iter().find(|(id, _)| id == logical_id) else {
            return Vec::new();
        };
        let policies = function.get("Properties").and_then(|p| p.get("Policies")).and_then(Value::as_sequence);
        policies
            .into_iter()
            .flatten()
            .filter_map(|policy| policy.get("Statement").and_then(Value::as_sequence))
            .flatten()
            .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Allow"))
            .map(|st| (texts(st.get("Action")), texts(st.get("Resource"))))
            .collect()
    }

    /// The batching of every SQS event source mapping, by queue logical id, with `params`
    /// (the parameter defaults and overrides) resolving `!Ref`s. A SAM `SQS` event is refused:
    /// it attaches `AWSLambdaSQSQueueExecutionRole`, which lets the function read every queue
    /// of the account, where an explicit mapping and policy name one queue.
    pub fn event_source_batching(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<HashMap<String, Batching>, StackError> {
        let sam_sqs_event = self
            .of_type("AWS::Serverless::Function")
            .filter_map(|(_, props)| props.get("Events").and_then(Value::as_mapping))
            .flat_map(|events| events.values())
            .any(|event| event.get("Type").and_then(Value::as_str) == Some("SQS"));
        if sam_sqs_event {
            return Err(StackError::Template(
                "a SAM SQS event attaches an account-wide queue policy: use an AWS::Lambda::EventSourceMapping".into(),
            ));
        }
        self.of_type("AWS::Lambda::EventSourceMapping").map(|(_, props)| sqs_event_batching(props, params)).collect()
    }

    /// Every SQS event source mapping as (function logical id, queue logical id): the function's
    /// role is what reads, deletes and looks up the queue's messages.
    pub fn event_source_mappings(&self) -> Result<Vec<(String, String)>, StackError> {
        self.of_type("AWS::Lambda::EventSourceMapping")
            .map(|(_, props)| {
                let function = match field(props, "FunctionName")? {
                    Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().map(str::to_string),
                    Value::Mapping(m) => m.get("Ref").and_then(Value::as_str).map(str::to_string),
                    _ => None,
                }
                .ok_or_else(|| StackError::Template("an event source's FunctionName must be a !Ref".into()))?;
                Ok((function, queue_of(field(props, "EventSourceArn")?)?))
            })
            .collect()
    }

    fn of_type(&self, ty: &str) -> impl Iterator<Item = (&str, &Value)> {
        self.resources
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
            .map(|(id, r)| (id.as_str(), r.get("Properties").unwrap_or(&Value::Null)))
    }
}

/// Resolves a property value: plain scalars, `!Ref` to a parameter or a created resource,
/// and `!GetAtt X.Arn` of a created queue. `None` when it refers to something not created yet.
fn resolve(v: &Value, params: &HashMap<String, String>, stack: &Stack) -> Result<Option<String>, StackError> {
    let reference = |name: &str| -> Option<String> {
        params
            .get(name)
            .cloned()
            .or_else(|| stack.tables.get(name).cloned())
            .or_else(|| stack.queues.get(name).map(|q| q.url.clone()))
    };
    let get_att = |target: &str| -> Result<Option<String>, StackError> {
        match target.split_once('.') {
            Some((id, "Arn")) => Ok(stack.queues.get(id).map(|q| q.arn.clone())),
            _ => Err(StackError::Template(format!("unsupported GetAtt {target}"))),
        }
    };
    match v {
        Value::Tagged(t) if t.tag == "!Ref" => Ok(t.value.as_str().and_then(reference)),
        Value::Tagged(t) if t.tag == "!GetAtt" => get_att(t.value.as_str().unwrap_or_default()),
        Value::Tagged(t) => Err(StackError::Template(format!("unsupported intrinsic {}", t.tag))),
        Value::Mapping(m) if m.len() == 1 => {
            if let Some(name) = m.get("Ref").and_then(Value::as_str) {
                Ok(reference(name))
            } else if let Some(att) = m.get("Fn::GetAtt") {
                let target = match att {
                    Value::Sequence(parts) => parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."),
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                get_att(&target)
            } else {
                Err(StackError::Template(format!("unsupported value {m:?}")))
            }
        }
        other => scalar(other).map(Some).ok_or_else(|| StackError::Template(format!("unsupported value {other:?}"))),
    }
}

/// The logical id of the queue an event source mapping reads: `!GetAtt Q.Arn` or `Fn::GetAtt: [Q, Arn]`.
fn queue_of(v: &Value) -> Result<String, StackError> {
    let target = match v {
        Value::Tagged(t) if t.tag == "!GetAtt" => t.value.as_str().map(str::to_string),
        Value::Mapping(m) => match m.get("Fn::GetAtt") {
            Some(Value::Sequence(parts)) => Some(parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(".")),
            Some(other) => other.as_str().map(str::to_string),
            None => None,
        },
        _ => None,
    };
    target.as_deref().and_then(|t| t.strip_suffix(".Arn")).map(str::to_string).ok_or_else(|| {
        StackError::Template(format!("an event source's EventSourceArn must be a queue's Arn, not {v:?}"))
    })
}

/// One SQS event source: its queue and batching (Lambda's defaults where the template is silent).
fn sqs_event_batching(props: &Value, params: &HashMap<String, String>) -> Result<(String, Batching), StackError> {
    let Value::Mapping(map) = props else {
        return Err(StackError::Template("an event source mapping's Properties must be a mapping".into()));
    };
    if let Some(other) = map.keys().filter_map(Value::as_str).find(|k| !SQS_EVENT_PROPERTIES.contains(k)) {
        return Err(StackError::Template(format!("event source mapping property {other} is not supported locally")));
    }
    let number = |name: &str, default: u64, range: std::ops::RangeInclusive<u64>| -> Result<u64, StackError> {
        let Some(v) = props.get(name) else {
            return Ok(default);
        };
        resolve(v, params, &Stack::default())?
            .and_then(|text| text.parse::<u64>().ok())
            .filter(|n| range.contains(n))
            .ok_or_else(|| StackError::Template(format!("{name} must be a whole number in {range:?}")))
    };
    let batching = Batching {
        max_messages: usize::try_from(number("BatchSize", 10, 1..=10_000)?).unwrap_or(10),
        window: Duration::from_secs(number("MaximumBatchingWindowInSeconds", 0, 0..=300)?),
    };
    // As Lambda refuses it: batches over 10 messages are gathered over a window.
    if batching.max_messages > 10 && batching.window.is_zero() {
        return Err(StackError::Template(
            "a BatchSize over 10 needs a MaximumBatchingWindowInSeconds of at least 1".into(),
        ));
    }
    Ok((queue_of(field(props, "EventSourceArn")?)?, batching))
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, StackError> {
    v.get(name).ok_or_else(|| StackError::Template(format!("missing {name}")))
}

fn text(v: &Value, name: &str) -> Result<String, StackError> {
    field(v, name)?.as_str().map(str::to_string).ok_or_else(|| StackError::Template(format!("{name} must be text")))
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>, StackError> {
    let seq = v.as_sequence().ok_or_else(|| StackError::Template("KeySchema must be a list".into()))?;
    seq.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName")?)
                .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                .build()
                .map_err(|e| StackError::Template(e.to_string()))
        })
        .collect()
}

/// DynamoDB's and SQS's `SdkError` are one type, so one mapper serves both.
fn aws_err<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E>) -> StackError {
    move |e| StackError::Aws { operation, message: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string() }
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, props: &Value) -> Result<(), StackError> {
    let Value::Mapping(map) = props else {
        return Err(StackError::Template(format!("table {name}: Properties must be a mapping")));
    };
    let mut req = client.create_table().table_name(name);
    let mut ttl: Option<TimeToLiveSpecification> = None;
    for (key, value) in map {
        let key = key.as_str().unwrap_or_default();
        match key {
            "BillingMode" => req = req.billing_mode(BillingMode::from(value.as_str().unwrap_or_default())),
            "AttributeDefinitions" => {
                for a in value.as_sequence().into_iter().flatten() {
                    req = req.attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(text(a, "AttributeName")?)
                            .attribute_type(ScalarAttributeType::from(text(a, "AttributeType")?.as_str()))
                            .build()
                            .map_err(|e| StackError::Template(e.to_string()))?,
                    );
                }
            }
            "KeySchema" => req = req.set_key_schema(Some(key_schema(value)?)),
            "GlobalSecondaryIndexes" => {
                for g in value.as_sequence().into_iter().flatten() {
                    let projection = field(g, "Projection")?;
                    let mut p = Projection::builder()
                        .projection_type(ProjectionType::from(text(projection, "ProjectionType")?.as_str()));
                    for attr in projection.get("NonKeyAttributes").and_then(Value::as_sequence).into_iter().flatten() {
                        p = p.non_key_attributes(attr.as_str().unwrap_or_default());
                    }
                    req = req.global_secondary_indexes(
                        GlobalSecondaryIndex::builder()
                            .index_name(text(g, "IndexName")?)
                            .set_key_schema(Some(key_schema(field(g, "KeySchema")?)?))
                            .projection(p.build())
                            .build()
                            .map_err(|e| StackError::Template(e.to_string()))?,
                    );
                }
            }
            "TimeToLiveSpecification" => {
                ttl = Some(
                    TimeToLiveSpecification::builder()
                        .attribute_name(text(value, "AttributeName")?)
                        .enabled(value.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
                        .build()
                        .map_err(|e| StackError::Template(e.to_string()))?,
                )
            }
            k if CLOUD_ONLY_TABLE_PROPERTIES.contains(&k) => {}
            other => return Err(StackError::Template(format!("table property {other} is not supported locally"))),
        }
    }
    req.send().await.map_err(aws_err("CreateTable"))?;
    if let Some(ttl) = ttl {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(aws_err("UpdateTimeToLive"))?;
    }
    Ok(())
}

/// Creates a KMS key as the template declares it. A key the template creates only when the
/// deployer names none (a `Condition`) is always created here: locally nobody names one.
async fn create_kms_key(client: &aws_sdk_kms::Client, id: &str, props: &Value) -> Result<String, StackError> {
    if let Value::Mapping(map) = props
        && let Some(other) = map.keys().filter_map(Value::as_str).find(|k| !KMS_KEY_PROPERTIES.contains(k))
    {
        return Err(StackError::Template(format!("KMS key property {other} is not supported locally")));
    }
    let created = client
        .create_key()
        .description(props.get("Description").and_then(Value::as_str).unwrap_or(id))
        .send()
        .await
        .map_err(|e| StackError::Aws {
            operation: "CreateKey",
            message: aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
        })?;
    let metadata = created.key_metadata.ok_or_else(|| StackError::Template("CreateKey returned no key".into()))?;
    if props.get("EnableKeyRotation").and_then(Value::as_bool) == Some(true) {
        client.enable_key_rotation().key_id(metadata.key_id()).send().await.map_err(|e| StackError::Aws {
            operation: "EnableKeyRotation",
            message: aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
        })?;
    }
    Ok(metadata.arn().unwrap_or(metadata.key_id()).to_string())
}

/// The queue's attributes from its properties, or `None` while a reference is unresolved.
fn queue_attributes(
    props: &Value,
    params: &HashMap<String, String>,
    stack: &Stack,
) -> Result<Option<HashMap<QueueAttributeName, String>>, StackError> {
    let mut attrs = HashMap::new();
    let Value::Mapping(map) = props else {
        return Ok(Some(attrs));
    };
    for (key, value) in map {
        let key = key.as_str().unwrap_or_default();
        if NON_ATTRIBUTE_QUEUE_PROPERTIES.contains(&key) {
            continue;
        }
        let resolved = if key == "RedrivePolicy" || key == "RedriveAllowPolicy" {
            let Value::Mapping(policy) = value else {
                return Err(StackError::Template(format!("{key} must be a mapping")));
            };
            let mut json = serde_json::Map::new();
            for (k, v) in policy {
                let Some(v) = resolve(v, params, stack)? else {
                    return Ok(None);
                };
                // maxReceiveCount is a number in the JSON SQS expects.
                let v = v.parse::<u64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::String(v));
                json.insert(k.as_str().unwrap_or_default().to_string(), v);
            }
            serde_json::Value::Object(json).to_string()
        } else {
            let Some(v) = resolve(value, params, stack)? else {
                return Ok(None);
            };
            v
        };
        if !QueueAttributeName::values().contains(&key) {
            return Err(StackError::Template(format!("queue property {key} is not a queue attribute")));
        }
        attrs.insert(QueueAttributeName::from(key), resolved);
    }
    Ok(Some(attrs))
}

/// Creates every table and queue of the template under `prefix` (names `{prefix}-{LogicalId}`).
/// `overrides` replace parameter defaults (e.g. a smaller `MaxReceiveCount` in a test).
pub async fn provision(
    sdk: &SdkConfig,
    template: &Template,
    prefix: &str,
    overrides: &HashMap<String, String>,
) -> Result<Stack, StackError> {
    let mut params = template.parameters.clone();
    params.extend(overrides.clone());
    let mut stack = Stack::default();

    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    for (id, props) in template.of_type("AWS::DynamoDB::Table") {
        let name = format!("{prefix}-{id}");
        create_table(&dynamodb, &name, props).await?;
        stack.tables.insert(id.to_string(), name);
    }

    let kms = aws_sdk_kms::Client::new(sdk);
    for (id, props) in template.of_type("AWS::KMS::Key") {
        stack.keys.insert(id.to_string(), create_kms_key(&kms, id, props).await?);
    }

    // Queues may refer to each other (redrive): create those whose references resolve, and
    // repeat until all exist.
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut todo: Vec<(&str, &Value)> = template.of_type("AWS::SQS::Queue").collect();
    while !todo.is_empty() {
        let before = todo.len();
        let mut waiting = Vec::new();
        for (id, props) in todo {
            let Some(attrs) = queue_attributes(props, &params, &stack)? else {
                waiting.push((id, props));
                continue;
            };
            let url = sqs
                .create_queue()
                .queue_name(format!("{prefix}-{id}"))
                .set_attributes(Some(attrs))
                .send()
                .await
                .map_err(aws_err("CreateQueue"))?
                .queue_url
                .unwrap_or_default();
            let arn = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(aws_err("GetQueueAttributes"))?
                .attributes
                .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
                .unwrap_or_default();
            stack.queues.insert(id.to_string(), QueueRef { url, arn });
        }
        if waiting.len() == before {
            let ids: Vec<&str> = waiting.iter().map(|(id, _)| *id).collect();
            return Err(StackError::Template(format!("queues with unresolvable references: {ids:?}")));
        }
        todo = waiting;
    }

    stack.batching = template.event_source_batching(&params)?;
    if let Some(queue) = stack.batching.keys().find(|q| !stack.queues.contains_key(*q)) {
        return Err(StackError::Template(format!(
            "an event source reads {queue}, which is not a queue of the template"
        )));
    }
    Ok(stack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_template() {
        let t = Template::load(&template_path()).expect("template.yaml parses");
        assert_eq!(t.parameters.get("MaxReceiveCount").map(String::as_str), Some("6"));
        assert_eq!(t.of_type("AWS::DynamoDB::Table").count(), 1);
        assert_eq!(t.of_type("AWS::SQS::Queue").count(), 2);
        assert_eq!(t.of_type("AWS::KMS::Key").count(), 1);
        // Every function runs with the global memory size unless it sets its own.
        assert_eq!(t.function_memory_mb("DeliveryFunction"), Some(128));
        assert!(t.properties("HooklineTable").is_some_and(|p| p.get("GlobalSecondaryIndexes").is_some()));
    }

    #[test]
    fn the_static_egress_network_exists_only_when_switched_on_so_the_local_stack_needs_none() {
        // GIVEN the real template
        let t = Template::load(&template_path()).expect("template.yaml parses");
        // THEN StaticEgressIps is off by default, and every EC2 resource (which `provision`
        // does not build: moto's functions have no VPC) is conditional on it
        assert_eq!(t.parameter("StaticEgressIps"), Some("false"));
        let ec2: Vec<_> = t
            .resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str).is_some_and(|ty| ty.starts_with("AWS::EC2::")))
            .collect();
        assert!(ec2.len() >= 20, "the VPC, two AZs' subnets, NAT gateways and EIPs: {}", ec2.len());
        for (id, r) in ec2 {
            assert_eq!(r.get("Condition").and_then(Value::as_str), Some("StaticEgress"), "{id}");
        }
    }

    #[test]
    fn every_function_logs_to_a_group_kept_for_the_retention_parameter_and_the_api_is_throttled() {
        // GIVEN the real template
        let t = Template::load(&template_path()).expect("template.yaml parses");
        let tag = |v: Option<&Value>| match v {
            Some(Value::Tagged(t)) => format!("{} {}", t.tag, t.value.as_str().unwrap_or_default()),
            _ => String::new(),
        };
        // THEN each function names its own log group, whose retention is LogRetentionDays (a
        // group Lambda creates by itself keeps logs forever)
        let functions: Vec<_> = t.of_type("AWS::Serverless::Function").collect();
        assert_eq!(functions.len(), 3);
        for (id, props) in functions {
            let group = tag(props.get("LoggingConfig").and_then(|l| l.get("LogGroup")));
            let group = group.strip_prefix("!Ref ").unwrap_or_else(|| panic!("{id} has no log group of its own"));
            let (_, group_props) = t.of_type("AWS::Logs::LogGroup").find(|(g, _)| *g == group).expect("log group");
            assert_eq!(tag(group_props.get("RetentionInDays")), "!Ref LogRetentionDays", "{id}");
        }
        // AND API Gateway throttles every route with the two parameters
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(template_path()).expect("read")).expect("yaml");
        let route = &doc["Globals"]["HttpApi"]["DefaultRouteSettings"];
        assert_eq!(tag(route.get("ThrottlingRateLimit")), "!Ref ApiThrottlingRateLimit");
        assert_eq!(tag(route.get("ThrottlingBurstLimit")), "!Ref ApiThrottlingBurstLimit");
    }

    #[test]
    fn batching_follows_the_event_sources_of_the_real_template() {
        let t = Template::load(&template_path()).expect("template.yaml parses");
        let batching = t.event_source_batching(&t.parameters).expect("batching");
        // The delivery queue's window is the `DeliveryBatchingWindowSeconds` parameter (1 s).
        assert_eq!(batching["DeliveryQueue"], Batching { max_messages: 50, window: Duration::from_secs(1) });
        // The dead-letter queue's event source sets no window: Lambda's default, none.
        assert_eq!(batching["DeliveryDeadLetterQueue"], Batching { max_messages: 10, window: Duration::ZERO });
        assert_eq!(batching.len(), 2);

        let mut params = t.parameters.clone();
        params.insert("DeliveryBatchingWindowSeconds".into(), "5".into());
        let batching = t.event_source_batching(&params).expect("batching");
        assert_eq!(batching["DeliveryQueue"].window, Duration::from_secs(5), "an override is followed");
        // A window of 0 with batches over 10 is refused, as Lambda refuses it.
        params.insert("DeliveryBatchingWindowSeconds".into(), "0".into());
        let refused = t.event_source_batching(&params).expect_err("no window for a batch of 50");
        assert!(refused.to_string().contains("at least 1"), "{refused}");
    }

    #[test]
    fn event_source_mappings_in_either_syntax_and_unknown_properties() {
        let mapping = |props: &str| {
            format!("Resources:\n  M:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n{props}")
        };
        let t = Template::parse(&mapping(
            "      EventSourceArn:\n        Fn::GetAtt: [Q, Arn]\n      BatchSize: 4\n      MaximumBatchingWindowInSeconds: 2\n",
        ))
        .expect("parses");
        let batching = t.event_source_batching(&HashMap::new()).expect("batching");
        assert_eq!(batching["Q"], Batching { max_messages: 4, window: Duration::from_secs(2) });

        for bad in [
            "      EventSourceArn: !GetAtt Q.Arn\n      FilterCriteria: {}\n",
            "      EventSourceArn: !GetAtt Q.Arn\n      MaximumBatchingWindowInSeconds: 301\n",
            "      EventSourceArn: !GetAtt Q.Arn\n      BatchSize: 0\n",
            "      EventSourceArn: !Ref Q\n",
        ] {
            let t = Template::parse(&mapping(bad)).expect("parses");
            assert!(t.event_source_batching(&HashMap::new()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sam_sqs_event_is_refused_for_its_account_wide_policy() {
        // GIVEN a function triggered by SAM's SQS event (which attaches AWSLambdaSQSQueueExecutionRole)
        let t = Template::parse(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt Q.Arn\n",
        )
        .expect("parses");
        // THEN the local stack refuses the template
        let err = t.event_source_batching(&HashMap::new()).expect_err("refused");
        assert!(err.to_string().contains("EventSourceMapping"), "{err}");
    }

    #[test]
    fn unresolved_references_wait_and_unknown_intrinsics_fail() {
        let t = Template::parse(
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt D.Arn\n        maxReceiveCount: 3\n",
        )
        .expect("parses");
        let (_, props) = t.of_type("AWS::SQS::Queue").next().expect("queue");
        assert!(queue_attributes(props, &HashMap::new(), &Stack::default()).expect("ok").is_none());
        let mut stack = Stack::default();
        stack.queues.insert("D".into(), QueueRef { url: "u".into(), arn: "arn:d".into() });
        let attrs = queue_attributes(props, &HashMap::new(), &stack).expect("ok").expect("resolved");
        assert_eq!(attrs[&QueueAttributeName::RedrivePolicy], r#"{"deadLetterTargetArn":"arn:d","maxReceiveCount":3}"#);

        let bad = Template::parse(
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: !Sub x\n",
        )
        .expect("parses");
        let (_, props) = bad.of_type("AWS::SQS::Queue").next().expect("queue");
        assert!(queue_attributes(props, &HashMap::new(), &Stack::default()).is_err());
    }
}
