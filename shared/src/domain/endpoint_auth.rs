//! How a receiver authenticates Hookline's requests, besides the signatures (pages 003, 004):
//! an API-key header, HTTP Basic auth, and custom static headers. Their values are secrets:
//! stored as given (they must be sent), shown by the API only as hints, never logged.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::domain::error::DomainError;
use crate::domain::limits::{MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_LEN, MAX_HEADERS};
use crate::domain::secret::{self, Secret};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EndpointAuth {
    /// `{header}: {value}` on every request (page 003's API key).
    ApiKey { header: String, value: Secret },
    /// `Authorization: Basic base64(username:password)` (page 004).
    Basic { username: String, password: Secret },
}

/// What the API shows of an endpoint's auth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EndpointAuthView {
    ApiKey { header: String, value_hint: String },
    Basic { username: String, password_hint: String },
}

impl From<&EndpointAuth> for EndpointAuthView {
    fn from(a: &EndpointAuth) -> Self {
        match a {
            EndpointAuth::ApiKey { header, value } => {
                Self::ApiKey { header: header.clone(), value_hint: secret::hint(value.expose()) }
            }
            EndpointAuth::Basic { username, password } => {
                Self::Basic { username: username.clone(), password_hint: secret::hint(password.expose()) }
            }
        }
    }
}

/// Header names Hookline sets itself (or HTTP owns), which custom headers may not replace.
fn reserved(name: &str, prefix_headers: &[&str]) -> bool {
    let n = name.to_ascii_lowercase();
    ["host", "content-type", "content-length", "accept", "user-agent", "transfer-encoding", "connection", "x-source"]
        .contains(&n.as_str())
        || n.starts_with("webhook-")
        || prefix_headers.iter().any(|p| n.starts_with(p))
}

fn valid_name(name: &str) -> bool {
    (1..=MAX_HEADER_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_value(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_HEADER_VALUE_LEN && value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn invalid(code: &'static str, message: String) -> DomainError {
    DomainError::invalid(code, message)
}

/// `reserved_prefixes`: Hookline's own header prefixes (e.g. `x-hookline-`).
pub fn validate_auth(auth: &EndpointAuth, reserved_prefixes: &[&str]) -> Result<(), DomainError> {
    match auth {
        EndpointAuth::ApiKey { header, value } => {
            if !valid_name(header) || reserved(header, reserved_prefixes) {
                return Err(invalid(
                    "invalid_auth",
                    format!("auth header {header:?} is not a header name Hookline may set"),
                ));
            }
            if !valid_value(value.expose()) {
                return Err(invalid("invalid_auth", "auth value must be 1 to 1024 printable ASCII characters".into()));
            }
        }
        EndpointAuth::Basic { username, password } => {
            if username.is_empty()
                || username.contains(':')
                || !valid_value(username)
                || !valid_value(password.expose())
            {
                return Err(invalid(
                    "invalid_auth",
                    "basic auth needs a username without ':' and a password, printable ASCII".into(),
                ));
            }
        }
    }
    Ok(())
}

pub fn validate_headers(headers: &BTreeMap<String, Secret>, reserved_prefixes: &[&str]) -> Result<(), DomainError> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid("invalid_headers", format!("at most {MAX_HEADERS} custom headers")));
    }
    for (name, value) in headers {
        if !valid_name(name) || reserved(name, reserved_prefixes) || name.eq_ignore_ascii_case("authorization") {
            return Err(invalid("invalid_headers", format!("{name:?} is not a header name Hookline may set")));
        }
        if !valid_value(value.expose()) {
            return Err(invalid(
                "invalid_headers",
                format!("the value of {name:?} must be 1 to 1024 printable ASCII characters"),
            ));
        }
    }
    Ok(())
}

/// The headers a request carries for the endpoint's auth and custom headers.
pub fn auth_headers(auth: Option<&EndpointAuth>, headers: &BTreeMap<String, Secret>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.expose().to_string())).collect();
    match auth {
        Some(EndpointAuth::ApiKey { header, value }) => {
            out.push((header.to_ascii_lowercase(), value.expose().to_string()))
        }
        Some(EndpointAuth::Basic { username, password }) => out.push((
            "authorization".into(),
            format!("Basic {}", STANDARD.encode(format!("{username}:{}", password.expose()))),
        )),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIXES: &[&str] = &["x-hookline-"];

    #[test]
    fn basic_auth_header_known_answer() {
        let auth = EndpointAuth::Basic { username: "Aladdin".into(), password: Secret::new("open sesame".into()) };
        assert_eq!(
            auth_headers(Some(&auth), &BTreeMap::new()),
            [("authorization".to_string(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_string())]
        );
    }

    #[test]
    fn api_key_and_custom_headers() {
        let auth = EndpointAuth::ApiKey { header: "X-Api-Key".into(), value: Secret::new("k-123".into()) };
        let headers = BTreeMap::from([("X-Tenant".to_string(), Secret::new("acme".into()))]);
        let out = auth_headers(Some(&auth), &headers);
        assert!(out.contains(&("x-api-key".into(), "k-123".into())));
        assert!(out.contains(&("x-tenant".into(), "acme".into())));
        let view = serde_json::to_value(EndpointAuthView::from(&auth)).expect("json");
        assert_eq!(view, serde_json::json!({"type": "api_key", "header": "X-Api-Key", "value_hint": "…-123"}));
    }

    #[test]
    fn reserved_and_malformed_headers_are_refused() {
        for name in ["content-type", "Host", "webhook-signature", "x-hookline-topic", "bad header", "authorization"] {
            let h = BTreeMap::from([(name.to_string(), Secret::new("v".into()))]);
            assert_eq!(validate_headers(&h, PREFIXES).expect_err(name).code(), "invalid_headers", "{name}");
        }
        let bad_value = BTreeMap::from([("x-ok".to_string(), Secret::new("line\nbreak".into()))]);
        assert!(validate_headers(&bad_value, PREFIXES).is_err());
        let auth = EndpointAuth::ApiKey { header: "x-hookline-delivery-id".into(), value: Secret::new("v".into()) };
        assert_eq!(validate_auth(&auth, PREFIXES).expect_err("reserved").code(), "invalid_auth");
        let basic = EndpointAuth::Basic { username: "a:b".into(), password: Secret::new("p".into()) };
        assert!(validate_auth(&basic, PREFIXES).is_err());
    }
}
