//! The access model through the API: operator keys manage tenant keys; a tenant key and a
//! console session reach their own tenant only; console links open once; changes from the
//! console need its CSRF token; revoking a key ends its sessions.

use hookline_shared::domain::access::{self, ConsoleLink, ConsoleSession};
use hookline_shared::domain::timestamp;
use hookline_shared::ports::store::{ApiKeyStore, ConsoleStore};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply};

/// A call as a given caller: a bearer key, or a console cookie with (or without) a CSRF token.
enum As<'a> {
    Key(&'a str),
    Console { cookie: &'a str, csrf: Option<&'a str> },
}

async fn call_as(h: &Harness, who: &As<'_>, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut headers: Vec<(&str, String)> = vec![("content-type", "application/json".into())];
    match who {
        As::Key(key) => headers.push(("authorization", format!("Bearer {key}"))),
        As::Console { cookie, csrf } => {
            headers.push(("cookie", format!("hookline_session={cookie}")));
            if let Some(csrf) = csrf {
                headers.push(("x-csrf-token", csrf.to_string()));
            }
        }
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    h.raw(method, path, &headers, body).await
}

async fn tenant_key(h: &Harness, tenant: &str) -> (String, String) {
    let created = h.post("/v1/api-keys", json!({"name": format!("{tenant} backend"), "tenant_id": tenant})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    (created.body["key"].as_str().expect("key").to_string(), created.body["id"].as_str().expect("id").to_string())
}

/// Opens a console link without following its redirect: the session cookie, if one was set.
pub async fn open(url: &str) -> (StatusCode, Option<String>, Option<String>) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let res = client.get(url).send().await.expect("open");
    let location = res.headers().get("location").map(|v| v.to_str().expect("location").to_string());
    let cookie = res.headers().get("set-cookie").map(|v| v.to_str().expect("cookie").to_string());
    (res.status(), location, cookie)
}

async fn console_session(h: &Harness, who: &As<'_>, tenant: &str) -> (String, String) {
    let link = call_as(h, who, "POST", &format!("/v1/tenants/{tenant}/console-sessions"), None).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let (_, _, set_cookie) = open(link.body["url"].as_str().expect("url")).await;
    let set_cookie = set_cookie.expect("a session cookie");
    let token = set_cookie.split(';').next().and_then(|c| c.strip_prefix("hookline_session=")).expect("token");
    let info = call_as(h, &As::Console { cookie: token, csrf: None }, "GET", "/v1/console/session", None).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    (token.to_string(), info.body["csrf_token"].as_str().expect("csrf").to_string())
}

#[tokio::test]
async fn operator_keys_create_list_and_revoke_tenant_keys() {
    let h = Harness::start().await;
    // GIVEN a tenant key made by the operator
    let (key, id) = tenant_key(&h, "acme").await;
    assert!(key.starts_with("hk_"));
    // THEN the listing names it with a hint, never the key
    let list = h.get("/v1/api-keys").await;
    assert_eq!(list.status, StatusCode::OK);
    let listed = list.body["data"].as_array().expect("keys").iter().find(|k| k["id"] == id.as_str()).expect("listed");
    assert_eq!(listed["tenant_id"], "acme");
    assert!(key.ends_with(listed["hint"].as_str().expect("hint").trim_start_matches('…')));
    assert!(!list.body.to_string().contains(&key));
    // AND the key works for its tenant
    let own = call_as(&h, &As::Key(&key), "GET", "/v1/topics", None).await;
    assert_eq!(own.status, StatusCode::OK);

    // Bad input changes nothing.
    let before = list.body["data"].as_array().expect("keys").len();
    for (body, code) in [
        (json!({"name": ""}), "invalid_name"),
        (json!({"name": "x", "tenant_id": "bad tenant"}), "invalid_tenant_id"),
        (json!({"name": "x", "admin": true}), "invalid_request"),
        (json!(["x"]), "invalid_request"),
    ] {
        let reply = h.post("/v1/api-keys", body.clone()).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, code), "{body}");
    }
    assert_eq!(h.get("/v1/api-keys").await.body["data"].as_array().expect("keys").len(), before);

    // WHEN it is revoked THEN the next request is refused, and revoking again is a 404
    let revoked = h.call("DELETE", &format!("/v1/api-keys/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = call_as(&h, &As::Key(&key), "GET", "/v1/topics", None).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let again = h.call("DELETE", &format!("/v1/api-keys/{id}"), None).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "api_key_not_found"));
    let unknown = h.call("DELETE", "/v1/api-keys/not-an-id", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// Every tenant route, for `tenant`'s webhook and delivery.
fn tenant_routes(tenant: &str, webhook: &str, delivery: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let t = format!("/v1/tenants/{tenant}");
    vec![
        ("GET", format!("{t}/webhooks"), None),
        ("POST", format!("{t}/webhooks"), Some(json!({"name": "x", "url": "https://x.example.com/", "topics": ["a"]}))),
        ("GET", format!("{t}/webhooks/{webhook}"), None),
        ("PATCH", format!("{t}/webhooks/{webhook}"), Some(json!({"enabled": false}))),
        ("POST", format!("{t}/webhooks/{webhook}/test"), Some(json!({}))),
        ("GET", format!("{t}/webhooks/{webhook}/deliveries"), None),
        ("POST", format!("{t}/webhooks/{webhook}/recover?since=2026-01-01T00:00:00Z"), None),
        ("GET", format!("{t}/deliveries/{delivery}"), None),
        ("POST", format!("{t}/deliveries/{delivery}/retry"), None),
        ("POST", format!("{t}/events"), Some(json!({"topic": "order_create", "data": {}}))),
        ("POST", format!("{t}/console-sessions"), None),
        ("DELETE", format!("{t}/webhooks/{webhook}"), None),
    ]
}

#[tokio::test]
async fn tenant_keys_and_console_sessions_reach_only_their_tenant() {
    let h = Harness::start().await;
    // GIVEN tenant "other" with a webhook and a delivery, and a key and a console of "acme"
    h.create_webhook("acme", "mine", &["order_create"]).await;
    let theirs = h.create_webhook("other", "theirs", &["order_create"]).await;
    let webhook = theirs["id"].as_str().expect("id").to_string();
    let event = h.post("/v1/tenants/other/events", json!({"topic": "order_create", "data": {"n": 1}})).await;
    let delivery = event.body["deliveries"][0]["id"].as_str().expect("delivery").to_string();
    let (key, _) = tenant_key(&h, "acme").await;
    let (cookie, csrf) = console_session(&h, &As::Key(&key), "acme").await;
    let callers = [As::Key(&key), As::Console { cookie: &cookie, csrf: Some(&csrf) }];
    let items_before = h.item_count().await;

    for who in &callers {
        // WHEN they call any route of "other" THEN it does not exist for them
        for (method, path, body) in tenant_routes("other", &webhook, &delivery) {
            let reply = call_as(&h, who, method, &path, body).await;
            assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "tenant_not_found"), "{method} {path}");
        }
        // AND the key routes are the operator's
        for (method, path, body) in [
            ("GET", "/v1/api-keys".to_string(), None),
            ("POST", "/v1/api-keys".to_string(), Some(json!({"name": "mine"}))),
            ("DELETE", "/v1/api-keys/key_01a2".to_string(), None),
        ] {
            let reply = call_as(&h, who, method, &path, body).await;
            assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}");
        }
        // AND their own tenant works
        let own = call_as(&h, who, "GET", "/v1/tenants/acme/webhooks", None).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);
        assert_eq!(own.body["data"].as_array().expect("webhooks").len(), 1);
    }
    // Nothing of "other" changed.
    assert_eq!(h.item_count().await, items_before);
    let still = h.get(&format!("/v1/tenants/other/webhooks/{webhook}")).await;
    assert_eq!(still.body["enabled"], true);
    // A console does not open more consoles, even of its own tenant.
    let nested = call_as(&h, &callers[1], "POST", "/v1/tenants/acme/console-sessions", None).await;
    assert_eq!(nested.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_console_link_opens_once_and_its_session_needs_the_csrf_token_to_change_anything() {
    let h = Harness::start().await;
    // GIVEN a console link for a tenant with no webhook yet
    let link = h.post("/v1/tenants/newshop/console-sessions", json!(null)).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let url = link.body["url"].as_str().expect("url").to_string();
    assert!(url.starts_with(&format!("{}/console/open?token=hcl_", h.base)), "{url}");
    assert!(timestamp::parse(link.body["expires_at"].as_str().expect("expires")).is_some());

    // WHEN it is opened THEN it lands on the console with a strict session cookie
    let (status, location, set_cookie) = open(&url).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/console/"));
    let set_cookie = set_cookie.expect("cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http here: {set_cookie}");
    let token = set_cookie.split(';').next().and_then(|c| c.strip_prefix("hookline_session=")).expect("token");
    // AND the same link opened again gives nothing
    let (again, again_location, again_cookie) = open(&url).await;
    assert_eq!((again, again_location.as_deref(), again_cookie), (StatusCode::SEE_OTHER, Some("/console/"), None));

    // The session tells the console its tenant, CSRF token and branding.
    let info = call_as(&h, &As::Console { cookie: token, csrf: None }, "GET", "/v1/console/session", None).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body["tenant_id"], "newshop");
    assert_eq!(info.body["product_name"], "Hookline");
    assert_eq!(info.body["header_prefix"], "x-hookline");
    let csrf = info.body["csrf_token"].as_str().expect("csrf").to_string();
    // The tenant exists from the link on: its console starts empty, not unknown.
    let empty =
        call_as(&h, &As::Console { cookie: token, csrf: None }, "GET", "/v1/tenants/newshop/webhooks", None).await;
    assert_eq!((empty.status, empty.body["data"].clone()), (StatusCode::OK, json!([])));

    // A change without the CSRF token, or with another, is refused and changes nothing.
    let body = json!({"name": "n", "url": "https://n.example.com/", "topics": ["order_create"]});
    for csrf in [None, Some("not-the-token")] {
        let who = As::Console { cookie: token, csrf };
        let reply = call_as(&h, &who, "POST", "/v1/tenants/newshop/webhooks", Some(body.clone())).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "csrf_token_invalid"));
    }
    assert_eq!(h.get("/v1/tenants/newshop/webhooks").await.body["data"], json!([]));
    let who = As::Console { cookie: token, csrf: Some(&csrf) };
    let created = call_as(&h, &who, "POST", "/v1/tenants/newshop/webhooks", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    // Signing out ends the session.
    let out = call_as(&h, &who, "POST", "/v1/console/logout", None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = call_as(&h, &who, "GET", "/v1/console/session", None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    // A key is no console session.
    assert_eq!(h.get("/v1/console/session").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn expired_links_and_sessions_and_those_of_a_revoked_key_get_nothing() {
    let h = Harness::start().await;
    let store = h.store();
    let (key, key_id) = tenant_key(&h, "acme").await;
    let key_hash = hookline_shared::domain::api_key::hash(&key);
    assert!(store.get_api_key(&key_hash).await.expect("read").is_some());
    let past = timestamp::now().unix_timestamp() - 1;

    // GIVEN a link and a session that expired a second ago (TTL deletes late: not yet gone)
    let link_token = access::new_token(access::LINK_TOKEN_PREFIX);
    let link = ConsoleLink {
        token_hash: access::token_hash(&link_token),
        tenant_id: "acme".into(),
        key_hash: key_hash.clone(),
        expires_at: past,
    };
    store.put_console_link(&link).await.expect("link");
    let (status, _, cookie) = open(&format!("{}/console/open?token={link_token}", h.base)).await;
    assert_eq!((status, cookie), (StatusCode::SEE_OTHER, None));
    let session_token = access::new_token(access::SESSION_TOKEN_PREFIX);
    let session = ConsoleSession {
        token_hash: access::token_hash(&session_token),
        tenant_id: "acme".into(),
        key_hash: key_hash.clone(),
        csrf_token: "c".into(),
        expires_at: past,
    };
    store.put_console_session(&session).await.expect("session");
    let expired =
        call_as(&h, &As::Console { cookie: &session_token, csrf: None }, "GET", "/v1/console/session", None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    // Garbage cookies and links get the same.
    let garbage = call_as(&h, &As::Console { cookie: "hcs_nope", csrf: None }, "GET", "/v1/topics", None).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    let (_, _, none) = open(&format!("{}/console/open?token=%00%FF", h.base)).await;
    assert_eq!(none, None);

    // GIVEN a live session and an unopened link of the tenant key
    let (cookie, _) = console_session(&h, &As::Key(&key), "acme").await;
    let pending = call_as(&h, &As::Key(&key), "POST", "/v1/tenants/acme/console-sessions", None).await;
    let pending_url = pending.body["url"].as_str().expect("url").to_string();
    // WHEN the key is revoked THEN its session and its link get nothing from the next request on
    assert_eq!(h.call("DELETE", &format!("/v1/api-keys/{key_id}"), None).await.status, StatusCode::NO_CONTENT);
    let after =
        call_as(&h, &As::Console { cookie: &cookie, csrf: None }, "GET", "/v1/tenants/acme/webhooks", None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let (_, _, late) = open(&pending_url).await;
    assert_eq!(late, None);
}
