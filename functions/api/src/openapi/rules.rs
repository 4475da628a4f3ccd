//! Rules the derive cannot state, written into the document from the constants the
//! validation itself uses: patterns (an attribute takes only a literal), rules on a list's
//! items or a map's keys and values, and schemas whose shape depends on a field (a filter's
//! `value` on its `op`, an auth's fields on its `type`). The contract test (Schemathesis,
//! tests/tests/integration/contract.rs) is what shows that each stated rule is the rule: a
//! value the document allows and the server refuses fails it, and so does the reverse.

use hookline_shared::domain::endpoint_auth::{BASIC_USERNAME_PATTERN, HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN};
use hookline_shared::domain::field_path::FIELD_PATH_PATTERN;
use hookline_shared::domain::integration::catalog::PRESETS;
use hookline_shared::domain::limits::{
    MAX_EMAIL_LEN, MAX_FILTERS, MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_LEN, MAX_HEADERS, MAX_LIST_VALUES, MAX_PATH_LEN,
    MAX_TEMPLATE_LEN, MAX_TOPIC_LEN, MAX_URL_LEN,
};
use hookline_shared::domain::name::{NAME_PATTERN, NOT_BLANK_PATTERN};
use hookline_shared::domain::secret::SECRET_PATTERN;
use hookline_shared::domain::topic::TOPIC_PATTERN;
use hookline_shared::domain::webhook::EMAIL_PATTERN;
use serde_json::{Value, json};

/// Where a pattern applies: to the property's value, or to each item of a list.
#[derive(Clone, Copy)]
enum On {
    Value,
    Items { max_length: usize },
}

const WEBHOOK_BODIES: &[&str] = &["CreateWebhook", "UpdateWebhook"];

/// (schemas, property, where, pattern).
const PATTERNS: &[(&[&str], &str, On, &str)] = &[
    (&["CreateWebhook", "UpdateWebhook", "CreateApiKey"], "name", On::Value, NAME_PATTERN),
    (WEBHOOK_BODIES, "secret", On::Value, SECRET_PATTERN),
    (WEBHOOK_BODIES, "form_key", On::Value, TOPIC_PATTERN),
    (WEBHOOK_BODIES, "topics", On::Items { max_length: MAX_TOPIC_LEN }, TOPIC_PATTERN),
    (WEBHOOK_BODIES, "fields", On::Items { max_length: MAX_PATH_LEN }, FIELD_PATH_PATTERN),
    (WEBHOOK_BODIES, "alert_emails", On::Items { max_length: MAX_EMAIL_LEN }, EMAIL_PATTERN),
    (&["TestSendRequest"], "topic", On::Value, TOPIC_PATTERN),
];

/// Writes the rules into the generated document (JSON, as served).
pub fn state(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    for &(names, property, on, pattern) in PATTERNS {
        for name in names {
            let target = property_of(schemas, name, property);
            let target = match on {
                On::Value => target,
                On::Items { max_length } => {
                    let items = &mut target["items"];
                    items["minLength"] = json!(1);
                    items["maxLength"] = json!(max_length);
                    items
                }
            };
            target["pattern"] = json!(pattern);
        }
    }
    for name in WEBHOOK_BODIES {
        *property_of(schemas, name, "headers") = nullable(headers());
        *property_of(schemas, name, "filters") = nullable(
            json!({"type": "array", "maxItems": MAX_FILTERS, "items": {"$ref": "#/components/schemas/Filter"}}),
        );
    }
    // A grace period is for the secret being replaced, so only with a new one.
    schemas["UpdateWebhook"]["dependentRequired"] = json!({"secret_grace_minutes": ["secret"]});
    *property_of(schemas, "TestSendRequest", "payload") = nullable(test_payload());
    schemas["Filter"] = filter();
    schemas["EndpointAuth"] = endpoint_auth();
    let url = json!({"type": "string", "format": "uri", "maxLength": MAX_URL_LEN});
    schemas["Integration"] = integration(&url);
    let integration_ref = json!({"$ref": "#/components/schemas/Integration"});
    *property_of(schemas, "CreateWebhook", "integration") = nullable(integration_ref.clone());
    *property_of(schemas, "UpdateWebhook", "integration") = nullable(integration_ref);
    schemas["CreateWebhook"]["oneOf"] = where_requests_go_on_create();
    schemas["UpdateWebhook"]["anyOf"] = where_requests_go_on_update();
    let email = json!({"type": "string", "minLength": 1, "maxLength": MAX_EMAIL_LEN, "pattern": EMAIL_PATTERN});
    *parameter_of(document, "/v1/tenants/{tenant_id}/alert-recipients/{email}/resend", "post", "email") = email;
}

fn parameter_of<'a>(document: &'a mut Value, path: &str, method: &str, name: &str) -> &'a mut Value {
    document["paths"][path][method]["parameters"]
        .as_array_mut()
        .and_then(|parameters| parameters.iter_mut().find(|p| p["name"] == name))
        .map(|parameter| &mut parameter["schema"])
        .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"))
}

fn property_of<'a>(schemas: &'a mut Value, schema: &str, property: &str) -> &'a mut Value {
    schemas
        .get_mut(schema)
        .and_then(|s| s.get_mut("properties"))
        .and_then(|p| p.get_mut(property))
        .unwrap_or_else(|| panic!("{schema}.{property}: no such property"))
}

/// Where the field may be sent as `null` (an absent or unchanged setting).
fn nullable(schema: Value) -> Value {
    json!({"oneOf": [schema, {"type": "null"}]})
}

fn header_name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_HEADER_NAME_LEN, "pattern": HEADER_NAME_PATTERN})
}

/// A header value, an auth value or a password: printable ASCII.
fn header_value() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_HEADER_VALUE_LEN, "pattern": HEADER_VALUE_PATTERN})
}

/// Custom headers: names Hookline may set (not `Authorization`, not one of the reserved names
/// or prefixes, not the auth's header, and each once whatever its case: rules beyond a schema,
/// said in the description) to printable values.
fn headers() -> Value {
    json!({
        "type": "object",
        "description": "Custom headers, name to value. A name may not be `Authorization`, a reserved name (`Host`, \
                        `Content-Type`, ...) or prefix (`webhook-`, `proxy-`, `x-forwarded-`, Hookline's own), the \
                        auth's header, or repeat another in a different case. Values are stored sealed and shown as \
                        hints.",
        "maxProperties": MAX_HEADERS,
        "propertyNames": header_name(),
        "additionalProperties": header_value(),
    })
}

/// A filter's `value` depends on its `op`: one closed variant each.
fn filter() -> Value {
    let field = json!({"type": "string", "minLength": 1, "maxLength": MAX_PATH_LEN, "pattern": FIELD_PATH_PATTERN,
        "description": "A field of the flat payload; dots go into objects (`meta.lead_name`)."});
    let variant = |ops: &[&str], value: Value, value_required: bool| {
        let required = if value_required { json!(["field", "op", "value"]) } else { json!(["field", "op"]) };
        json!({
            "type": "object",
            "required": required,
            "properties": {"field": field, "op": {"type": "string", "enum": ops}, "value": value},
            "additionalProperties": false,
        })
    };
    json!({
        "description": "Delivers only events whose field compares as said: `gt`/`gte`/`lt`/`lte` take a number, \
                        `in`/`not_in` a list, `eq`/`ne` any JSON value but null, `exists` `true` (default) or `false`.",
        "oneOf": [
            variant(&["gt", "gte", "lt", "lte"], json!({"type": "number"}), true),
            variant(&["in", "not_in"], json!({"type": "array", "minItems": 1, "maxItems": MAX_LIST_VALUES}), true),
            variant(&["eq", "ne"], json!({"not": {"type": "null"}}), true),
            variant(&["exists"], json!({"type": ["boolean", "null"]}), false),
        ],
    })
}

fn endpoint_auth() -> Value {
    json!({
        "description": "How the endpoint authenticates Hookline: a header of its own, or HTTP basic auth. \
                        Values are stored sealed and shown as hints.",
        "oneOf": [
            {
                "type": "object",
                "description": "`{header}: {value}` on every request (page 003's API key). The header may not be a \
                                reserved name or prefix (as for custom headers).",
                "required": ["type", "header", "value"],
                "properties": {"type": {"type": "string", "enum": ["api_key"]}, "header": header_name(), "value": header_value()},
                "additionalProperties": false,
            },
            {
                "type": "object",
                "description": "`Authorization: Basic base64(username:password)` (page 004).",
                "required": ["type", "username", "password"],
                "properties": {
                    "type": {"type": "string", "enum": ["basic"]},
                    "username": {"type": "string", "minLength": 1, "maxLength": MAX_HEADER_VALUE_LEN, "pattern": BASIC_USERNAME_PATTERN},
                    "password": header_value(),
                },
                "additionalProperties": false,
            },
        ],
    })
}

/// A test send's own payload, as an event's: `data` and, optionally, `context`.
fn test_payload() -> Value {
    json!({
        "type": "object",
        "description": "`{\"context\"?: {...}, \"data\": {...}}`; default: the topic's sample from the catalog.",
        "required": ["data"],
        "properties": {"context": {"type": ["object", "null"]}, "data": {"type": "object"}},
        "additionalProperties": false,
    })
}

/// The preset whose endpoint is the tenant's own: signed, and with the webhook's auth and
/// custom headers; every other preset is a tool that authenticates by its own settings.
const TENANT_ENDPOINT_PRESET: &str = "template";

fn tool_presets() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.id).filter(|id| *id != TENANT_ENDPOINT_PRESET).collect()
}

/// A webhook's `integration`: one closed variant per preset of the catalog, each setting by
/// what it holds.
fn integration(url: &Value) -> Value {
    let variants: Vec<Value> = PRESETS
        .iter()
        .map(|preset| {
            let mut properties = serde_json::Map::new();
            properties.insert("type".into(), json!({"type": "string", "enum": [preset.id]}));
            let mut required = vec!["type"];
            for setting in preset.settings {
                let schema = match setting.name {
                    "url" => url.clone(),
                    "template" => json!({"type": "string", "minLength": 1, "maxLength": MAX_TEMPLATE_LEN,
                        "pattern": NOT_BLANK_PATTERN, "description": "minijinja, rendering JSON"}),
                    "api_key" | "write_key" => header_value(),
                    field if field.ends_with("_field") => {
                        json!({"type": "string", "minLength": 1, "maxLength": MAX_PATH_LEN, "pattern": FIELD_PATH_PATTERN})
                    }
                    other => panic!("{}.{other}: say in rules.rs what this setting holds", preset.id),
                };
                let mut schema = schema;
                schema["description"] = json!(setting.description);
                properties.insert(setting.name.into(), schema);
                if setting.required {
                    required.push(setting.name);
                }
            }
            json!({"type": "object", "title": preset.name, "description": preset.description,
                "required": required, "properties": properties, "additionalProperties": false})
        })
        .collect();
    json!({"description": "`{\"type\": \"<preset id>\", ...its settings}`: a preset of `GET /v1/integrations`. \
                           Secret settings are stored sealed and shown as hints.", "oneOf": variants})
}

/// No custom headers: `null` or `{}`.
fn no_headers() -> Value {
    json!({"oneOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}]})
}

/// A new webhook says where requests go once: a `url`, or an integration (a tool's takes
/// neither the endpoint auth nor custom headers).
fn where_requests_go_on_create() -> Value {
    json!([
        {"required": ["url"], "properties": {"url": {"type": "string"}, "integration": {"type": "null"}}},
        {"required": ["integration"], "properties": {"url": {"type": "null"},
            "integration": {"type": "object", "properties": {"type": {"enum": [TENANT_ENDPOINT_PRESET]}}}}},
        {"required": ["integration"], "properties": {"url": {"type": "null"},
            "integration": {"type": "object", "properties": {"type": {"enum": tool_presets()}}},
            "auth": {"type": "null"}, "headers": no_headers()}},
    ])
}

/// A change gives a `url` or an integration, not both; removing the integration (`null`)
/// needs a `url`; a tool's integration comes without endpoint auth and custom headers. "Not
/// given" is said by `propertyNames`, which generators read (they refuse `false` and `not`
/// with `required`). (What conflicts only with the stored webhook is a 409, which no schema
/// of a change says.)
fn where_requests_go_on_update() -> Value {
    let without = |property: &str| json!({"not": {"const": property}});
    json!([
        {"propertyNames": without("integration")},
        {"required": ["integration", "url"], "properties": {"integration": {"type": "null"}, "url": {"type": "string"}}},
        {"required": ["integration"], "propertyNames": without("url"),
            "properties": {"integration": {"type": "object", "properties": {"type": {"enum": [TENANT_ENDPOINT_PRESET]}}}}},
        {"required": ["integration"], "propertyNames": without("url"),
            "properties": {"integration": {"type": "object", "properties": {"type": {"enum": tool_presets()}}},
            "auth": {"type": "null"}, "headers": no_headers()}},
    ])
}
