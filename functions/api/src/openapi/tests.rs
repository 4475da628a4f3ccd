use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::route_table::{operations_of, routes_in};
use super::*;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

fn committed_path() -> PathBuf {
    workspace().join("docs").join("openapi.json")
}

fn document() -> Value {
    serde_json::from_str(document_json()).expect("the document is JSON")
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, document_json()).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == document_json(),
        "docs/openapi.json is not what the code generates; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p hookline-api openapi` and commit it"
    );
}

/// The Python with the dev tools: `HOOKLINE_PYTHON`, or the workspace's `.venv` (as for moto).
fn python() -> PathBuf {
    std::env::var_os("HOOKLINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv").join("bin").join("python"))
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    // GIVEN the generated document in a file
    let file = std::env::temp_dir().join(format!("hookline-openapi-{}.json", std::process::id()));
    std::fs::write(&file, document_json()).expect("temp file");
    // WHEN openapi-spec-validator (requirements-dev.txt) checks it
    let output = Command::new(python())
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&file)
        .output()
        .expect("run the dev venv's python (`make venv`, or set HOOKLINE_PYTHON)");
    let _ = std::fs::remove_file(&file);
    // THEN it passes
    assert!(
        output.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(document()["openapi"], "3.1.0");
}

/// The console's static pages (HTML, script, style): not part of the JSON API.
const UNDOCUMENTED: &[&str] = &["/console", "/console/", "/console/app.js", "/console/style.css"];

#[test]
fn every_route_of_the_router_is_documented_and_nothing_else() {
    // GIVEN the routes the route table declares
    let routes: BTreeSet<_> = routes_in(include_str!("../routes.rs"))
        .into_iter()
        .chain(routes_in(include_str!("../console.rs")))
        .filter(|(_, path)| !UNDOCUMENTED.contains(&path.as_str()))
        .collect();
    assert!(routes.len() >= 27, "{routes:?}");
    // THEN the document has exactly those operations
    let documented = operations_of(&document());
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(missing.is_empty(), "routes without an #[utoipa::path] in openapi.rs's list: {missing:?}");
    assert!(extra.is_empty(), "documented operations the router does not have: {extra:?}");
}

#[test]
fn every_operation_has_an_id_security_and_typed_errors() {
    let document = document();
    let mut ids = BTreeSet::new();
    for (method, path) in operations_of(&document) {
        let operation = &document["paths"][&path][&method];
        assert!(ids.insert(operation["operationId"].as_str().expect("operationId").to_string()), "{method} {path}");
        assert!(operation["security"].is_array(), "{method} {path}: no security");
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let is_error = status.starts_with('4') || status.starts_with('5');
            let json = &response["content"]["application/json"]["schema"]["$ref"];
            if is_error && !PUBLIC.contains(&path.as_str()) {
                assert_eq!(json, "#/components/schemas/ErrorBody", "{method} {path} {status}");
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    description.contains("error codes: `") || description.starts_with("Error codes: `"),
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[test]
fn refused_unknown_fields_are_closed_in_the_schemas() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    for name in ["CreateWebhook", "UpdateWebhook", "EventRequest", "CreateApiKey", "TestSendRequest"] {
        assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
    }
    // AND each variant of the schemas whose shape depends on a field
    for name in ["Filter", "EndpointAuth"] {
        let variants = schemas[name]["oneOf"].as_array().expect("variants");
        assert!(variants.len() > 1, "{name}");
        for variant in variants {
            assert_eq!(variant["additionalProperties"], false, "{name}: {variant}");
        }
    }
    let create = &schemas["CreateWebhook"];
    let required: BTreeSet<_> =
        create["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
    // `url` is required unless an `integration` says where requests go: the code judges it.
    assert_eq!(required, BTreeSet::from(["name", "topics"]), "{required:?}");
    assert_eq!(create["properties"]["name"]["maxLength"], 100);
    assert_eq!(create["properties"]["topics"]["maxItems"], 50);
}
