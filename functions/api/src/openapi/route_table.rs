//! The route table read from its source, and a document's operations: what the tests compare
//! so that a route without documentation fails. Shared with the integration tests (`#[path]`).

use std::collections::BTreeSet;

use serde_json::Value;

/// The `(method, path)` of every `.route(..)` in a source file: its path literal, and each
/// `get(`, `post(`, … method router in its second argument.
pub fn routes_in(source: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for call in source.split(".route(").skip(1) {
        let Some(rest) = call.trim_start().strip_prefix('"') else { continue };
        let Some((path, rest)) = rest.split_once('"') else { continue };
        // The rest of the call: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let args = &rest[..end];
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0 || !args[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            });
            if called {
                routes.insert((method.to_string(), path.to_string()));
            }
        }
    }
    routes
}

/// Every operation of the document, as `(method, path)`.
pub fn operations_of(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.insert((method.to_string(), path.clone()));
            }
        }
    }
    operations
}
