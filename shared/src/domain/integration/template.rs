//! Request templates: a webhook's JSON body written as a template over the event, in a
//! sandboxed engine (minijinja). The sandbox:
//!
//! - no file or network access: the engine has no loader (templates cannot include or import
//!   others) and no function that reaches outside the values it is given;
//! - bounded time and memory: a fuel budget per render (`TEMPLATE_FUEL`: the engine stops
//!   with "out of fuel" past it, so `{% for i in range(10**9) %}` ends), a nesting limit
//!   (`TEMPLATE_RECURSION_LIMIT`) and an output cap (`MAX_TEMPLATE_OUTPUT_BYTES`) enforced
//!   while writing;
//! - JSON by construction: every `{{ expression }}` is written as JSON (strings quoted and
//!   escaped, objects and lists whole), so an event's value cannot break out of its place in
//!   the body. The whole output must then parse as JSON, or the attempt fails.
//!
//! The template sees `topic`, `event_type` (the topic with the webhook's prefix),
//! `occurred_at`, `context`, `data` and `delivery_id`.

use std::io;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::error::DomainError;
use crate::domain::limits::{MAX_TEMPLATE_LEN, MAX_TEMPLATE_OUTPUT_BYTES, TEMPLATE_FUEL, TEMPLATE_RECURSION_LIMIT};

/// What a template can read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateInput<'a> {
    pub topic: &'a str,
    pub event_type: &'a str,
    pub occurred_at: &'a str,
    pub context: &'a Map<String, Value>,
    pub data: &'a Map<String, Value>,
    pub delivery_id: &'a str,
}

/// The one sandboxed environment every template is compiled and rendered in.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_recursion_limit(TEMPLATE_RECURSION_LIMIT);
    env
}

/// Where in the source an engine error points, as "line L, column C" (1-based).
fn position(source: &str, e: &minijinja::Error) -> String {
    match (e.line(), e.range()) {
        (_, Some(range)) => {
            let before = &source[..range.start.min(source.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
            format!("line {line}, column {column}")
        }
        (Some(line), None) => format!("line {line}"),
        (None, None) => "the template".to_string(),
    }
}

fn reason(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// Checks a template when it is saved: its size and its syntax. `invalid_template`, with
/// the reason and where, otherwise.
pub fn check(source: &str) -> Result<(), DomainError> {
    if source.trim().is_empty() || source.chars().count() > MAX_TEMPLATE_LEN {
        return Err(DomainError::invalid(
            "invalid_template",
            format!("template must be 1 to {MAX_TEMPLATE_LEN} characters, not only white space"),
        ));
    }
    let env = environment();
    env.template_from_str(source).map(|_| ()).map_err(|e| {
        DomainError::invalid("invalid_template", format!("template {}: {}", position(source, &e), reason(&e)))
    })
}

/// A writer that refuses to grow past the output cap (and remembers that it did).
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    over: bool,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_TEMPLATE_OUTPUT_BYTES {
            self.over = true;
            return Err(io::Error::other("output cap"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Renders `source` over `input` into a JSON body. The error says why, in words for the
/// delivery log (the template's position included when the engine gives one).
pub fn render(source: &str, input: &TemplateInput<'_>) -> Result<Vec<u8>, String> {
    let env = environment();
    let template =
        env.template_from_str(source).map_err(|e| format!("template {}: {}", position(source, &e), reason(&e)))?;
    let mut out = Capped::default();
    let rendered = template.render_captured_to(minijinja::Value::from(minijinja::value::Serde(input)), &mut out);
    if let Err(e) = rendered {
        return Err(match e.kind() {
            _ if out.over => format!("template output is over its cap of {MAX_TEMPLATE_OUTPUT_BYTES} bytes"),
            ErrorKind::OutOfFuel => format!("template stopped: it ran past its budget of {TEMPLATE_FUEL} steps"),
            _ => format!("template {}: {}", position(source, &e), reason(&e)),
        });
    }
    let body = out.bytes;
    serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("template output is not valid JSON ({e}); it begins {:?}", excerpt(&body)))?;
    Ok(body.trim_ascii().to_vec())
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(80).collect()
}

#[cfg(test)]
mod tests;
