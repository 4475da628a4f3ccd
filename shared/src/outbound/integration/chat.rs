//! Chat messages (Slack incoming webhooks, Discord webhooks): one readable line with the
//! topic (with the webhook's prefix) and when it happened, then the event's key fields, one a
//! line: the fields the webhook selects, or else the first scalar fields of its `data`.
//! Event values are escaped so they read as text, never as mentions or links.

use serde_json::{Map, Value, json};

use super::event::{PresetEvent, lookup, text};

/// Fields listed when the webhook selects none, and the longest value shown.
pub const MAX_CHAT_FIELDS: usize = 10;
pub const MAX_CHAT_VALUE_CHARS: usize = 200;
/// Discord refuses a message `content` over 2000 characters.
pub const DISCORD_MAX_CONTENT: usize = 2000;

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_CHAT_VALUE_CHARS {
        return s.to_string();
    }
    let cut: String = s.chars().take(MAX_CHAT_VALUE_CHARS - 1).collect();
    format!("{cut}…")
}

/// The (name, value) pairs a message lists.
pub fn key_fields(event: &PresetEvent<'_>) -> Vec<(String, String)> {
    match event.options.fields {
        Some(paths) => {
            let flat = event.flat();
            paths.iter().filter_map(|p| lookup(&flat, p).map(|v| (p.clone(), shorten(&text(v))))).collect()
        }
        None => scalars(&event.event.payload.data),
    }
}

fn scalars(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array() && !v.is_null() && v.as_str() != Some(""))
        .take(MAX_CHAT_FIELDS)
        .map(|(k, v)| (k.clone(), shorten(&text(v))))
        .collect()
}

/// Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn slack_body(event: &PresetEvent<'_>) -> Value {
    let mut lines = vec![format!("*{}* at {}", slack_escape(&event.event_type()), event.event.occurred_at)];
    for (k, v) in key_fields(event) {
        lines.push(format!("• *{}*: {}", slack_escape(&k), slack_escape(&v)));
    }
    json!({"text": lines.join("\n")})
}

/// Discord's markdown characters, escaped so values read as typed.
fn discord_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '-' | '[' | ']' | '(' | ')' | '@' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub fn discord_body(event: &PresetEvent<'_>) -> Value {
    let mut lines = vec![format!("**{}** at {}", discord_escape(&event.event_type()), event.event.occurred_at)];
    for (k, v) in key_fields(event) {
        lines.push(format!("• **{}**: {}", discord_escape(&k), discord_escape(&v)));
    }
    let content: String = lines.join("\n").chars().take(DISCORD_MAX_CONTENT).collect();
    // No @everyone, role or user pings from event data, whatever it holds.
    json!({"content": content, "allowed_mentions": {"parse": []}})
}
