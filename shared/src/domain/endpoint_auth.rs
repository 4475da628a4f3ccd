//! How a receiver authenticates Hookline's requests, besides the signatures (pages 003, 004):
//! an API-key header, HTTP Basic auth, and custom static headers. Their values are secrets:
//! stored as given (they must be sent), shown by the API only as hints, never logged.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::domain::error::DomainError;
use crate::domain::limits::{MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_LEN, MAX_HEADERS};
use crate::domain::secret::{self, Secret};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EndpointAuth {
    /// `{header}: {value}` on every request (page 003's API key).
    ApiKey { header: String, value: Secret },
    /// `Authorization: Basic base64(username:password)` (page 004).
    Basic { username: String, password: Secret },
}

/// What the API shows of an endpoint's auth.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Header names no custom header (nor an API-key auth header) may use, compared without case:
/// Hookline sets them itself (`x-source`, body and agent headers), or HTTP gives them a meaning
/// for the connection, the framing, the encoding or a proxy (RFC 9110 §7.6, §10.1.1, §8.4;
/// RFC 7239), which a static value would break or use to mislead the receiver.
pub const RESERVED_HEADER_NAMES: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "content-encoding",
    "accept",
    "user-agent",
    "x-source",
    "transfer-encoding",
    "te",
    "trailer",
    "connection",
    "keep-alive",
    "upgrade",
    "expect",
    "forwarded",
];

/// Prefixes of reserved names: the Standard Webhooks headers (`webhook-id`, ...), proxy
/// headers (`proxy-authorization`, ...) and the forwarded-for family. The deployment's own
/// prefix (`x-hookline-`) is added by the caller.
pub const RESERVED_HEADER_PREFIXES: &[&str] = &["webhook-", "proxy-", "x-forwarded-"];

/// Credentials belong in the webhook's auth, so a custom header may never be this one.
pub const CREDENTIALS_HEADER: &str = "authorization";

fn reserved(name: &str, own_prefixes: &[&str]) -> bool {
    let n = name.to_ascii_lowercase();
    RESERVED_HEADER_NAMES.contains(&n.as_str())
        || RESERVED_HEADER_PREFIXES.iter().chain(own_prefixes).any(|p| n.starts_with(&p.to_ascii_lowercase()))
}

impl EndpointAuth {
    /// The header this auth sets (as given; header names compare without case).
    pub fn header_name(&self) -> &str {
        match self {
            Self::ApiKey { header, .. } => header,
            Self::Basic { .. } => CREDENTIALS_HEADER,
        }
    }
}

/// `valid_name`'s characters (RFC 9110 `tchar`), as the OpenAPI document states them.
pub const HEADER_NAME_PATTERN: &str = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/// `valid_value`'s characters (printable ASCII, spaces too), as the OpenAPI document states them.
pub const HEADER_VALUE_PATTERN: &str = "^[ -~]+$";
/// A basic-auth username: a header value without `:`.
pub const BASIC_USERNAME_PATTERN: &str = "^[ -9;-~]+$";

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

/// Custom headers, judged with the auth they go with: a name may be neither reserved, nor the
/// auth's own header, nor given twice (names differing only in case are one name).
pub fn validate_headers(
    headers: &BTreeMap<String, Secret>,
    auth: Option<&EndpointAuth>,
    reserved_prefixes: &[&str],
) -> Result<(), DomainError> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid("invalid_headers", format!("at most {MAX_HEADERS} custom headers")));
    }
    let mut seen = BTreeSet::new();
    for (name, value) in headers {
        if !valid_name(name) || reserved(name, reserved_prefixes) || name.eq_ignore_ascii_case(CREDENTIALS_HEADER) {
            return Err(invalid("invalid_headers", format!("{name:?} is not a header name Hookline may set")));
        }
        if let Some(auth) = auth
            && name.eq_ignore_ascii_case(auth.header_name())
        {
            return Err(invalid(
                "invalid_headers",
                format!("{name:?} is the header of the webhook's auth; it cannot be a custom header too"),
            ));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(invalid(
                "invalid_headers",
                format!("{name:?} is given twice: header names differing only in case are one name"),
            ));
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
/// The headers a request carries for the endpoint's auth and custom headers. Webhooks saved
/// before names were judged together may hold a custom header that repeats the auth's or
/// another's name: the auth wins, then the first of the custom ones.
pub fn auth_headers(auth: Option<&EndpointAuth>, headers: &BTreeMap<String, Secret>) -> Vec<(String, String)> {
    let mut seen: BTreeSet<String> = auth.map(|a| a.header_name().to_ascii_lowercase()).into_iter().collect();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| seen.insert(k.to_ascii_lowercase()))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.expose().to_string()))
        .collect();
    match auth {
        Some(EndpointAuth::ApiKey { header, value }) => {
            out.push((header.to_ascii_lowercase(), value.expose().to_string()))
        }
        Some(EndpointAuth::Basic { username, password }) => out.push((
            CREDENTIALS_HEADER.into(),
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
        assert_eq!(view, serde_json::json!({"type": "api_key", "header": "X-Api-Key", "value_hint": "…"}));
    }

    fn one(name: &str) -> BTreeMap<String, Secret> {
        BTreeMap::from([(name.to_string(), Secret::new("v".into()))])
    }

    #[test]
    fn reserved_and_malformed_headers_are_refused() {
        for name in [
            "content-type",
            "Host",
            "webhook-signature",
            "x-hookline-topic",
            "bad header",
            "authorization",
            "TE",
            "Upgrade",
            "expect",
            "Content-Encoding",
            "forwarded",
            "Proxy-Authorization",
            "proxy-anything",
            "X-Forwarded-For",
            "x-forwarded-host",
            "keep-alive",
            "trailer",
        ] {
            // GIVEN a custom header of a reserved or malformed name
            // THEN it is refused, whatever its case
            assert_eq!(
                validate_headers(&one(name), None, PREFIXES).expect_err(name).code(),
                "invalid_headers",
                "{name}"
            );
        }
        for name in ["x-tenant", "X-Request-Source", "forwarded-by-us", "x-forwarding", "tea"] {
            assert!(validate_headers(&one(name), None, PREFIXES).is_ok(), "{name} is not reserved");
        }
        let bad_value = BTreeMap::from([("x-ok".to_string(), Secret::new("line\nbreak".into()))]);
        assert!(validate_headers(&bad_value, None, PREFIXES).is_err());
        for header in ["x-hookline-delivery-id", "Upgrade", "proxy-authorization", "X-Forwarded-For"] {
            let auth = EndpointAuth::ApiKey { header: header.into(), value: Secret::new("v".into()) };
            assert_eq!(validate_auth(&auth, PREFIXES).expect_err(header).code(), "invalid_auth", "{header}");
        }
        let basic = EndpointAuth::Basic { username: "a:b".into(), password: Secret::new("p".into()) };
        assert!(validate_auth(&basic, PREFIXES).is_err());
    }

    #[test]
    fn a_custom_header_may_not_repeat_a_name_nor_the_auth_header() {
        // GIVEN two names differing only in case
        let twice = BTreeMap::from([
            ("X-Tenant".to_string(), Secret::new("a".into())),
            ("x-tenant".to_string(), Secret::new("b".into())),
        ]);
        // THEN they are one name given twice
        let err = validate_headers(&twice, None, PREFIXES).expect_err("twice");
        assert_eq!(err.code(), "invalid_headers");
        assert!(err.to_string().contains("twice"), "{err}");
        // GIVEN an API-key auth, a custom header of its name (in another case) is refused
        let key = EndpointAuth::ApiKey { header: "X-Api-Key".into(), value: Secret::new("k".into()) };
        assert_eq!(
            validate_headers(&one("x-api-key"), Some(&key), PREFIXES).expect_err("auth's").code(),
            "invalid_headers"
        );
        assert!(validate_headers(&one("x-other"), Some(&key), PREFIXES).is_ok());
        // AND an API key may be sent as `Authorization` (a bearer token), which is then its header
        let bearer = EndpointAuth::ApiKey { header: "Authorization".into(), value: Secret::new("Bearer t".into()) };
        assert!(validate_auth(&bearer, PREFIXES).is_ok());
        assert_eq!(bearer.header_name(), "Authorization");
        let basic = EndpointAuth::Basic { username: "u".into(), password: Secret::new("p".into()) };
        assert_eq!(basic.header_name(), CREDENTIALS_HEADER);
    }

    #[test]
    fn a_stored_collision_sends_the_auth_header_once() {
        // GIVEN a webhook saved before names were judged together
        let key = EndpointAuth::ApiKey { header: "X-Api-Key".into(), value: Secret::new("real".into()) };
        let headers = BTreeMap::from([
            ("X-API-KEY".to_string(), Secret::new("stale".into())),
            ("X-Tenant".to_string(), Secret::new("a".into())),
            ("x-tenant".to_string(), Secret::new("b".into())),
        ]);
        // WHEN its request headers are made
        let out = auth_headers(Some(&key), &headers);
        // THEN each name appears once, the auth's value winning
        assert_eq!(out, [("x-tenant".to_string(), "a".to_string()), ("x-api-key".to_string(), "real".to_string())]);
    }
}
