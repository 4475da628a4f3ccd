//! What SES tells about sent mail (through the configuration set's SNS destination): hard
//! bounces and complaints, read from the notification's JSON. Transient bounces (a full
//! mailbox) change nothing: SES itself retries those.

use serde_json::Value;

/// The SES message tag that names the tenant a mail was sent for (hex, since tag values
/// allow only letters, digits, `_` and `-`).
pub const TENANT_TAG: &str = "hookline-tenant";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    /// A permanent bounce: the address is `bounced`.
    Bounce,
    /// The recipient marked the mail as spam: the address is `unsubscribed`.
    Complaint,
}

/// One notification's verdict on its recipients.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub kind: FeedbackKind,
    pub tenant_id: String,
    pub emails: Vec<String>,
}

/// The tag value for a tenant id.
pub fn tenant_tag(tenant_id: &str) -> String {
    hex::encode(tenant_id.as_bytes())
}

/// A notification's feedback; `Ok(None)` for one that changes nothing (a delivery, a
/// transient bounce, a mail Hookline did not tag); `Err` for one that is not SES's JSON.
pub fn parse_notification(message: &str) -> Result<Option<Feedback>, String> {
    let v: Value = serde_json::from_str(message).map_err(|e| format!("not JSON: {e}"))?;
    // Configuration-set events say `eventType`; identity notifications `notificationType`.
    let kind = v.get("eventType").or_else(|| v.get("notificationType")).and_then(Value::as_str);
    let (kind, list, field) = match kind {
        Some("Bounce") => {
            if v["bounce"]["bounceType"].as_str() != Some("Permanent") {
                return Ok(None);
            }
            (FeedbackKind::Bounce, &v["bounce"]["bouncedRecipients"], "emailAddress")
        }
        Some("Complaint") => (FeedbackKind::Complaint, &v["complaint"]["complainedRecipients"], "emailAddress"),
        Some(_) => return Ok(None),
        None => return Err("no eventType or notificationType".into()),
    };
    let Some(tenant_id) = v["mail"]["tags"][TENANT_TAG][0]
        .as_str()
        .and_then(|t| hex::decode(t).ok())
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return Ok(None);
    };
    let emails: Vec<String> =
        list.as_array().into_iter().flatten().filter_map(|r| r[field].as_str()).map(bare_address).collect();
    Ok((!emails.is_empty()).then_some(Feedback { kind, tenant_id, emails }))
}

/// `Name <a@b.example>` → `a@b.example`, lower-cased as addresses are stored.
fn bare_address(raw: &str) -> String {
    let inner = match (raw.rfind('<'), raw.rfind('>')) {
        (Some(open), Some(close)) if open < close => &raw[open + 1..close],
        _ => raw,
    };
    inner.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: &str, body: Value) -> String {
        let mut v = json!({"eventType": kind, "mail": {"tags": {TENANT_TAG: [tenant_tag("acme")]}}});
        v[kind.to_ascii_lowercase()] = body;
        v.to_string()
    }

    #[test]
    fn hard_bounces_and_complaints_name_the_tenant_and_addresses() {
        let bounce = event(
            "Bounce",
            json!({"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "Ops <OPS@Example.com>"}]}),
        );
        assert_eq!(
            parse_notification(&bounce),
            Ok(Some(Feedback {
                kind: FeedbackKind::Bounce,
                tenant_id: "acme".into(),
                emails: vec!["ops@example.com".into()]
            }))
        );
        let complaint = event("Complaint", json!({"complainedRecipients": [{"emailAddress": "a@b.example"}]}));
        assert_eq!(parse_notification(&complaint).expect("ok").expect("some").kind, FeedbackKind::Complaint);
    }

    #[test]
    fn transient_bounces_deliveries_and_untagged_mail_change_nothing() {
        let soft =
            event("Bounce", json!({"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "a@b.c"}]}));
        assert_eq!(parse_notification(&soft), Ok(None));
        assert_eq!(parse_notification(&json!({"eventType": "Delivery"}).to_string()), Ok(None));
        let untagged = json!({"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "a@b.c"}]}});
        assert_eq!(parse_notification(&untagged.to_string()), Ok(None));
        assert!(parse_notification("not json").is_err());
        assert!(parse_notification("{}").is_err());
    }
}
