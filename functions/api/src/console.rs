//! The tenant console (issue 10): three static files embedded in the binary, so the api
//! function serves them itself, from the same origin as the `/v1` API they call. No CDN, no
//! build step.
//!
//! Every answer carries a strict Content-Security-Policy: scripts and styles only from these
//! files (no inline code, no eval), requests only to this origin, and framing only by the
//! origins the deployment lists (with none, `frame-ancestors 'none'` and, for older browsers,
//! `X-Frame-Options: DENY`). `no-cache` makes browsers revalidate, so a new deployment's
//! console is picked up at once.

use axum::Router;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use hookline_shared::domain::console::valid_origin;

const INDEX_HTML: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const STYLE_CSS: &str = include_str!("../console/style.css");

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The console's routes: `GET /console/` and its two assets, and `/console` sent on to
/// `/console/` (the assets are addressed relative to it). `frame_ancestors`: the origins
/// whose pages may show the console in an iframe (checked at start-up; any that is not a
/// plain origin is left out here too, so it can never add a directive).
pub fn console_routes<S: Clone + Send + Sync + 'static>(frame_ancestors: &[String]) -> Router<S> {
    let headers = security_headers(frame_ancestors);
    let redirect_headers = headers.clone();
    Router::new()
        .route("/console", get(move |uri: Uri| async move { (redirect_headers, to_console(&uri)) }))
        .route("/console/", asset(INDEX_HTML, HTML, &headers))
        .route("/console/app.js", asset(APP_JS, JAVASCRIPT, &headers))
        .route("/console/style.css", asset(STYLE_CSS, CSS, &headers))
}

/// The CSP for these pages.
pub fn content_security_policy(frame_ancestors: &[String]) -> String {
    let ancestors = allowed_ancestors(frame_ancestors);
    let frame = if ancestors.is_empty() { "'none'".to_string() } else { ancestors.join(" ") };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {frame}"
    )
}

fn allowed_ancestors(frame_ancestors: &[String]) -> Vec<&str> {
    frame_ancestors
        .iter()
        .map(String::as_str)
        .filter(|origin| {
            let ok = valid_origin(origin);
            if !ok {
                tracing::warn!(origin, "console frame ancestor ignored: not an origin");
            }
            ok
        })
        .collect()
}

fn security_headers(frame_ancestors: &[String]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    // Valid origins are ASCII without control characters, so the value always parses.
    let csp = HeaderValue::from_str(&content_security_policy(frame_ancestors))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if allowed_ancestors(frame_ancestors).is_empty() {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers
}

fn asset<S: Clone + Send + Sync + 'static>(
    body: &'static str,
    content_type: &'static str,
    headers: &HeaderMap,
) -> MethodRouter<S> {
    let mut headers = headers.clone();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    get(move || async move { (headers, body) })
}

/// `/console` → `console/` (relative, so a base path in front of the API is kept), with the
/// query string: a console link may carry one.
fn to_console(uri: &Uri) -> Response {
    let location = match uri.query() {
        Some(query) => format!("console/?{query}"),
        None => "console/".to_string(),
    };
    match HeaderValue::from_str(&location) {
        Ok(value) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, value)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    const STRICT: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                          connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    async fn get_from(frame_ancestors: &[&str], uri: &str) -> (StatusCode, HeaderMap, String) {
        let origins: Vec<String> = frame_ancestors.iter().map(|o| o.to_string()).collect();
        let request = Request::builder().uri(uri).body(Body::empty()).expect("request");
        let response = console_routes::<()>(&origins).oneshot(request).await.expect("answer");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (parts.status, parts.headers, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    async fn get(uri: &str) -> (StatusCode, HeaderMap, String) {
        get_from(&[], uri).await
    }

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    #[tokio::test]
    async fn each_asset_is_served_with_its_type_and_the_strict_headers() {
        for (uri, content_type, body) in [
            ("/console/", HTML, INDEX_HTML),
            ("/console/app.js", JAVASCRIPT, APP_JS),
            ("/console/style.css", CSS, STYLE_CSS),
        ] {
            // GIVEN a deployment that lists no frame ancestors
            // WHEN an asset is fetched
            let (status, headers, text) = get(uri).await;
            // THEN it comes whole, typed, and fenced by the CSP and its companions
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(text, body, "{uri}");
            assert_eq!(header(&headers, "content-type"), content_type, "{uri}");
            assert_eq!(header(&headers, "content-security-policy"), STRICT, "{uri}");
            assert_eq!(header(&headers, "x-content-type-options"), "nosniff", "{uri}");
            assert_eq!(header(&headers, "referrer-policy"), "no-referrer", "{uri}");
            assert_eq!(header(&headers, "x-frame-options"), "DENY", "{uri}");
            assert_eq!(header(&headers, "cache-control"), "no-cache", "{uri}");
        }
    }

    #[tokio::test]
    async fn listed_origins_may_frame_the_console() {
        // GIVEN two origins allowed to embed the console
        let (_, headers, _) = get_from(&["https://app.example.com", "http://localhost:3000"], "/console/").await;
        // THEN the CSP names exactly them, and X-Frame-Options (which cannot) is left out
        let csp = header(&headers, "content-security-policy");
        assert!(csp.ends_with("; frame-ancestors https://app.example.com http://localhost:3000"), "{csp}");
        assert!(csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self';"), "{csp}");
        assert!(headers.get("x-frame-options").is_none());
    }

    #[tokio::test]
    async fn a_value_that_is_not_an_origin_cannot_widen_the_policy() {
        // GIVEN a listed value smuggling a directive in, beside a real origin
        let (_, headers, _) =
            get_from(&["https://a.example.com; script-src *", "https://ok.example.com"], "/console/").await;
        let csp = header(&headers, "content-security-policy");
        // THEN only the real origin is named
        assert!(csp.ends_with("frame-ancestors https://ok.example.com"), "{csp}");
        assert!(!csp.contains("script-src *"), "{csp}");
        // AND with nothing valid left, framing is refused outright
        let (_, headers, _) = get_from(&["*"], "/console/app.js").await;
        assert_eq!(header(&headers, "content-security-policy"), STRICT);
        assert_eq!(header(&headers, "x-frame-options"), "DENY");
    }

    #[tokio::test]
    async fn the_bare_path_redirects_relatively_and_keeps_the_query() {
        let (status, headers, _) = get("/console").await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(header(&headers, "location"), "console/");
        assert_eq!(header(&headers, "content-security-policy"), STRICT);
        let (_, headers, _) = get("/console?token=abc").await;
        assert_eq!(header(&headers, "location"), "console/?token=abc");
    }

    #[tokio::test]
    async fn other_paths_are_not_the_consoles() {
        let (status, _, _) = get("/console/index.html").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    /// Known answers of the delivery renderer, which app.js's live preview mirrors rule for rule.
    const RENDER_CASES: &str = include_str!("../console/render-cases.json");

    #[test]
    fn the_preview_known_answers_are_what_deliveries_carry() {
        use hookline_shared::domain::event::EventPayload;
        use hookline_shared::outbound::render::{EventView, RenderOptions, render};
        use serde_json::Value;

        let file: Value = serde_json::from_str(RENDER_CASES).expect("render-cases.json");
        let cases = file["cases"].as_array().expect("cases");
        assert!(cases.len() >= 8);
        for case in cases {
            // GIVEN a sample as GET /v1/topics shows it, and a webhook's render options
            let sample: Value = serde_json::from_str(case["sample"].as_str().expect("sample")).expect("json");
            let payload = EventPayload {
                context: sample["context"].as_object().cloned().unwrap_or_default(),
                data: sample["data"].as_object().cloned().expect("data"),
            };
            let fields: Option<Vec<String>> = serde_json::from_value(case["fields"].clone()).expect("fields");
            let options = RenderOptions {
                format: serde_json::from_value(case["format"].clone()).expect("format"),
                event_prefix: case["event_prefix"].as_str(),
                fields: fields.as_deref(),
                form_key: case["form_key"].as_str().expect("form_key"),
            };
            let topic = case["topic"].as_str().expect("topic");
            let event =
                EventView { topic, occurred_at: case["occurred_at"].as_str().expect("time"), payload: &payload };
            // WHEN the delivery side renders it
            let body = render(&[event], &options);
            // THEN it is the recorded answer (if render.rs changed on purpose, app.js's
            // renderBody must change with it, and this file be recorded again)
            assert_eq!(body.content_type, case["content_type"], "{topic}");
            assert_eq!(String::from_utf8(body.bytes).expect("utf-8"), case["body"], "{topic} {:?}", options.format);
        }
    }

    /// The attributes of every tag of an HTML document: (tag name, attribute name, value).
    fn attributes(html: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            if tag.starts_with('!') || tag.starts_with('/') {
                continue;
            }
            let mut chars = tag.chars().peekable();
            let name: String = chars.by_ref().take_while(|c| !c.is_whitespace()).collect();
            loop {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                let attr: String = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace() && *c != '=')).collect();
                if attr.is_empty() {
                    break;
                }
                let mut value = String::new();
                if chars.next_if_eq(&'=').is_some() {
                    let quote = chars.next_if(|c| *c == '"' || *c == '\'');
                    value = std::iter::from_fn(|| chars.next_if(|c| quote.map_or(!c.is_whitespace(), |q| *c != q)))
                        .collect();
                    chars.next_if(|c| Some(*c) == quote);
                }
                out.push((name.to_ascii_lowercase(), attr.to_ascii_lowercase(), value));
            }
        }
        out
    }

    #[test]
    fn the_page_has_no_inline_code_or_style_and_loads_nothing_from_elsewhere() {
        let attrs = attributes(INDEX_HTML);
        assert!(attrs.iter().any(|(tag, a, v)| tag == "script" && a == "src" && v == "app.js"));
        for (tag, attr, value) in &attrs {
            assert!(!attr.starts_with("on"), "<{tag} {attr}=…>: an inline event handler");
            assert_ne!(attr, "style", "<{tag} style=…>: an inline style");
            if attr == "src" || attr == "href" {
                let local = !value.contains(':') && !value.starts_with("//");
                assert!(local || value == "data:,", "<{tag} {attr}={value:?}>: not this origin");
            }
        }
        // Every script element is `<script src=…></script>`, with no body.
        for script in INDEX_HTML.split("<script").skip(1) {
            let body = script.split_once('>').map(|(_, rest)| rest).unwrap_or_default();
            assert!(body.starts_with("</script>"), "an inline script: {script:.60}");
        }
        assert!(!INDEX_HTML.contains("<style"), "an inline style sheet");
        assert!(!STYLE_CSS.contains("@import") && !STYLE_CSS.contains("url("), "the style sheet loads something");
    }

    #[test]
    fn the_script_builds_no_html_from_strings_and_runs_no_strings_as_code() {
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "Function(",
            "srcdoc",
            "javascript:",
            "setTimeout('",
            "setTimeout(\"",
            "setTimeout(`",
            "import(",
        ] {
            assert!(!APP_JS.contains(banned), "app.js uses {banned}");
        }
    }

    /// `f('x')` calls with a literal argument, e.g. every `byId('x')` of app.js.
    fn literal_arguments<'a>(source: &'a str, call: &str) -> Vec<&'a str> {
        source
            .split(call)
            .skip(1)
            .filter_map(|rest| rest.split_once('\'').map(|(id, _)| id))
            .filter(|id| !id.contains('$'))
            .collect()
    }

    #[test]
    fn every_element_the_script_looks_up_is_on_the_page() {
        let ids = literal_arguments(APP_JS, "byId('");
        assert!(ids.len() > 50, "{ids:?}");
        for id in ids.into_iter().chain(literal_arguments(APP_JS, "cloneTemplate('")) {
            assert!(INDEX_HTML.contains(&format!("id=\"{id}\"")), "app.js looks up #{id}, which index.html lacks");
        }
    }

    #[test]
    fn every_part_the_script_looks_up_in_a_row_has_that_test_id() {
        let parts: Vec<&str> = APP_JS
            .split("part(")
            .skip(1)
            .filter_map(|rest| rest.split_once(')').map(|(args, _)| args))
            .filter_map(|args| args.split_once(", '").and_then(|(_, id)| id.strip_suffix('\'')))
            .collect();
        assert!(parts.len() > 20, "{parts:?}");
        for id in parts {
            let made = INDEX_HTML.contains(&format!("data-testid=\"{id}\""))
                || APP_JS.contains(&format!("'data-testid': '{id}'"));
            assert!(made, "app.js looks up [data-testid={id}], which nothing has");
        }
    }

    #[test]
    fn every_test_id_is_documented_at_the_top_of_the_script() {
        let header = APP_JS.split("'use strict'").next().unwrap_or_default();
        let in_html = attributes(INDEX_HTML).into_iter().filter(|(_, a, _)| a == "data-testid").map(|(_, _, v)| v);
        let in_js = literal_arguments(APP_JS, "'data-testid': '").into_iter().map(str::to_string);
        for id in in_html.chain(in_js) {
            let documented = header.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).any(|word| word == id);
            assert!(documented, "test id {id} is not listed in app.js's header comment");
        }
    }
}
