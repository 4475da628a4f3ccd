//! Reading back what moto's SES sent: raw messages (`SendRawEmail`, as Hookline sends them)
//! parsed into their headers and decoded parts, so tests read what a mail client would.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub subject: String,
    /// Every header of the message, unfolded, in order.
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.text.find(prefix)?;
        let rest = &self.text[start..];
        Some(rest.split_whitespace().next().unwrap_or(rest).to_string())
    }
}

fn split_head(raw: &str) -> (&str, &str) {
    raw.split_once("\r\n\r\n").or_else(|| raw.split_once("\n\n")).unwrap_or((raw, ""))
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// RFC 2047 `=?UTF-8?B?…?=` words, joined.
fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    value
        .split_whitespace()
        .map(|w| {
            w.strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .and_then(|b| STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|| w.to_string())
        })
        .collect()
}

/// A raw `multipart/alternative` message with base64 parts.
pub fn parse(raw: &str) -> Mail {
    let (head, body) = split_head(raw);
    let headers = parse_headers(head);
    let mut mail = Mail { headers, ..Mail::default() };
    mail.subject = decode_words(mail.header("subject").unwrap_or_default());
    let content_type = mail.header("content-type").unwrap_or_default().to_string();
    let Some(boundary) = content_type.split("boundary=").nth(1).map(|b| b.trim_matches('"').to_string()) else {
        return mail;
    };
    for part in body.split(&format!("--{boundary}")) {
        let (part_head, part_body) = split_head(part.trim_start_matches(['\r', '\n']));
        let part_headers = parse_headers(part_head);
        let kind = part_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.clone());
        let compact: String = part_body.chars().filter(|c| !c.is_whitespace()).collect();
        let decoded = STANDARD.decode(compact).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        match kind.as_deref() {
            Some(k) if k.starts_with("text/plain") => mail.text = decoded,
            Some(k) if k.starts_with("text/html") => mail.html = decoded,
            _ => {}
        }
    }
    mail
}
