//! Extractors whose rejections are the API's JSON errors (axum's own answer in plain text).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use hookline_shared::domain::json_depth::PARSER_MAX_DEPTH;
use hookline_shared::domain::limits::{MAX_BODY_BYTES, MAX_PAYLOAD_DEPTH};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body: size-limited (the router's `DefaultBodyLimit`), `application/json` if a
/// content type is given, and parsed with errors that say what is wrong.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let essence = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn body_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body must be at most {MAX_BODY_BYTES} bytes"),
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", "the request body could not be read")
    }
}

/// Parses a request body into `T`. The top-level value must be an object: serde reads a struct
/// from a JSON array too, by position, so `[]` passed for an empty PATCH and
/// `["n", "https://…", ["t"]]` for a create. A byte check, so a valid body is parsed once.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if first_token(bytes) != Some(b'{') {
        return Err(not_an_object(bytes));
    }
    serde_json::from_slice(bytes).map_err(json_error)
}

/// The first byte after JSON's insignificant whitespace.
fn first_token(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// The error for a body that does not start with `{`: still `invalid_json` when it is not JSON
/// at all (checked without building a value), so broken bodies keep their code.
fn not_an_object(bytes: &[u8]) -> ApiError {
    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Err(e) => json_error(e),
        Ok(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", "the body must be a JSON object"),
    }
}

fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    // Valid JSON, only deeper than any body may be: say so, and name the events' limit (the
    // one any caller meets first; the parser's own is far past it).
    if e.to_string().starts_with("recursion limit exceeded") {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_payload",
            format!(
                "the body nests more than {PARSER_MAX_DEPTH} levels deep; an event's context and data may nest at most {MAX_PAYLOAD_DEPTH}"
            ),
        );
    }
    match e.classify() {
        Category::Data => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {e}"))
        }
    }
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = req.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v != "0")
            || req.headers().contains_key(header::TRANSFER_ENCODING);
        if !has_body {
            return Ok(Self(T::default()));
        }
        JsonBody::<T>::from_request(req, state).await.map(|JsonBody(v)| Self(v))
    }
}

/// Path parameters; a rejection (bad percent-encoding) is a 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))
    }
}

/// The query of a route that takes no parameters: any is a 400 `invalid_query`, as an unknown
/// one is on routes that take some, so a misspelt option is never silently ignored.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Query parameters; unknown or malformed ones are a 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    /// Every field optional, as in a PATCH: the case where a sequence would have been read.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Patch {
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Create {
        name: String,
        url: String,
        topics: Vec<String>,
    }

    fn code_of<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> &'static str {
        let e = parse_json::<T>(body.as_bytes()).expect_err(body);
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(!e.message.is_empty());
        e.code
    }

    #[test]
    fn objects_are_read() {
        assert_eq!(parse_json::<Patch>(b"{}").expect("empty object").name, None);
        assert_eq!(parse_json::<Patch>(b" \r\n\t{\"name\": \"n\"} ").expect("padded").name.as_deref(), Some("n"));
        let c = parse_json::<Create>(br#"{"name": "n", "url": "https://example.com/h", "topics": ["t"]}"#).expect("ok");
        assert_eq!(
            (c.name.as_str(), c.url.as_str(), c.topics.as_slice()),
            ("n", "https://example.com/h", &["t".into()][..])
        );
    }

    #[test]
    fn any_other_top_level_value_is_invalid_request() {
        for body in [r#"[]"#, r#"["n", "https://example.com/h", ["coupon_create"]]"#, r#""x""#, "1", "null", " [ ] "] {
            assert_eq!(code_of::<Patch>(body), "invalid_request", "{body}");
            assert_eq!(code_of::<Create>(body), "invalid_request", "{body}");
        }
        let e = parse_json::<Patch>(b"[]").expect_err("array");
        assert_eq!(e.message, "the body must be a JSON object");
    }

    #[test]
    fn broken_json_stays_invalid_json() {
        for body in ["", "   ", "not json", "[1,", "{,}", "\u{feff}{}", "{} x", "[] x", "{\"name\": "] {
            assert_eq!(code_of::<Patch>(body), "invalid_json", "{body:?}");
        }
    }

    #[test]
    fn a_body_deeper_than_the_parser_reads_is_invalid_payload_naming_the_limit() {
        // GIVEN a valid JSON body nesting one level past what the parser reads
        let body = format!("{{\"name\": {}{}}}", "[".repeat(PARSER_MAX_DEPTH), "]".repeat(PARSER_MAX_DEPTH));
        // THEN it is refused as a payload too deep, not as broken JSON
        let e = parse_json::<serde_json::Value>(body.as_bytes()).expect_err("too deep");
        assert_eq!(e.code, "invalid_payload");
        assert!(e.message.contains(&format!("at most {MAX_PAYLOAD_DEPTH}")), "{}", e.message);
    }

    #[test]
    fn a_wrong_field_is_invalid_request_with_serdes_message() {
        let e = parse_json::<Patch>(br#"{"name": 5}"#).expect_err("wrong type");
        assert_eq!(e.code, "invalid_request");
        assert!(e.message.contains("invalid type"), "{}", e.message);
    }
}
