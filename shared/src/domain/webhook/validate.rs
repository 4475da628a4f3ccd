//! The rules a webhook's settings must keep, one function per setting.

use std::collections::BTreeMap;

use crate::domain::endpoint_auth::{self, EndpointAuth};
use crate::domain::error::DomainError;
use crate::domain::integration::Integration;
use crate::domain::limits::{
    MAX_ALERT_EMAILS, MAX_ALERT_INTERVAL_MINUTES, MAX_DESCRIPTION_LEN, MAX_DISABLE_AFTER_FAILURES, MAX_EMAIL_LEN,
    MAX_EVENT_PREFIX_LEN, MAX_FIELDS, MAX_PER_SECOND, MAX_TOPIC_LEN, MAX_TOPICS_PER_WEBHOOK,
};
use crate::domain::secret::Secret;
use crate::domain::settings::Settings;
use crate::domain::{field_path, ids, net_policy, topic};

pub(super) fn validate_description(description: &str) -> Result<String, DomainError> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(DomainError::invalid(
            "invalid_description",
            format!("description must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    Ok(description.to_string())
}

/// Checks each topic (against the deployment's catalog, if it has one) and drops repeats,
/// keeping the caller's order.
pub(super) fn validate_topics(topics: &[String], settings: &Settings) -> Result<Vec<String>, DomainError> {
    if topics.is_empty() {
        return Err(DomainError::invalid("invalid_topics", "topics must name at least one topic"));
    }
    if topics.len() > MAX_TOPICS_PER_WEBHOOK {
        return Err(DomainError::invalid(
            "invalid_topics",
            format!("a webhook may subscribe to at most {MAX_TOPICS_PER_WEBHOOK} topics"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(topics.len());
    for t in topics {
        topic::validate_topic(t)?;
        if let Some(catalog) = &settings.catalog
            && catalog.get(t).is_none()
        {
            return Err(DomainError::invalid(
                "unknown_topic",
                format!("topic {t:?} is not in this deployment's catalog (GET /v1/topics)"),
            ));
        }
        if !unique.contains(t) {
            unique.push(t.clone());
        }
    }
    Ok(unique)
}

/// `validate_email`'s rule as the OpenAPI document states it (with `maxLength` `MAX_EMAIL_LEN`): a local
/// part of 1 to 64 printable ASCII characters but `@ < > , ;`, then host-name labels.
pub const EMAIL_PATTERN: &str = "^[!-+\\--:=?A-~]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

/// A deliberately plain address check (one `@`, a dotted domain, no spaces, ≤ 254 characters),
/// plus what SES cannot send to: SES has no SMTPUTF8 (RFC 6531), so the address must be ASCII
/// (a non-ASCII domain is written in its punycode `xn--` form), and the domain must be a host
/// name. SES is the real judge; this catches what would only fail when an alert is due.
pub(super) fn validate_email(email: &str) -> Result<String, DomainError> {
    let refuse = |why: &str| DomainError::invalid("invalid_alert_emails", format!("{email:?} {why}"));
    let Some((local, domain)) = email.split_once('@') else {
        return Err(refuse("is not an e-mail address"));
    };
    if !local.is_ascii() {
        return Err(refuse("has non-ASCII characters before the @, which Amazon SES cannot send to"));
    }
    if !domain.is_ascii() {
        return Err(refuse("has a non-ASCII domain: write it in its punycode (xn--) form"));
    }
    let ok = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && (1..=MAX_EMAIL_LOCAL_LEN).contains(&local.len())
        && domain.contains('.')
        && domain.split('.').all(is_host_label);
    if ok { Ok(email.to_string()) } else { Err(refuse("is not an e-mail address")) }
}

/// The longest local part (before the `@`) SMTP carries (RFC 5321 §4.5.3.1.1).
const MAX_EMAIL_LOCAL_LEN: usize = 64;

/// A DNS host-name label (RFC 1123 §2.1): 1 to 63 letters, digits and inner hyphens.
fn is_host_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

pub(super) fn validate_alert_emails(emails: &[String]) -> Result<Vec<String>, DomainError> {
    if emails.len() > MAX_ALERT_EMAILS {
        return Err(DomainError::invalid(
            "invalid_alert_emails",
            format!("at most {MAX_ALERT_EMAILS} alert recipients"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(emails.len());
    for e in emails {
        let e = validate_email(e)?;
        if !unique.iter().any(|u| u.eq_ignore_ascii_case(&e)) {
            unique.push(e);
        }
    }
    Ok(unique)
}

pub(super) fn validate_alert_interval(minutes: u32) -> Result<u32, DomainError> {
    if (1..=MAX_ALERT_INTERVAL_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(DomainError::invalid(
            "invalid_alert_interval",
            format!("alert_interval_minutes must be 1 to {MAX_ALERT_INTERVAL_MINUTES}"),
        ))
    }
}

pub(super) fn validate_max_per_second(n: u32) -> Result<u32, DomainError> {
    if (1..=MAX_PER_SECOND).contains(&n) {
        Ok(n)
    } else {
        Err(DomainError::invalid("invalid_max_per_second", format!("max_per_second must be 1 to {MAX_PER_SECOND}")))
    }
}

pub(super) fn validate_disable_after(failures: u32) -> Result<u32, DomainError> {
    if failures <= MAX_DISABLE_AFTER_FAILURES {
        Ok(failures)
    } else {
        Err(DomainError::invalid(
            "invalid_disable_after_failures",
            format!("disable_after_failures must be 0 (never) to {MAX_DISABLE_AFTER_FAILURES}"),
        ))
    }
}

pub(super) fn validate_form_key(key: &str) -> Result<String, DomainError> {
    topic::validate_topic(key).map(|()| key.to_string()).map_err(|_| {
        DomainError::invalid(
            "invalid_form_key",
            format!("form_key must be 1 to {MAX_TOPIC_LEN} of A-Z a-z 0-9 _ - . :"),
        )
    })
}

pub(super) fn validate_event_prefix(prefix: &str) -> Result<String, DomainError> {
    let ok = (1..=MAX_EVENT_PREFIX_LEN).contains(&prefix.len()) && prefix.chars().all(ids::is_id_char);
    if ok {
        Ok(prefix.to_string())
    } else {
        Err(DomainError::invalid(
            "invalid_event_prefix",
            format!("event_prefix must be 1 to {MAX_EVENT_PREFIX_LEN} of A-Z a-z 0-9 _ - . :"),
        ))
    }
}

pub(super) fn validate_fields(fields: &[String]) -> Result<Vec<String>, DomainError> {
    let ok = !fields.is_empty() && fields.len() <= MAX_FIELDS && fields.iter().all(|f| field_path::is_field_path(f));
    if ok {
        Ok(fields.to_vec())
    } else {
        Err(DomainError::invalid(
            "invalid_fields",
            format!("fields must be 1 to {MAX_FIELDS} dotted paths of non-empty names"),
        ))
    }
}

pub(super) fn own_prefix(settings: &Settings) -> String {
    format!("{}-", settings.header_prefix)
}

pub(super) fn check_auth(auth: EndpointAuth, settings: &Settings) -> Result<EndpointAuth, DomainError> {
    endpoint_auth::validate_auth(&auth, &[&own_prefix(settings)]).map(|()| auth)
}

/// Custom headers with the auth they go with (`None`: no auth, or one judged later with them).
pub(super) fn check_headers(
    headers: BTreeMap<String, Secret>,
    auth: Option<&EndpointAuth>,
    settings: &Settings,
) -> Result<BTreeMap<String, Secret>, DomainError> {
    endpoint_auth::validate_headers(&headers, auth, &[&own_prefix(settings)]).map(|()| headers)
}

pub(super) fn validate_url(url: &str, settings: &Settings) -> Result<String, DomainError> {
    net_policy::validate_webhook_url(url, settings.allow_private_targets).map(|u| u.to_string())
}

pub(super) fn url_with_integration() -> DomainError {
    DomainError::invalid(
        "invalid_request",
        "url is not given with an integration: its settings say where the requests go",
    )
}

/// A tool's preset authenticates with its own settings: the endpoint auth and custom headers
/// go only with a `template` integration (its endpoint is the tenant's own) or none.
pub(super) fn check_integration_options(
    integration: Option<&Integration>,
    auth: Option<&EndpointAuth>,
    headers: &BTreeMap<String, Secret>,
) -> Result<(), DomainError> {
    match integration {
        Some(i) if !matches!(i, Integration::Template { .. }) && (auth.is_some() || !headers.is_empty()) => {
            Err(DomainError::invalid(
                "invalid_integration",
                format!(
                    "auth and custom headers do not go with a {} integration: it authenticates with its own settings",
                    i.kind()
                ),
            ))
        }
        _ => Ok(()),
    }
}
